"""Collection throughput against the raw env, measured side by side in one run.

For each task:
  * raw env, random actions: the simulator's own speed;
  * raw env + expert: a bare loop `a = expert.act(env, obs); env.step(a)` over the same seeded
    episodes, env construction included, storing nothing (the reference);
  * `collect` with 1 worker (in-process), with K envs in one AsyncVectorEnv (`--vector-envs K`), and with
    K Ray actors (`gatosuite collect --workers K`, datasets/collect_ray.py): canonical observations, staging
    chunks, Minari dataset build; everything a user waits for. Ray's start-up (`ray.init`, once per command)
    is measured on its own and reported both apart from and inside the ratio.

Overhead = (collect time - raw loop time) / raw loop time, with 1 worker. Target (issue 3): under 30%
for state tasks. Image tasks render a frame per step that the raw loop does not, so their overhead
is not comparable.
Writes benchmarks/results/collect.json.

    python benchmarks/bench_collect.py [--tasks babyai-gotolocal=1000,hopper=50] [--workers 2]

Each task takes its own episode count (task=N): enough that the 1-worker run takes tens of seconds, so the
start-up of workers is paid for as it is in a real collection.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gatosuite.datasets import collect_ray
from gatosuite.datasets.collect import collect
from gatosuite.datasets.collect_ray import collect_tasks
from gatosuite.datasets.playing import Sink
from gatosuite.envs import SUITE, make_raw_env, make_task_env
from gatosuite.envs.experts import make_expert
from gatosuite.raytools import init_ray


def raw_steps_per_s(task_id: str, episodes: int, expert: bool) -> float:
    """The same episodes (seeds 0..episodes-1) in a bare loop on the raw env, env construction included,
    storing nothing: what collection is compared against."""
    t0 = time.perf_counter()
    env = make_raw_env(task_id)
    pol = make_expert(SUITE[task_id].expert, env) if expert else None
    steps = 0
    for ep in range(episodes):
        obs, info = env.reset(seed=ep)
        env.action_space.seed(ep)
        if pol:
            pol.reset(env, obs, info)
        done = False
        while not done:
            a = pol.act(env, obs) if pol else env.action_space.sample()
            obs, _, term, trunc, info = env.step(a)
            steps += 1
            done = term or trunc
    dt = time.perf_counter() - t0
    env.close()
    return steps / dt


def collect_run(task_id: str, episodes: int, workers: int) -> tuple[int, float]:
    """(steps, seconds) of `collect` with `workers` envs in one vector env (1: in-process), wall time."""
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        r = collect(task_id, episodes, Path(root), workers=workers, progress=False)
        return r.steps, time.perf_counter() - t0


@contextlib.contextmanager
def driver_clock(seconds: dict[str, float]) -> Iterator[None]:
    """Add the driver's own time in staging (writing the chunks the actors encoded) and in the dataset build to
    `seconds`: on Ray the actors play in parallel, but these run in the driver, beside them."""
    originals = (Sink.put_chunk, collect_ray.finish_collection)

    def timed(fn: Callable, key: str) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - t0
        return wrapper

    Sink.put_chunk = timed(originals[0], "staging")
    collect_ray.finish_collection = timed(originals[1], "dataset_build")
    try:
        yield
    finally:
        Sink.put_chunk, collect_ray.finish_collection = originals


def ray_run(task_id: str, episodes: int, workers: int) -> tuple[int, float, dict[str, float]]:
    """(steps, seconds, the driver's seconds in staging and the dataset build) of the Ray collector on `workers`
    actors, Ray already started, wall time: actor start-up, env construction and the dataset build included."""
    driver: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as root, driver_clock(driver):
        t0 = time.perf_counter()
        [r] = collect_tasks([task_id], episodes, Path(root), workers=workers, progress=False)
        return r.steps, time.perf_counter() - t0, driver


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="babyai-gotolocal=1000,hopper=50,cartpole=200,mw-reach=100")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    k = args.workers
    t0 = time.perf_counter()
    init_ray(k)
    ray_start = time.perf_counter() - t0
    rows = []
    for item in args.tasks.split(","):
        tid, n = item.split("=")
        n = int(n)
        make_task_env(tid, expert=True).close()  # warm-up: imports are not part of any measurement
        steps, s1 = collect_run(tid, n, 1)
        _, sv = collect_run(tid, n, k)
        _, sr, driver = ray_run(tid, n, k)
        row = {"task": tid, "domain": SUITE[tid].domain, "episodes": n, "steps": steps,
               "raw_random": raw_steps_per_s(tid, n, expert=False),
               "raw_expert": raw_steps_per_s(tid, n, expert=True),
               "collect_1": steps / s1, f"vector_{k}": steps / sv, f"ray_{k}": steps / sr,
               f"ray_{k}_over_1": s1 / sr,
               f"ray_{k}_over_1_with_start": s1 / (sr + ray_start),  # start-up charged to this task alone
               f"ray_{k}_driver_s": driver, f"ray_{k}_s": sr}
        row["overhead_1_worker"] = row["raw_expert"] / row["collect_1"] - 1.0  # extra time / raw time
        rows.append(row)
    print(f"Ray start-up: {ray_start:.1f} s")
    print(f"{'task':<22}{'eps':>6}{'raw random':>12}{'raw+expert':>12}{'collect 1':>11}{f'vector {k}':>10}"
          f"{f'ray {k}':>9}{f'ray {k}/1':>9}{'w/ start':>9}{'overhead':>9}")
    for r in rows:
        print(f"{r['task']:<22}{r['episodes']:>6}{r['raw_random']:>12,.0f}{r['raw_expert']:>12,.0f}"
              f"{r['collect_1']:>11,.0f}{r[f'vector_{k}']:>10,.0f}{r[f'ray_{k}']:>9,.0f}"
              f"{r[f'ray_{k}_over_1']:>8.2f}x{r[f'ray_{k}_over_1_with_start']:>8.2f}x{r['overhead_1_worker']:>9.0%}")
    for r in rows:
        d = r[f"ray_{k}_driver_s"]
        print(f"{r['task']}: Ray {r[f'ray_{k}_s']:.1f} s, of which the driver's staging {d.get('staging', 0):.1f} s "
              f"and dataset build {d.get('dataset_build', 0):.1f} s")
    print("steps/s; ray k/1 = wall time of 1 worker in-process over Ray with k actors (w/ start: Ray's start-up "
          "charged to the task); overhead = extra time of collect (1 worker) over the raw env + expert loop")
    out = Path(__file__).parent / "results" / "collect.json"
    out.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(), "workers": k,
                               "ray_start_s": ray_start, "date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
