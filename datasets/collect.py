"""`gatosuite collect`: run a task's expert in vectorized envs and store the episodes as a Minari dataset.

Episode i is always reset with seed `seed + i`, whatever the number of workers, so a dataset is
reproducible and a resumed run collects exactly the missing indices. With `--workers K > 1`,
episodes run in an AsyncVectorEnv with `autoreset_mode=DISABLED`: finished sub-envs are reset
explicitly with their next episode's seed (through `reset_mask`), which is what makes per-episode seeds
possible. With one worker a single env is stepped in-process: on state tasks the vector env's batching
and info merging cost more than the simulator (benchmarks/bench_collect.py).

`noise` > 0 injects exploration noise into the expert, as DART does (Laskey et al., 2017): at each step,
with that probability, a uniformly random action (seeded by the episode's seed) is played instead of the
expert's. The dataset's `actions` are the actions actually played, so its transitions stay true to the
env; the expert's action at every recorded state is stored beside them (`infos["expert_action"]`), and
training uses it as the label. A cloned policy then sees the states the expert recovers from, not only
the narrow band it keeps the system in (a CartPole LQR keeps the cart so close to the centre that a clone
never learns to correct a drifting cart), and at every one of them it is taught the expert's action, not
the random one.

`perturb_start` starts each episode from the task's spread of states (envs/perturb.py: inverted-pendulum's
cart anywhere in 80% of its rail and moving, dmc-point_mass-easy's mass moving), for the states noise alone
does not reach; the dataset's collector name says so, and evaluation never perturbs.
"""

from __future__ import annotations

import copy
import functools
import shutil
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from tqdm.auto import tqdm

from gatosuite.envs import SUITE, make_task_env
from gatosuite.envs.expert_wrapper import EXPERT_ACTION, merge_expert_actions
from gatosuite.envs.hidden import VARIANT
from gatosuite.envs.perturb import check_perturbable
from gatosuite.envs.registry import TaskSpec
from gatosuite.envs.spaces import task_spaces
from gatosuite.envs.success import episode_success
from gatosuite.errors import ConfigError, GatosuiteError, StateError
from gatosuite.locks import exclusive
from gatosuite.tokenization.stacking import stack_timesteps, take_slot

from . import minari_store
from .staging import Episode, next_chunk_number, staged_episodes, write_chunk, write_plan


@dataclass
class CollectResult:
    task: str
    episodes: int
    steps: int
    seconds: float
    mean_return: float
    success_rate: float | None
    path: Path
    collected_now: int

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else float("nan")


def staging_dir(root: Path, task_id: str) -> Path:
    return Path(root) / "staging" / task_id


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


def _success(task: TaskSpec, infos: list[dict[str, Any]], terminated: bool, rewards: list[float]) -> bool | None:
    if task.metric != "success":
        return None
    return episode_success([i["success"] for i in infos], terminated, rewards[-1] if rewards else 0.0)


class _Running:
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


class _Sink:
    """Takes finished episodes, writes them in chunks, and keeps the progress bar moving."""

    def __init__(self, task: TaskSpec, stage: Path, chunk_episodes: int, bar: tqdm, noisy: bool) -> None:
        self.task, self.stage, self.chunk, self.bar, self.noisy = task, stage, chunk_episodes, bar, noisy
        self.pending: list[Episode] = []
        self.steps = 0

    def finish(self, r: _Running) -> None:
        if r.index is None:  # an idle slot's throwaway episode
            return
        ep = Episode(r.index, r.seed, stack_timesteps(r.obs), stack_timesteps(r.actions), np.array(r.rewards),
                     np.array(r.terms), np.array(r.truncs), _success(self.task, r.infos, r.terms[-1], r.rewards),
                     labels=stack_timesteps(r.labels) if self.noisy else None, variant=r.variant)
        self.pending.append(ep)
        self.steps += len(ep)
        self.bar.update(1)
        self.bar.set_postfix(ret=f"{ep.ret:.1f}")
        if len(self.pending) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            write_chunk(self.stage, next_chunk_number(self.stage), self.pending)
            self.pending = []


class _Noise:
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


