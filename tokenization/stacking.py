"""Per-timestep values (as envs return them) -> the batched form the tokenizer takes."""

from __future__ import annotations

from typing import Any

import numpy as np


def stack_timesteps(items: list[Any]) -> Any:
    """Stack a list of per-timestep observations or actions on a new leading axis.

    Dicts are stacked key by key (recursively); strings stay a list of str (Text fields).
    """
    if not items:
        raise ValueError("stack_timesteps needs at least one timestep")
    if isinstance(items[0], dict):
        return {k: stack_timesteps([x[k] for x in items]) for k in items[0]}
    if isinstance(items[0], str):
        return list(items)
    return np.stack([np.asarray(x) for x in items])


def take_slot(batch: Any, k: int) -> Any:
    """Item k of a batched (possibly nested-dict) value, as a vector env returns them: the inverse of
    stack_timesteps for one slot."""
    if isinstance(batch, dict):
        return {key: take_slot(v, k) for key, v in batch.items()}
    return batch[k]
