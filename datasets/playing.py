"""Playing a task's expert: the episode being recorded (`Running`), the sink that stages finished episodes in
chunks (`Sink`), DART-style action noise (`Noise`), and `play_episodes`, the in-process loop that every
collector runs (collect.py in this process, collect_ray.py in Ray actors)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from gatosuite.envs.expert_wrapper import EXPERT_ACTION
from gatosuite.envs.hidden import VARIANT
from gatosuite.envs.registry import TaskSpec
from gatosuite.envs.success import episode_success
from gatosuite.tokenization.stacking import stack_timesteps

from .staging import Episode, next_chunk_number, write_chunk, write_chunk_bytes


def _success(task: TaskSpec, infos: list[dict[str, Any]], terminated: bool, rewards: list[float]) -> bool | None:
    if task.metric != "success":
        return None
    return episode_success([i["success"] for i in infos], terminated, rewards[-1] if rewards else 0.0)


def episode_of(task: TaskSpec, r: "Running", noisy: bool) -> Episode:
    """The staged form of a finished episode (the expert's labels kept when actions were noisy)."""
    return Episode(r.index, r.seed, stack_timesteps(r.obs), stack_timesteps(r.actions), np.array(r.rewards),
                   np.array(r.terms), np.array(r.truncs), _success(task, r.infos, r.terms[-1], r.rewards),
                   labels=stack_timesteps(r.labels) if noisy else None, variant=r.variant)


class Running:
    """The episode an env (or vector-env slot) is playing."""

    def __init__(self, index: int | None, seed: int | None, obs: Any, variant: Any = None) -> None:
        self.index, self.seed = index, seed
        self.variant = None if variant is None else int(variant)
        self.obs, self.actions, self.rewards, self.terms, self.truncs = [obs], [], [], [], []
        self.labels: list[Any] = []
        self.infos: list[dict[str, Any]] = []

    def add(self, action: Any, label: Any, obs: Any, reward: float, term: bool, trunc: bool,
            success: Any = None) -> None:
        """Record a step: the action played, the expert's action (label) at the state it was played in,
        and what the env returned."""
        self.actions.append(action)
        self.labels.append(label)
        self.obs.append(obs)
        self.rewards.append(float(reward))
        self.terms.append(bool(term))
        self.truncs.append(bool(trunc))
        if success is not None:
            self.infos.append({"success": success})


class Sink:
    """Takes finished episodes, writes them in chunks, and keeps the progress bar moving."""

    def __init__(self, task: TaskSpec, stage: Path, chunk_episodes: int, bar: tqdm, noisy: bool) -> None:
        self.task, self.stage, self.chunk, self.bar, self.noisy = task, stage, chunk_episodes, bar, noisy
        self.pending: list[Episode] = []
        self.steps = 0

    def finish(self, r: Running) -> None:
        if r.index is None:  # an idle slot's throwaway episode
            return
        ep = episode_of(self.task, r, self.noisy)
        self.pending.append(ep)
        self._count(len(ep), ep.ret)
        if len(self.pending) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            write_chunk(self.stage, next_chunk_number(self.stage), self.pending)
            self.pending = []

    def put_chunk(self, data: bytes, episodes: list[tuple[int, float]]) -> None:
        """Stage a chunk encoded elsewhere (a Ray actor's `encode_chunk`) whose episodes had these (length,
        return) pairs."""
        write_chunk_bytes(self.stage, next_chunk_number(self.stage), data)
        for length, ret in episodes:
            self._count(length, ret)

    def _count(self, length: int, ret: float) -> None:
        self.steps += length
        self.bar.update(1)
        self.bar.set_postfix(ret=f"{ret:.1f}")


class Noise:
    """Replaces the expert's action by a uniformly random one with probability p, seeded per episode."""

    def __init__(self, space: gym.Space, p: float) -> None:
        self.space, self.p = copy.deepcopy(space), p  # its own copy: seeding it must not reseed another slot's
        self.rng = np.random.default_rng(0)

    def reset(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)
        self.space.seed(int(self.rng.integers(2**31)))

    def __call__(self, action: Any) -> Any:
        if self.p > 0 and self.rng.random() < self.p:
            return self.space.sample()
        return action


def play_episodes(env: gym.Env, todo: list[int], seed: int, finish, noise: float) -> None:
    """Play episodes `todo` (reset with seed + i) in one env, handing each finished one to `finish`. Each
    episode depends only on its seed, whatever the env played before, so any split of the indices over
    envs gives the same episodes (the Ray collector, collect_ray.py, relies on it; a test checks it)."""
    noisy = Noise(env.action_space, noise)
    for i in todo:
        obs, info = env.reset(seed=seed + i)
        noisy.reset(seed + i)
        r = Running(i, seed + i, obs, info.get(VARIANT))
        done = False
        while not done:
            label = info[EXPERT_ACTION]
            action = noisy(label)
            obs, rew, term, trunc, info = env.step(action)
            r.add(action, label, obs, rew, term, trunc, info.get("success"))
            done = term or trunc
        finish(r)
