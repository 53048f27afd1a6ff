"""Rolling a policy out for N seeded episodes of a task in a vector env, with an optional video.

Any policy with `reset(num_envs)`, `reset_envs(mask)` and `act(obs) -> actions` (batched) works: a
policy from `make_policy` (agent/contract.py:Policy), or `ExpertPolicy`, which plays the task's expert
and is how the evaluation path is checked end to end (an expert must score about 1.0 normalized).
Episode i is reset with `seeds[i]`, whatever slot plays it; results come back in seed order, with
return, length and success.

The envs run in this process (`SyncVectorEnv`, autoreset disabled): the model is the expensive part,
and one batched forward pass per token serves every env. Only env 0 renders, and only during the first
episode; the video is written with imageio at an explicit fps derived from the env's own time step
(shimmy's `render_fps` is wrong for dm_control).
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from tqdm.auto import tqdm

from gatosuite.envs import SUITE, make_task_env
from gatosuite.envs.expert_wrapper import EXPERT_ACTION, merge_expert_actions
from gatosuite.envs.success import episode_success
from gatosuite.errors import ConfigError

MAX_VIDEO_FRAMES = 150
"""Longer episodes are sampled every k-th step so a video stays short to render and to watch."""


class RolloutPolicy(Protocol):
    """What a rollout drives: a model's policy (agent/contract.py:Policy) or the expert's."""

    def reset(self, num_envs: int = 1) -> None: ...

    def reset_envs(self, mask: np.ndarray) -> None: ...

    def act(self, obs: Any) -> Any: ...


class ExpertPolicy:
    """The task's expert as a policy. Its env must carry the expert (`make_task_env(expert=True)`):
    the rollout passes each step's info, where the expert put its action."""

    needs_expert = True

    def reset(self, num_envs: int = 1) -> None:
        self.num_envs = num_envs

    def reset_envs(self, mask: np.ndarray) -> None:
        pass

    def act(self, obs: Any, info: dict[str, Any]) -> Any:
        return info[EXPERT_ACTION]


@dataclass
class EpisodeResult:
    seed: int
    ret: float
    length: int
    success: bool | None
    """Only for tasks whose metric is success (Meta-World, BabyAI)."""

    @property
    def score(self) -> float:
        """What the task's metric scores: success as 0/1 where defined, else the return."""
        return float(self.success) if self.success is not None else self.ret

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["return"] = d.pop("ret")
        return d


def video_fps(env: gym.Env) -> float:
    """Frames per second of real time for one env step: from the env's own time step where it has one."""
    u = env.unwrapped
    for get in (lambda: u._env.control_timestep(), lambda: u.dt, lambda: u.tau):
        try:
            dt = float(get())
            if dt > 0:
                return 1.0 / dt
        except (AttributeError, TypeError):
            continue
    return float(u.metadata.get("render_fps") or 10)


def write_video(frames: list[np.ndarray], path: Path, fps: float) -> Path:
    """MP4 (H.264) with imageio at an explicit fps; frames are padded to multiples of 16 pixels."""
    import imageio.v2 as imageio

    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    ph, pw = -h % 16, -w % 16
    with imageio.get_writer(path, fps=fps, codec="libx264", macro_block_size=16, quality=6) as writer:
        for f in frames:
            writer.append_data(np.pad(f, ((0, ph), (0, pw), (0, 0))) if ph or pw else f)
    return path


def vector_env(task_id: str, num_envs: int, expert: bool = False, render_first: bool = False) -> SyncVectorEnv:
    """The vector env a rollout plays in: `num_envs` copies of the task in this process, autoreset disabled
    (env 0 renders frames with `render_first`)."""
    fns = [functools.partial(make_task_env, task_id, expert=expert, render=render_first and k == 0)
           for k in range(num_envs)]
    return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.DISABLED)


