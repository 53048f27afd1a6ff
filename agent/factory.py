"""make_policy: the one way evaluation, few-shot, rollouts and the CLI turn a checkpoint into a policy.

The checkpoint's `architecture` names its family (agent/families.py). A decoder-only family acts through
the batched KV-cache `DecoderPolicy` (agent/policy.py); a family with its own way of acting (an
encoder-decoder: agent/policy_seq2seq.py) registered its policy class, which is built with the same
arguments; a family that cannot act is refused here, before any env is made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatosuite.errors import ConfigError

from .checkpoint import read_config
from .families import get_family


def make_policy(checkpoint: str | Path, task_id: str, **kwargs: Any) -> Any:
    """A policy acting in `task_id` with the checkpoint's model; `kwargs` as DecoderPolicy takes them (greedy,
    temperature, seed, prompt, prompt_of_seed, device, precision, obs_stats)."""
    family = get_family(read_config(Path(checkpoint)).get("architecture", "gato"))
    if not family.can_act:
        raise ConfigError(f"'{checkpoint}' holds a '{family.name}' model ({family.modules}), which cannot act; "
                          "evaluate it with `gatosuite compare`'s NLL columns, or train a family that acts")
    if family.policy is not None:
        return family.policy(checkpoint, task_id, **kwargs)
    from .policy import DecoderPolicy

    return DecoderPolicy(checkpoint, task_id, **kwargs)


def policy_from_model(model: Any, text_model: Any, task_id: str, rt: Any, **kwargs: Any) -> Any:
    """A policy around a model in memory (one being trained), of any family that acts; `kwargs` as
    DecoderPolicy.from_model takes them (greedy, meta)."""
    from .families import family_of_config

    family = family_of_config(model.cfg)
    if not family.can_act:
        raise ConfigError(f"a '{family.name}' model ({family.modules}) cannot act")
    if family.policy is not None:
        return family.policy.from_model(model, text_model, task_id, rt, **kwargs)
    from .policy import DecoderPolicy

    return DecoderPolicy.from_model(model, text_model, task_id, rt, **kwargs)
