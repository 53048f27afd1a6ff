"""Collection fanned out on Ray: `gatosuite collect --task <ids|tag|all> --workers K`.

Each task's missing episode indices are cut into jobs of `chunk_episodes` episodes, and the jobs of every
task go to K long-lived Ray actors (`ray.util.ActorPool`). An actor keeps its envs between jobs, so a
simulator's imports (MuJoCo, Meta-World, minigrid) and an env's construction are paid once per actor and
task, not once per chunk: that start-up is what made the older per-chunk subprocesses slower than one
process (benchmarks/bench_collect.py).

An actor returns each finished job as one encoded chunk (assembled and compressed there, in parallel); the
driver (this process) writes it as a staged chunk, as a 1-worker collection writes its own, and builds each
task's Minari dataset once all its episodes are staged. So:
- episode i is always reset with seed + i and depends on nothing else (`collect.play_episodes`), so the
  episodes are bitwise those of a 1-worker collection with the same seeds, whichever actor played them;
- a killed run leaves whole chunks, and `--resume` plays exactly the missing indices;
- the task locks are taken before anything is planned, so a second collector on the same root refuses at once;
- an actor that dies (the OOM killer, a lost node) is restarted by Ray and its job is retried
  (`max_restarts`, `max_task_retries`); the job's seeds make the replay the same episodes.

`ray.init()` is local by default: Ray starts on this machine with K CPUs, no dashboard, bound to loopback
(gatosuite/raytools.py: RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 makes a local Ray bind its services to 127.0.0.1).
`ray_address` joins an existing cluster instead (`ray start --head` on one machine, `ray start --address`
on the others), where the actors run wherever the cluster has CPUs; the driver still writes the data, so
only the machine running `gatosuite collect` needs the --root folder.

Ray moves the episodes between its processes itself (its object store); nothing here reads a pickle
from disk.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gatosuite.envs import SUITE
from gatosuite.envs.registry import TaskSpec
from gatosuite.errors import ConfigError
from gatosuite.locks import exclusive
from gatosuite.raytools import init_ray

from .collect import CollectResult, Plan, finish_collection, lock_file, plan_collection
from .playing import Running, Sink, episode_of, play_episodes
from .staging import encode_chunk

ENV_CACHE = 4
"""Envs an actor keeps open (least recently used dropped first): jobs of one task arrive together."""


class _Collector:
    """One Ray actor: plays jobs of any task, keeping its envs open between them."""

    def __init__(self) -> None:
        self.envs: dict[tuple[str, bool], Any] = {}

    def _env(self, task_id: str, perturb_start: bool):
        from gatosuite.envs import make_task_env

        key = (task_id, perturb_start)
        env = self.envs.pop(key, None) or make_task_env(task_id, expert=True, perturb_start=perturb_start)
        self.envs[key] = env  # most recently used last
        while len(self.envs) > ENV_CACHE:
            self.envs.pop(next(iter(self.envs))).close()
        return env

    def play(self, task_id: str, todo: list[int], seed: int, noise: float,
             perturb_start: bool) -> tuple[bytes, list[tuple[int, float]]]:
        """Play episodes `todo` and return them as one encoded chunk, with each one's (length, return): the
        episodes are assembled and compressed here, in parallel, and the driver only writes the bytes."""
        done: list[Running] = []
        play_episodes(self._env(task_id, perturb_start), todo, seed, done.append, noise)
        eps = [episode_of(SUITE[task_id], r, noise > 0) for r in done]
        return encode_chunk(eps), [(len(ep), ep.ret) for ep in eps]


def jobs(plan: Plan, chunk_episodes: int) -> Iterator[list[int]]:
    """A plan's missing indices in jobs of at most `chunk_episodes`, in index order."""
    for k in range(0, len(plan.todo), chunk_episodes):
        yield plan.todo[k:k + chunk_episodes]


