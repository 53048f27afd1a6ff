"""What counts as task success, in one place (collection and reference scores both ask here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def episode_success(step_successes: Sequence[Any], terminated: bool, last_reward: float) -> bool:
    """Meta-World reports `info['success']` every step, and success at any step counts. Envs without
    it (BabyAI) terminate with a positive reward exactly when the mission is done."""
    if len(step_successes):
        return any(bool(s) for s in step_successes)
    return bool(terminated and last_reward > 0)