def _run_single(task: TaskSpec, todo: list[int], seed: int, sink: _Sink, noise: float, perturb_start: bool) -> None:
    """One env in this process, stepped directly: no batching, no info merging on the hot path."""
    env = make_task_env(task.id, expert=True, perturb_start=perturb_start)
    noisy = _Noise(env.action_space, noise)
    try:
        for i in todo:
            obs, info = env.reset(seed=seed + i)
            noisy.reset(seed + i)
            r = _Running(i, seed + i, obs, info.get(VARIANT))
            done = False
            while not done:
                label = info[EXPERT_ACTION]
                action = noisy(label)
                obs, rew, term, trunc, info = env.step(action)
                r.add(action, label, obs, rew, term, trunc, info.get("success"))
                done = term or trunc
            sink.finish(r)
        sink.flush()
    finally:
        env.close()


class _WorkerDied(Exception):
    """A vector-env worker process is gone (SIGKILL, the OOM killer): its pipe broke mid-call."""

    def __init__(self, in_flight: list[int], pids: list[int]) -> None:
        super().__init__(f"worker pid {', '.join(map(str, pids))} died" if pids else "a worker died while starting")
        self.in_flight, self.pids = in_flight, pids


class WorkerDiedError(GatosuiteError, RuntimeError):
    """Vector-env workers kept dying; the episodes finished before are staged."""


MAX_RESTARTS = 2
"""Times a collection restarts its vector env after a worker died, before it gives up with an error."""


