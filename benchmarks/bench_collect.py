"""Collection throughput against the raw env, measured side by side in one run.

For each task:
  * raw env, random actions: the simulator's own speed;
  * raw env + expert: a bare loop `a = expert.act(env, obs); env.step(a)` over the same seeded
    episodes, env construction included, storing nothing (the reference);
  * `collect` with 1 worker and with K workers (vector env, canonical observations, staging chunks,
    Minari dataset build; everything a user waits for).

Overhead = (collect time - raw loop time) / raw loop time, with 1 worker. Target (issue 3): under 30%
for state tasks. Image tasks render a frame per step that the raw loop does not, so their overhead
is not comparable.
Writes benchmarks/results/collect.json.

    python benchmarks/bench_collect.py [--tasks mw-reach,cartpole] [--workers 2] [--episodes 6]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from gatosuite.datasets.collect import collect
from gatosuite.envs import SUITE, make_raw_env, make_task_env
from gatosuite.envs.experts import make_expert


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


def collect_steps_per_s(task_id: str, episodes: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as root:
        r = collect(task_id, episodes, Path(root), workers=workers, progress=False)
    return r.steps / r.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="cartpole,dmc-cartpole-balance,mw-reach,babyai-gotolocal")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--episodes", type=int, default=10)
    args = ap.parse_args()
    rows = []
    for tid in args.tasks.split(","):
        make_task_env(tid, expert=True).close()  # warm-up: imports are not part of any measurement
        row = {"task": tid, "domain": SUITE[tid].domain,
               "raw_random": raw_steps_per_s(tid, args.episodes, expert=False),
               "raw_expert": raw_steps_per_s(tid, args.episodes, expert=True),
               "collect_1": collect_steps_per_s(tid, args.episodes, 1),
               f"collect_{args.workers}": collect_steps_per_s(tid, args.episodes, args.workers)}
        row["overhead_1_worker"] = row["raw_expert"] / row["collect_1"] - 1.0  # extra time / raw time
        rows.append(row)
    k = f"collect_{args.workers}"
    print(f"{'task':<28}{'raw random':>12}{'raw+expert':>12}{'collect 1':>12}{f'collect {args.workers}':>12}"
          f"{'overhead':>10}")
    for r in rows:
        print(f"{r['task']:<28}{r['raw_random']:>12,.0f}{r['raw_expert']:>12,.0f}{r['collect_1']:>12,.0f}"
              f"{r[k]:>12,.0f}{r['overhead_1_worker']:>9.0%}")
    print("steps/s; overhead = extra time of collect (1 worker) over the raw env + expert loop, as a fraction of "
          "the raw loop's time; target < 30% for state tasks")
    out = Path(__file__).parent / "results" / "collect.json"
    out.write_text(json.dumps({"machine": platform.machine(), "episodes": args.episodes, "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
