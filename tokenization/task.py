"""A task's tokenizer, built from its canonical spaces: what a policy and a token cache both use."""

from __future__ import annotations

from .obs_stats import ObsStats
from .text import TextModel
from .tokenizer import Tokenizer


def task_tokenizer(task_id: str, text_model: TextModel | None, obs_stats: ObsStats | None = None) -> Tokenizer:
    """The tokenizer of a task, from its canonical spaces (with optional observation statistics)."""
    from gatosuite.envs import SUITE
    from gatosuite.envs.spaces import task_spaces

    obs_space, act_space = task_spaces(task_id)
    return Tokenizer.from_spaces(obs_space, act_space, text_model=text_model,
                                 max_text_tokens=SUITE[task_id].max_text_tokens, obs_stats=obs_stats)