def rollout(policy: RolloutPolicy, task_id: str, seeds: list[int], num_envs: int = 4, video: Path | None = None,
            progress: bool = True, until_success: bool = False,
            envs: SyncVectorEnv | None = None) -> list[EpisodeResult]:
    """Play one episode per seed; returns results in seed order. `video`: MP4 of the first episode.

    `until_success`: on a task scored by success, an episode ends at its first successful step. Its success
    is decided there (any step's success counts, envs/success.py), so only its return and length, which stop
    there too, differ from a full episode's. `envs`: an open vector env of the task (`vector_env`, with
    min(num_envs, len(seeds)) envs) to play in and leave open, instead of making one and closing it; every
    episode starts from a seeded reset, so what it played before does not matter (tested)."""
    task = SUITE[task_id]
    if not task.is_env:
        raise ConfigError(f"task '{task_id}' is a {task.domain} dataset, not an environment; it cannot be rolled out")
    if not seeds:
        raise ConfigError("rollout needs at least one seed")
    expert = getattr(policy, "needs_expert", False)
    n = max(1, min(num_envs, len(seeds)))
    owned = envs is None
    if owned:
        envs = vector_env(task_id, n, expert=expert, render_first=video is not None)
    elif envs.num_envs != n or video is not None:
        raise ConfigError(f"a rollout of {len(seeds)} episodes on {num_envs} envs plays in {n} envs without a video;"
                          f" the vector env given has {envs.num_envs}")
    stop_at_success = until_success and task.metric == "success"
    queue = deque(enumerate(seeds))
    results: dict[int, EpisodeResult] = {}
    frames: list[np.ndarray] = []
    spec = envs.envs[0].spec
    max_steps = (spec.max_episode_steps if spec else None) or 1000  # dm_control's own limit is 1000 steps
    stride = max(1, math.ceil(max_steps / MAX_VIDEO_FRAMES))
    bar = tqdm(total=len(seeds), desc=f"rollout {task_id}", unit="ep", disable=not progress, leave=False)

    def take() -> tuple[int | None, int | None]:
        return queue.popleft() if queue else (None, None)  # an idle slot plays an episode that is dropped

    try:
        slots = [take() for _ in range(n)]
        obs, info = envs.reset(seed=[s for _, s in slots])
        seeds_to = getattr(policy, "set_episode_seeds", None)  # policies that prompt each episode by its seed
        if seeds_to:
            seeds_to([s for _, s in slots])
        policy.reset(n)
        stats = [_Stats() for _ in range(n)]
        recording = video is not None
        if recording:
            frames.append(envs.envs[0].render())
        step = 0
        while len(results) < len(seeds):
            actions = policy.act(obs, info) if expert else policy.act(obs)
            obs, rew, term, trunc, step_info = envs.step(actions)
            step += 1
            done = term | trunc
            if stop_at_success and "success" in step_info:
                done = done | np.asarray(step_info["success"], dtype=bool)
            for k in range(n):
                stats[k].add(float(rew[k]), step_info["success"][k] if "success" in step_info else None)
            if recording and (step % stride == 0 or done[0]):
                frames.append(envs.envs[0].render())
            if not done.any():
                info = step_info
                continue
            for k in np.flatnonzero(done):
                i, s = slots[k]
                if i is not None:
                    results[i] = stats[k].result(s, bool(term[k]), task.metric == "success")
                    bar.update(1)
                if k == 0 and i == 0:
                    recording = False  # the first episode is over: the video is complete
            nxt = {int(k): take() for k in np.flatnonzero(done)}
            for k, slot in nxt.items():
                slots[k], stats[k] = slot, _Stats()
            obs, reset_info = envs.reset(seed=[nxt[k][1] if k in nxt else None for k in range(n)],
                                         options={"reset_mask": done})
            if seeds_to:
                seeds_to([nxt[k][1] if k in nxt else None for k in range(n)])
            policy.reset_envs(done)
            if expert:
                reset_info = {EXPERT_ACTION: merge_expert_actions(step_info.get(EXPERT_ACTION),
                                                                  reset_info[EXPERT_ACTION], done)}
            info = reset_info
    finally:
        bar.close()
        if video is not None and frames:
            write_video(frames, Path(video), video_fps(envs.envs[0]) / stride)
        if owned:
            envs.close()
    return [results[i] for i in range(len(seeds))]


class _Stats:
    """Return, length and per-step success of the episode a slot is playing."""

    def __init__(self) -> None:
        self.ret, self.length, self.successes, self.last_reward = 0.0, 0, [], 0.0

    def add(self, reward: float, success: Any) -> None:
        self.ret += reward
        self.length += 1
        self.last_reward = reward
        if success is not None:
            self.successes.append(success)

    def result(self, seed: int, terminated: bool, has_success: bool) -> EpisodeResult:
        succ = episode_success(self.successes, terminated, self.last_reward) if has_success else None
        return EpisodeResult(seed, self.ret, self.length, succ)
