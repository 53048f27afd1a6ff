"""Collection with K > 1 envs in one AsyncVectorEnv (`collect(..., workers=K)`): subprocesses started with
forkserver, finished slots reset with their next episode's seed through `reset_mask`. A worker that dies
takes no data with it: finished episodes are kept and the episodes in flight are replayed from their seeds.
`gatosuite collect --workers K` fans out on Ray instead (collect_ray.py); this path stays for rendering-heavy
tasks in one process, where the vector env overlaps rendering with stepping."""

from __future__ import annotations

import functools
import sys
from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from tqdm.auto import tqdm

from gatosuite.envs import make_task_env
from gatosuite.envs.expert_wrapper import EXPERT_ACTION, merge_expert_actions
from gatosuite.envs.hidden import VARIANT
from gatosuite.envs.registry import TaskSpec
from gatosuite.errors import GatosuiteError
from gatosuite.tokenization.stacking import stack_timesteps, take_slot

from .playing import Noise, Running, Sink


def make_vector_env(task_id: str, workers: int, expert: bool = True,
                    perturb_start: bool = False) -> gym.vector.VectorEnv:
    """`workers` copies of the task env in subprocesses started with forkserver, since fork hangs once
    EGL has rendered. (One worker does not come here: `collect` steps a single env in-process.)"""
    fn = functools.partial(make_task_env, task_id, expert=expert, perturb_start=perturb_start)
    if workers == 1:
        return SyncVectorEnv([fn], autoreset_mode=AutoresetMode.DISABLED)
    # shared_memory=False: gymnasium's shared-memory buffers return Text observations blank.
    return AsyncVectorEnv([fn] * workers, context="forkserver", autoreset_mode=AutoresetMode.DISABLED,
                          shared_memory=False)


class _WorkerDied(Exception):
    """A vector-env worker process is gone (SIGKILL, the OOM killer): its pipe broke mid-call."""

    def __init__(self, in_flight: list[int], pids: list[int]) -> None:
        super().__init__(f"worker pid {', '.join(map(str, pids))} died" if pids else "a worker died while starting")
        self.in_flight, self.pids = in_flight, pids


class WorkerDiedError(GatosuiteError, RuntimeError):
    """Vector-env workers kept dying; the episodes finished before are staged."""


MAX_RESTARTS = 2
"""Times a collection restarts its vector env after a worker died, before it gives up with an error."""


def run_vector(task: TaskSpec, todo: list[int], seed: int, workers: int, sink: Sink, noise: float,
                perturb_start: bool) -> None:
    """`workers` envs in subprocesses. A worker that dies takes no data with it: finished episodes are kept,
    the vector env is started anew, and the episodes that were in flight are played again from their seeds
    (the same seed gives the same episode). After MAX_RESTARTS deaths it is an error naming the task and
    the seeds in flight, with every finished episode staged for --resume."""
    queue = deque(todo)
    for restart in range(MAX_RESTARTS + 1):
        try:
            _play_vector(task, queue, seed, workers, sink, noise, perturb_start)
            return
        except _WorkerDied as died:
            queue.extendleft(sorted(died.in_flight, reverse=True))  # replayed first, in index order
            seeds = ", ".join(str(seed + i) for i in sorted(died.in_flight))
            if restart == MAX_RESTARTS:
                sink.flush()
                raise WorkerDiedError(
                    f"a worker process collecting '{task.id}' died ({died}; {restart + 1} deaths in this run) with "
                    + (f"the episodes of seeds {seeds} in flight" if seeds else "no episode in flight")
                    + f"; the episodes finished before are staged in '{sink.stage}'. Rerun the same `gatosuite "
                    "collect ... --resume` to collect the rest (--workers 1 runs the env in-process)") from None
            tqdm.write(f"warning: a worker process collecting '{task.id}' died ({died}); restarting the workers"
                       + (f" and replaying the episodes of seeds {seeds}" if seeds else ""), file=sys.stderr)


def _play_vector(task: TaskSpec, queue: deque[int], seed: int, workers: int, sink: Sink, noise: float,
                 perturb_start: bool) -> None:
    """Play the queued episodes in one vector env; a finished slot is reset with the next episode's seed.
    A dead worker is a _WorkerDied that lists the episodes in flight (taken off the queue, not finished)."""
    running: list[Running] = []
    try:
        envs = make_vector_env(task.id, workers, perturb_start=perturb_start)
    except (EOFError, ConnectionError) as e:  # a worker died while starting
        raise _WorkerDied([], []) from e
    try:
        _step_vector(envs, queue, seed, sink, noise, running)
    except (EOFError, ConnectionError) as e:
        dead = [p.pid for p in getattr(envs, "processes", []) if not p.is_alive()]
        if not dead:
            raise
        envs.close(terminate=True)
        raise _WorkerDied([r.index for r in running if r.index is not None], dead) from e
    finally:
        envs.close()


def _step_vector(envs: gym.vector.VectorEnv, queue: deque[int], seed: int, sink: Sink, noise: float,
                 running: list[Running]) -> None:
    """The stepping loop of `_play_vector`; `running` is filled in place, so a caller that catches a dead
    worker knows the episodes in flight."""
    n = envs.num_envs
    noisy = [Noise(envs.single_action_space, noise) for _ in range(n)]

    def play(expert: Any) -> Any:
        """The actions the slots play: each slot's expert action through its own noise stream."""
        if noise <= 0:
            return expert
        return stack_timesteps([noisy[k](take_slot(expert, k)) for k in range(n)])

    def take() -> tuple[int | None, int | None]:
        if queue:
            i = queue.popleft()
            return i, seed + i
        return None, None  # idle slot: plays an unseeded episode that is thrown away

    first = [take() for _ in range(n)]
    running[:] = [Running(i, s, None) for i, s in first]  # in flight from here, even if reset fails
    obs, info = envs.reset(seed=[s for _, s in first])
    running[:] = [Running(i, s, take_slot(obs, k), _slot_info(info, VARIANT, k)) for k, (i, s) in enumerate(first)]
    for k, (_, s) in enumerate(first):
        noisy[k].reset(s)
    expert = info[EXPERT_ACTION]
    while any(r.index is not None for r in running):
        played = play(expert)
        obs, rew, term, trunc, info = envs.step(played)
        done = term | trunc
        for k, r in enumerate(running):
            r.add(take_slot(played, k), take_slot(expert, k), take_slot(obs, k), rew[k], term[k], trunc[k],
                  info["success"][k] if "success" in info else None)
        if not done.any():
            expert = info[EXPERT_ACTION]
            continue
        for k in np.flatnonzero(done):
            sink.finish(running[k])
        nxt = {int(k): take() for k in np.flatnonzero(done)}
        for k, (i, s) in nxt.items():  # in flight from here, even if the reset fails
            running[k] = Running(i, s, None)
        obs2, info2 = envs.reset(seed=[nxt[k][1] if k in nxt else None for k in range(n)],
                                 options={"reset_mask": done})
        for k, (i, s) in nxt.items():
            running[k] = Running(i, s, take_slot(obs2, k), _slot_info(info2, VARIANT, k))
            noisy[k].reset(s)
        expert = merge_expert_actions(info.get(EXPERT_ACTION), info2[EXPERT_ACTION], done)
    sink.flush()


def _slot_info(info: dict[str, Any], key: str, k: int) -> Any:
    """A vector env's info entry for slot k (None where the slot's env did not report it)."""
    if key not in info or not info.get(f"_{key}", np.ones(k + 1, bool))[k]:
        return None
    return info[key][k]
