"""Runs a task's expert inside the env's own process and reports its action in `info`.

With vector envs each worker computes its own expert action, so experts that need the live env (the
BabyAI bot reads the grid; scripted controllers read physics) work unchanged, and in parallel.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from .experts import make_expert

EXPERT_ACTION = "expert_action"


class ExpertActionWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds `info['expert_action']`: the expert's action for the observation just returned."""

    def __init__(self, env: gym.Env, expert: str) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, expert=expert)
        super().__init__(env)
        self.expert = make_expert(expert, env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.expert.reset(self.env, obs, info)
        info[EXPERT_ACTION] = self.expert.act(self.env, obs)
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not (terminated or truncated):
            info[EXPERT_ACTION] = self.expert.act(self.env, obs)
        return obs, reward, terminated, truncated, info


def merge_expert_actions(step_actions: Any, reset_actions: Any, done: np.ndarray) -> Any:
    """A vector env's next expert actions after some slots were reset: those slots act from their reset
    info, the others from their step info (dict actions merged key by key)."""
    if done.all():
        return reset_actions
    if isinstance(step_actions, dict):
        return {k: merge_expert_actions(step_actions[k], reset_actions[k], done) for k in step_actions}
    mask = done.reshape(-1, *[1] * (np.ndim(step_actions) - 1))
    return np.where(mask, reset_actions, step_actions)
