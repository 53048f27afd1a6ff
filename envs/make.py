"""Building a task's environment: raw env -> (optional expert) -> canonical observations.

Every task is registered with Gymnasium as `gatosuite/<task>-v0` on `import gatosuite.envs`.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import gymnasium as gym
import numpy as np

from .canonical import CanonicalObservation
from .expert_wrapper import ExpertActionWrapper
from .registry import TaskSpec
from .suite import SUITE

PIXEL_SIZE = 64


class QuietReset(gym.Wrapper):
    """minigrid's BabyAI level generator prints 'Sampling rejected' to stdout; keep it quiet."""

    def reset(self, **kwargs: Any):
        with contextlib.redirect_stdout(io.StringIO()):
            return self.env.reset(**kwargs)


class SeededTaskSelection(gym.Wrapper):
    """Meta-World picks the goal (its 'task') from a generator seeded at make time, before reset's seed
    applies, so reset(seed=s) alone does not fix the episode. Pick the goal from `s` instead."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        node = env
        while not hasattr(node, "tasks"):
            node = node.env
        self._selector = node
        node.toggle_sample_tasks_on_reset(False)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        tasks = self._selector.tasks
        rng = np.random.default_rng(seed) if seed is not None else self.np_random
        self.env.unwrapped.set_task(tasks[int(rng.integers(len(tasks)))])
        return self.env.reset(seed=seed, options=options)


def _register_backends(task: TaskSpec) -> None:
    if task.domain in ("dmc", "dmc-pixels"):
        import shimmy

        gym.register_envs(shimmy)
    elif task.domain == "metaworld":
        import metaworld

        gym.register_envs(metaworld)
    elif task.domain == "babyai":
        import minigrid

        gym.register_envs(minigrid)


def make_raw_env(task: TaskSpec | str) -> gym.Env:
    """The task's underlying env, as its experts see it."""
    if isinstance(task, str):
        task = SUITE[task]
    if not task.is_env:
        raise ValueError(f"task '{task.id}' is a {task.domain} dataset, not an environment")
    _register_backends(task)
    kwargs = dict(task.kwargs)
    if task.obs_mode == "pixels":
        kwargs.update(render_mode="rgb_array",
                      render_kwargs={"width": PIXEL_SIZE, "height": PIXEL_SIZE, "camera_id": 0})
    if task.domain == "metaworld":
        kwargs.setdefault("seed", 0)
    if task.max_episode_steps is not None:
        kwargs["max_episode_steps"] = task.max_episode_steps
    env = gym.make(task.gym_id, **kwargs)
    if task.obs_mode == "pixels":  # shadows and reflections off: 200-400 fps instead of ~60 here
        model = env.unwrapped._env.physics.model
        model.light_castshadow[:] = 0
        model.mat_reflectance[:] = 0
    if task.domain == "babyai":
        env = QuietReset(env)
    if task.domain == "metaworld":
        env = SeededTaskSelection(env)
    return env


def make_task_env(task_id: str, expert: bool = False) -> gym.Env:
    """The env users and the agent see: canonical observations, optionally with the expert's action
    in info['expert_action']."""
    task = SUITE[task_id]
    env = make_raw_env(task)
    if expert:
        if task.expert is None:
            raise ValueError(f"task '{task_id}' has no expert")
        env = ExpertActionWrapper(env, task.expert)
    return CanonicalObservation(env, task.obs_mode, task.id)


def register_all() -> None:
    """Register every environment task as gatosuite/<id>-v0 (idempotent)."""
    for task in SUITE:
        if task.is_env and task.gymnasium_id not in gym.registry:
            gym.register(task.gymnasium_id, entry_point="gatosuite.envs.make:make_task_env",
                         kwargs={"task_id": task.id}, disable_env_checker=True)
