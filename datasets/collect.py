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

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from gatosuite.envs import SUITE, make_task_env
from gatosuite.envs.perturb import check_perturbable
from gatosuite.envs.registry import TaskSpec
from gatosuite.envs.spaces import task_spaces
from gatosuite.errors import ConfigError, StateError
from gatosuite.locks import exclusive

from . import cards, minari_store
from .collect_vector import run_vector
from .playing import Sink, play_episodes
from .staging import Episode, staged_episodes, write_plan


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


def _run_single(task: TaskSpec, todo: list[int], seed: int, sink: Sink, noise: float, perturb_start: bool) -> None:
    """One env in this process, stepped directly: no batching, no info merging on the hot path."""
    env = make_task_env(task.id, expert=True, perturb_start=perturb_start)
    try:
        play_episodes(env, todo, seed, sink.finish, noise)
        sink.flush()
    finally:
        env.close()


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
    plan = plan_collection(task, episodes, root, resume, seed, overwrite, noise, replace_mismatched, perturb_start)
    if isinstance(plan, CollectResult):
        return plan
    t0 = time.perf_counter()
    steps = 0
    with tqdm(total=episodes, initial=episodes - len(plan.todo), desc=f"collect {task.id}", unit="ep",
              disable=not progress) as bar:
        if plan.todo:
            sink = Sink(task, plan.stage, chunk_episodes, bar, noisy=noise > 0)
            if workers == 1:
                _run_single(task, plan.todo, seed, sink, noise, perturb_start)
            else:
                run_vector(task, plan.todo, seed, workers, sink, noise, perturb_start)
            steps = sink.steps
    return finish_collection(plan, time.perf_counter() - t0, steps)


@dataclass
class Plan:
    """A collection to run: its task, staging folder, collector name and the episode indices still to play."""

    task: TaskSpec
    episodes: int
    root: Path
    stage: Path
    algorithm: str
    todo: list[int]


def plan_collection(task: TaskSpec, episodes: int, root: Path, resume: bool, seed: int, overwrite: bool,
                    noise: float, replace_mismatched: bool, perturb_start: bool) -> Plan | CollectResult:
    """What is left to collect (a Plan), or the finished dataset's summary if it is already there. The
    caller holds the task's lock."""
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
    return Plan(task, episodes, root, stage, algorithm, [i for i in range(episodes) if i not in staged])


def finish_collection(plan: Plan, seconds: float, steps: int) -> CollectResult:
    """Build the Minari dataset from the staged chunks (all episodes are there) and drop the staging folder."""
    task, root = plan.task, plan.root
    staged = staged_episodes(plan.stage)  # read once: reading it per episode made collection quadratic
    all_eps = [staged[i] for i in range(plan.episodes)]
    obs_space, act_space = task_spaces(task.id)
    ref = task.reference()
    returns = [e.ret for e in all_eps]
    path = minari_store.build_dataset(root, task.id, all_eps, gym.spec(task.gymnasium_id), obs_space, act_space,
                                      ref.get("random", 0.0), ref.get("expert", float(np.mean(returns))),
                                      plan.algorithm)
    cards.write_card(root, cards.make_card(task, returns, [len(e) for e in all_eps], [e.success for e in all_eps],
                                           [e.seed for e in all_eps], plan.algorithm, cards.folder_bytes(path)))
    shutil.rmtree(plan.stage)
    return _summary(task, root, all_eps, seconds, steps, collected_now=len(plan.todo))


def _summary(task: TaskSpec, root: Path, eps: list[Episode], seconds: float, steps: int,
             collected_now: int = 0) -> CollectResult:
    succ = [e.success for e in eps if e.success is not None]
    return CollectResult(task.id, len(eps), steps, seconds, float(np.mean([e.ret for e in eps])),
                         float(np.mean(succ)) if succ else None, minari_store.dataset_dir(root, task.id),
                         collected_now)
