"""Fixtures the trainer's tests share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

from gatosuite.datasets.cache import write_cache
from gatosuite.tokenization import Tokenizer, Vocabulary


@pytest.fixture(scope="session")
def make_toy_caches(text_model) -> Callable[[Path], dict]:
    """A function writing a token cache of 6 random 30-step episodes in cartpole's shapes into a folder:
    enough to train, checkpoint and resume on in a second, with no simulator."""

    def make(folder: Path) -> dict:
        tok = Tokenizer.from_spaces(spaces.Box(-np.inf, np.inf, (4,), np.float32), spaces.Discrete(2),
                                    vocab=Vocabulary(text_model.vocab_size))
        rng = np.random.default_rng(0)
        seqs = [tok.encode_episode(rng.normal(size=(30, 4)).astype(np.float32), rng.integers(0, 2, 30))
                for _ in range(6)]
        return {"cartpole": write_cache(folder / "c", seqs, {"task": "cartpole",
                                                              "tokens_per_timestep": tok.spec.tokens_per_timestep})}

    return make
