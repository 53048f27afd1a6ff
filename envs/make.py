"""Building a task's environment: raw env -> (optional expert) -> canonical observations.

Every task is registered with Gymnasium as `gatosuite/<task>-v0` on `import gatosuite.envs`.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any

import gymnasium as gym
import numpy as np

from gatosuite.errors import ConfigError

from .canonical import CanonicalObservation
from .expert_wrapper import ExpertActionWrapper
from .hidden import HideParameter, SetVariant
from .perturb import PerturbedStart, check_perturbable
from .physics import mujoco_model
from .registry import TaskSpec
from .suite import SUITE

PIXEL_SIZE = 64

# Classic-control envs render through pygame's SDL. Frames are drawn off screen, and without a display
# SDL's default video driver prints "error: XDG_RUNTIME_DIR is invalid" to stderr at the first render.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


class QuietReset(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """minigrid's BabyAI level generator prints 'Sampling rejected' to stdout; keep it quiet."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)

    def reset(self, **kwargs: Any):
        with contextlib.redirect_stdout(io.StringIO()):
            return self.env.reset(**kwargs)


class IdempotentClose(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """shimmy's dm_control envs raise when closed twice; vector envs and env checkers do close twice."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.env.close()


class SeededTaskSelection(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Meta-World ignores reset's seed (it wants `env.seed(s)`) and picks the goal (its 'task') from a
    generator seeded at make time. Here reset(seed=s) seeds both, from `s`, and unseeded resets continue
    that generator, so a seed fixes the episode and the resets after it, as Gymnasium's contract says."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        node = env
        while not hasattr(node, "tasks"):
            node = node.env
        self._selector = node
        node.toggle_sample_tasks_on_reset(False)
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self.env.unwrapped.seed(seed)
        tasks = self._selector.tasks
        self.env.unwrapped.set_task(tasks[int(self._rng.integers(len(tasks)))])
        return self.env.reset(seed=seed, options=options)


class MetaWorldView(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Videos from Meta-World's 'corner' camera, which frames the table, the hand, the object and the goal
    marker; its default camera is so far off that at video size the 2 cm goal marker is not seen. The
    corner camera renders upside down, so frames are turned half a circle."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        u = env.unwrapped
        u.mujoco_renderer.camera_id = u.model.camera("corner").id

    def render(self) -> Any:
        frame = self.env.render()
        return None if frame is None else np.ascontiguousarray(frame[::-1, ::-1])


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


VIDEO_SIZE = 160
"""Width and height of rendered video frames (classic-control and BabyAI render at their own size)."""


def _render_kwargs(task: TaskSpec) -> dict[str, Any]:
    """gym.make arguments that make env.render() return an RGB frame, per backend."""
    if task.domain == "dmc":
        return {"render_mode": "rgb_array",
                "render_kwargs": {"width": VIDEO_SIZE, "height": VIDEO_SIZE, "camera_id": 0}}
    if task.domain in ("mujoco", "metaworld"):
        return {"render_mode": "rgb_array", "width": VIDEO_SIZE, "height": VIDEO_SIZE}
    return {"render_mode": "rgb_array"}  # classic control (pygame), BabyAI, and pixel tasks


def make_raw_env(task: TaskSpec | str, render: bool = False, perturb_start: bool = False) -> gym.Env:
    """The task's underlying env, as its experts see it; `render` makes env.render() return frames;
    `perturb_start` starts episodes from the task's spread of states (collection only, envs/perturb.py)."""
    if isinstance(task, str):
        task = SUITE[task]
    if not task.is_env:
        raise ConfigError(f"task '{task.id}' is a {task.domain} dataset, not an environment")
    _register_backends(task)
    kwargs = dict(task.kwargs)
    if render and task.obs_mode != "pixels":
        kwargs.update(_render_kwargs(task))
    if task.obs_mode == "pixels":
        kwargs.update(render_mode="rgb_array",
                      render_kwargs={"width": PIXEL_SIZE, "height": PIXEL_SIZE, "camera_id": 0})
    if task.domain == "metaworld":
        kwargs.setdefault("seed", 0)
        # Meta-World declares its goal coordinates as Box bounds [0, 0] and then returns real goals, so
        # Gymnasium's passive checker on the raw env warns every reset. The canonical wrapper checks
        # what matters (finite values, canonical space) instead.
        kwargs["disable_env_checker"] = True
    if task.max_episode_steps is not None:
        kwargs["max_episode_steps"] = task.max_episode_steps
    if perturb_start:
        check_perturbable([task])
    env = gym.make(task.gym_id, **kwargs)
    if perturb_start:
        env = PerturbedStart(env, task.start_spread)
    if task.obs_mode == "pixels" or (render and task.domain in ("dmc", "mujoco", "metaworld")):
        # shadows and reflections off: 200-400 fps at 64x64 instead of ~60 for dm_control cartpole, measured
        # on a 2-core CPU with Mesa llvmpipe EGL
        model = mujoco_model(env)
        model.light_castshadow[:] = 0
        model.mat_reflectance[:] = 0
    if render and task.domain == "metaworld":
        env = MetaWorldView(env)
    if task.domain in ("dmc", "dmc-pixels"):
        env = IdempotentClose(env)
    if task.domain == "babyai":
        env = QuietReset(env)
    if task.goal_family is not None:
        env = SetVariant(env, task.goal_family, task.heldout)
    elif task.domain == "metaworld":
        env = SeededTaskSelection(env)
    return env


def make_task_env(task_id: str, expert: bool = False, render: bool = False, perturb_start: bool = False) -> gym.Env:
    """The env users and the agent see: canonical observations, optionally with the expert's action
    in info['expert_action'], optionally rendering RGB frames (for videos), and optionally starting from
    perturbed states (for collection)."""
    task = SUITE[task_id]
    env = make_raw_env(task, render=render, perturb_start=perturb_start)
    if expert:
        if task.expert is None:
            raise ConfigError(f"task '{task_id}' has no expert")
        env = ExpertActionWrapper(env, task.expert)
    env = CanonicalObservation(env, task.obs_mode, task.id)
    if task.goal_family is not None and not task.shows_parameter:
        env = HideParameter(env, task.goal_family)
    return env


def register_all() -> None:
    """Register every environment task as gatosuite/<id>-v0 (idempotent)."""
    for task in SUITE:
        if task.is_env and task.gymnasium_id not in gym.registry:
            gym.register(task.gymnasium_id, entry_point="gatosuite.envs.make:make_task_env",
                         kwargs={"task_id": task.id}, disable_env_checker=True)