def collect_tasks(task_ids: list[str], episodes: int, root: Path, workers: int, resume: bool = False, seed: int = 0,
                  chunk_episodes: int = 10, overwrite: bool = False, progress: bool = True, noise: float = 0.0,
                  perturb_start: bool = False, ray_address: str | None = None) -> list[CollectResult]:
    """Collect `episodes` episodes of every task in `task_ids` on `workers` Ray actors; one result per task, in
    order. See the module docstring."""
    if workers < 1 or episodes < 1:
        raise ConfigError(f"--episodes and --workers must be at least 1 (got {episodes}, {workers})")
    if not 0.0 <= noise < 1.0:
        raise ConfigError(f"--noise is a probability in [0, 1), got {noise}")
    tasks = [SUITE[t] for t in task_ids]
    for t in tasks:
        if not t.is_env or t.expert is None:
            raise ConfigError(f"task '{t.id}' has no environment expert to collect from")
    root = Path(root).resolve()
    with contextlib.ExitStack() as locks:
        for t in tasks:  # every lock first: a second collector on this root refuses before anything is staged
            locks.enter_context(exclusive(lock_file(root, t.id), f"collecting '{t.id}' into '{root}'",
                                          "wait for it to finish, or collect into another --root"))
        return _collect_locked(tasks, episodes, root, workers, resume, seed, chunk_episodes, overwrite, progress,
                               noise, perturb_start, ray_address)


def _collect_locked(tasks: list[TaskSpec], episodes: int, root: Path, workers: int, resume: bool, seed: int,
                    chunk_episodes: int, overwrite: bool, progress: bool, noise: float, perturb_start: bool,
                    ray_address: str | None) -> list[CollectResult]:
    results: dict[str, CollectResult] = {}
    plans: dict[str, Plan] = {}
    for t in tasks:
        perturb = perturb_start and bool(t.start_spread)
        p = plan_collection(t, episodes, root, resume, seed, overwrite, noise, False, perturb)
        if isinstance(p, CollectResult):
            results[t.id] = p
        elif not p.todo:  # every episode staged already: only the dataset is left to build
            results[t.id] = finish_collection(p, 0.0, 0)
        else:
            plans[t.id] = p
    if plans:
        results.update(_run(plans, episodes, workers, seed, chunk_episodes, progress, noise, perturb_start,
                            ray_address, already=len(results)))
    return [results[t.id] for t in tasks]


def _run(plans: dict[str, Plan], episodes: int, workers: int, seed: int, chunk_episodes: int, progress: bool,
         noise: float, perturb_start: bool, ray_address: str | None, already: int) -> dict[str, CollectResult]:
    init_ray(workers, ray_address)  # before `import ray`: only then can it keep a local Ray on loopback
    import ray
    from ray.util import ActorPool

    actor = ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)(_Collector)
    pool = ActorPool([actor.remote() for _ in range(workers)])
    n_tasks = len(plans) + already
    total = len(plans) * episodes
    left = {tid: len(p.todo) for tid, p in plans.items()}
    work = [(tid, job) for tid, p in plans.items() for job in jobs(p, chunk_episodes)]
    t0, out = time.perf_counter(), {}
    last_done = t0  # a task's seconds run from the previous task's end: jobs go out task after task
    with tqdm(total=total, initial=sum(episodes - n for n in left.values()), desc="collect", unit="ep",
              disable=not progress) as bar:
        sinks = {tid: Sink(p.task, p.stage, chunk_episodes, bar, noisy=noise > 0) for tid, p in plans.items()}
        bar.set_postfix(tasks=f"{already}/{n_tasks}")

        def submit(a, item):
            tid, job = item
            return a.play.remote(tid, job, seed, noise, perturb_start and bool(plans[tid].task.start_spread))

        for (tid, _), played in zip(work, pool.map(submit, work)):  # in submission order: chunks stay ordered
            data, summary = played
            sink = sinks[tid]
            sink.put_chunk(data, summary)
            left[tid] -= len(summary)
            if left[tid] == 0:
                now = time.perf_counter()
                out[tid] = finish_collection(plans[tid], now - last_done, sink.steps)
                last_done = now
            steps = sum(k.steps for k in sinks.values())
            bar.set_postfix(tasks=f"{already + len(out)}/{n_tasks}",
                            steps_s=f"{steps / max(time.perf_counter() - t0, 1e-9):,.0f}")
    return out