def _run_vector(task: TaskSpec, todo: list[int], seed: int, workers: int, sink: _Sink, noise: float,
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


def _play_vector(task: TaskSpec, queue: deque[int], seed: int, workers: int, sink: _Sink, noise: float,
                 perturb_start: bool) -> None:
    """Play the queued episodes in one vector env; a finished slot is reset with the next episode's seed.
    A dead worker is a _WorkerDied that lists the episodes in flight (taken off the queue, not finished)."""
    running: list[_Running] = []
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


def _step_vector(envs: gym.vector.VectorEnv, queue: deque[int], seed: int, sink: _Sink, noise: float,
                 running: list[_Running]) -> None:
    """The stepping loop of `_play_vector`; `running` is filled in place, so a caller that catches a dead
    worker knows the episodes in flight."""
    n = envs.num_envs
    noisy = [_Noise(envs.single_action_space, noise) for _ in range(n)]

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
    running[:] = [_Running(i, s, None) for i, s in first]  # in flight from here, even if reset fails
    obs, info = envs.reset(seed=[s for _, s in first])
    running[:] = [_Running(i, s, take_slot(obs, k), _slot_info(info, VARIANT, k)) for k, (i, s) in enumerate(first)]
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
            running[k] = _Running(i, s, None)
        obs2, info2 = envs.reset(seed=[nxt[k][1] if k in nxt else None for k in range(n)],
                                 options={"reset_mask": done})
        for k, (i, s) in nxt.items():
            running[k] = _Running(i, s, take_slot(obs2, k), _slot_info(info2, VARIANT, k))
            noisy[k].reset(s)
        expert = merge_expert_actions(info.get(EXPERT_ACTION), info2[EXPERT_ACTION], done)
    sink.flush()


def _slot_info(info: dict[str, Any], key: str, k: int) -> Any:
    """A vector env's info entry for slot k (None where the slot's env did not report it)."""
    if key not in info or not info.get(f"_{key}", np.ones(k + 1, bool))[k]:
        return None
    return info[key][k]


def algorithm_name(expert: str, noise: float, perturb_start: bool = False, note: str = "") -> str:
    """What a dataset says collected it: the expert, the injected noise if any (whose datasets label
    every state with the expert's action), whether episodes started from perturbed states, and the
    task's own collection note (TaskSpec.collection_note), so that data of an earlier version of a
    task reads as another collector's and is not reused."""
    name = expert if noise <= 0 else f"{expert} with {noise:g} random-action noise, expert labels"
    name = f"{name}, perturbed starts" if perturb_start else name
    return f"{name}, {note}" if note else name


def collect(task_id: str, episodes: int, root: Path, workers: int = 1, resume: bool = False, seed: int = 0,
            chunk_episodes: int = 10, overwrite: bool = False, progress: bool = True,
            noise: float = 0.0, replace_mismatched: bool = False, perturb_start: bool = False) -> CollectResult:
    """Collect `episodes` expert episodes of `task_id` into `<root>/minari`. See the module docstring.

    An existing dataset with the same count and collector is reused; one with other settings is an
    error unless `overwrite` (always collect anew) or `replace_mismatched` (collect anew only then, for
    callers that own their data folder, such as the demo). `perturb_start` starts every episode from the
    task's spread of states (envs/perturb.py)."""
    task = SUITE[task_id]
    if not task.is_env or task.expert is None:
        raise ConfigError(f"task '{task_id}' has no environment expert to collect from")
    if episodes < 1 or workers < 1:
        raise ConfigError(f"--episodes and --workers must be at least 1 (got {episodes}, {workers})")
    if not 0.0 <= noise < 1.0:
        raise ConfigError(f"--noise is a probability in [0, 1), got {noise}")
    root = Path(root).resolve()  # minari mangles relative paths (it joins them twice)
    if perturb_start:
        check_perturbable([task])  # before anything is staged
    # One collector per task and root. The lock comes before the check for an interrupted collection, so a
    # live collector's staging folder is never taken for an interrupted one (and "--resume" never puts two
    # writers on one dataset).
    with exclusive(lock_file(root, task_id), f"collecting '{task_id}' into '{root}'",
                   "wait for it to finish, or collect into another --root"):
        return _collect_locked(task, episodes, root, workers, resume, seed, chunk_episodes, overwrite, progress,
                               noise, replace_mismatched, perturb_start)


def lock_file(root: Path, task_id: str) -> Path:
    """The lock that one collection of a task into a root holds (locks.py)."""
    return Path(root) / "staging" / f".{task_id}.lock"


def _collect_locked(task: TaskSpec, episodes: int, root: Path, workers: int, resume: bool, seed: int,
                    chunk_episodes: int, overwrite: bool, progress: bool, noise: float, replace_mismatched: bool,
                    perturb_start: bool) -> CollectResult:
    """`collect` once it holds the task's lock."""
    task_id = task.id
    final = minari_store.dataset_dir(root, task_id)
    stage = staging_dir(root, task_id)
    algorithm = algorithm_name(task.expert, noise, perturb_start, task.collection_note)
    if final.exists() and not overwrite:
        ds = minari_store.load(root, task_id)
        made_by = ds.storage.metadata.get("algorithm_name")
        if ds.total_episodes == episodes and made_by == algorithm:
            return _summary(task, root, list(minari_store.iter_episodes(root, task_id)), 0.0, 0)
        if not replace_mismatched:
            raise ConfigError(f"'{final}' already holds {ds.total_episodes} episodes of '{task_id}' collected "
                              f"by '{made_by}', not {episodes} by '{algorithm}'; pass --overwrite to collect anew")
    if stage.exists() and not resume:
        n_staged = len(list(stage.glob("chunk-*.npz")))
        raise StateError(f"an earlier collection of '{task_id}' was interrupted ({n_staged} chunk files in "
                           f"'{stage}'); rerun with --resume to finish it, or delete that folder to start over")
    write_plan(stage, {"task": task_id, "episodes": episodes, "seed": seed, "expert": task.expert, "noise": noise,
                       "labels": "expert" if noise > 0 else "played",
                       **({"perturb_start": True} if perturb_start else {})})  # older plans stay resumable
    staged = staged_episodes(stage)
    todo = [i for i in range(episodes) if i not in staged]
    t0 = time.perf_counter()
    steps = 0
    with tqdm(total=episodes, initial=episodes - len(todo), desc=f"collect {task_id}", unit="ep",
              disable=not progress) as bar:
        if todo:
            sink = _Sink(task, stage, chunk_episodes, bar, noisy=noise > 0)
            if workers == 1:
                _run_single(task, todo, seed, sink, noise, perturb_start)
            else:
                _run_vector(task, todo, seed, workers, sink, noise, perturb_start)
            steps = sink.steps
    seconds = time.perf_counter() - t0
    staged = staged_episodes(stage)  # read once: reading it per episode made collection quadratic
    all_eps = [staged[i] for i in range(episodes)]
    obs_space, act_space = task_spaces(task_id)
    ref = task.reference()
    returns = [e.ret for e in all_eps]
    minari_store.build_dataset(root, task_id, all_eps, gym.spec(task.gymnasium_id), obs_space, act_space,
                               ref.get("random", 0.0), ref.get("expert", float(np.mean(returns))), algorithm)
    shutil.rmtree(stage)
    return _summary(task, root, all_eps, seconds, steps, collected_now=len(todo))


def _summary(task: TaskSpec, root: Path, eps: list[Episode], seconds: float, steps: int,
             collected_now: int = 0) -> CollectResult:
    succ = [e.success for e in eps if e.success is not None]
    return CollectResult(task.id, len(eps), steps, seconds, float(np.mean([e.ret for e in eps])),
                         float(np.mean(succ)) if succ else None, minari_store.dataset_dir(root, task.id),
                         collected_now)
