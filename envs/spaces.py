"""A task's canonical observation and action spaces, without collecting anything."""

from __future__ import annotations

import functools

import gymnasium as gym

from .make import make_task_env


@functools.lru_cache(maxsize=None)
def task_spaces(task_id: str) -> tuple[gym.Space, gym.Space]:
    """Canonical observation and action spaces of a task (building its env once per process)."""
    env = make_task_env(task_id)
    env.close()
    return env.observation_space, env.action_space
