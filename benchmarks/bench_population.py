"""An evolution on 2 Ray workers against 1 worker in-process, measured side by side in one run.

Both run the same evolution (evaluation/population.py with the family's binding): for PathNet
(agent/models/pathnet/candidate.py) K binary tournaments a generation; for muNet (agent/models/munet/
candidate.py) K children a generation of a small frozen system's route (its first generation scores the one
seed route). Each candidate is a real model trained T optimizer steps on one core and scored on validation
windows, so the work is CPU-bound. 1 worker runs the jobs one after another in this process;
K workers run them as Ray tasks. The ratio is the wall time of 1 worker over that of K, start-up excluded:
Ray's start and each process's first candidate (torch and the trainer's imports, the synthetic data) are
paid in a warm-up before anything is timed, and Ray's start is reported apart. Each side runs `--repeats`
times, alternating, and the median is kept. The two must end with the same population and winners. The
1-minute load average before and after is recorded: on a machine shared with other jobs, they take cores
from both sides.
Writes benchmarks/results/population-ray.json (PathNet) or population-ray-munet.json.

    python benchmarks/bench_population.py [--family pathnet|munet] [--workers 2] [--generations 3] [--steps 40]
    python benchmarks/bench_population.py --ray-address <head-ip>:6379 --workers 32   # on a Ray cluster
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from gatosuite.agent.families import get_family
from gatosuite.evaluation.population import EvolveSettings, evolve
from gatosuite.raytools import init_ray

MODEL = dict(n_layer=2, n_head=2, n_embd=64, ffn=128, modules_per_layer=4, active=2)
"""PathNet's candidate: bigger than the tests', so that a job is seconds of training steps, not start-up."""
MUNET = dict(n_layer=2, n_head=2, n_embd=64, ffn=128)
"""muNet's system: its one route has PathNet's width and depth."""


def munet_system(folder: Path) -> str:
    """A fresh small muNet system whose one route is frozen, as after a first task (the seed of the search),
    with the text model the synthetic episodes use."""
    import torch

    from gatosuite.agent.candidate_training import task_data
    from gatosuite.agent.checkpoint import save_checkpoint
    from gatosuite.tokenization import Vocabulary

    text, _ = task_data("first-task", None, None, 4096, True)
    family = get_family("munet")
    torch.manual_seed(0)
    model = family.model(family.build("nano", Vocabulary(text.vocab_size).size, context=64, **MUNET))
    family.evolution.name_active_route(model, "first-task")  # the family's binding, through the registry
    model.freeze()
    save_checkpoint(folder / "system", model, text)
    return str(folder / "system")


def outcome(family: str, r) -> dict:
    """What a run decided: the scores and winners (PathNet: the whole population; muNet: without the folders
    its children were written to, which differ from run to run)."""
    if family == "pathnet":
        return {"history": r.history, "strategy": r.strategy.to_dict()}
    members = [{k: v for k, v in vars(m).items() if k != "checkpoint"} for m in r.strategy.members]
    return {"history": r.history, "members": members}


def timed_run(family: str, opts: dict, args: argparse.Namespace, workers: int, address: str | None,
              generations: int) -> tuple[float, dict]:
    """(seconds, outcome) of one evolution from the same starting population, in a fresh folder."""
    evo = get_family(family).evolution  # the family's binding to the driver, through the registry
    with tempfile.TemporaryDirectory() as run_dir:
        if family == "munet":
            opts = {**opts, "work": str(Path(run_dir) / "children")}
        s = EvolveSettings(task=args.task, generations=generations, steps=args.steps, seed=0, options=opts,
                           workers=workers, address=address)
        strategy = evo.strategy(opts, args.population, args.tournaments, seed=0)
        t0 = time.perf_counter()
        r = evolve(strategy, evo.run_candidate, s, Path(run_dir) / "run", progress=False)
        return time.perf_counter() - t0, outcome(family, r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="pathnet", choices=["pathnet", "munet"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ray-address", default=None, help="join this Ray cluster instead of starting a local Ray")
    ap.add_argument("--task", default="cartpole")
    ap.add_argument("--root", default=None, help="the task's collected data (default: synthetic episodes)")
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--tournaments", type=int, default=2,
                    help="K: PathNet's tournaments a generation (2K jobs); muNet's children a generation (K jobs)")
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--steps", type=int, default=40, help="T: training steps per candidate")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    k = args.workers
    load_before = os.getloadavg()[0]  # other jobs on a shared machine take cores from both sides
    family = args.family
    system_dir = tempfile.TemporaryDirectory()
    if family == "pathnet":
        opts = get_family("pathnet").evolution.options(overrides=MODEL, root=args.root, window=64, batch_size=8)
    else:  # the children's folder is set per run
        opts = get_family("munet").evolution.options(system=munet_system(Path(system_dir.name)), work="-",
                                                     root=args.root, window=64, batch_size=8)
    t0 = time.perf_counter()
    init_ray(k, args.ray_address)
    ray_start = time.perf_counter() - t0
    warm_1, _ = timed_run(family, opts, args, 1, None, 1)  # imports and data in this process
    warm_k, _ = timed_run(family, opts, args, k, args.ray_address, 1)  # and in each Ray worker
    times: dict[int, list[float]] = {1: [], k: []}
    states: dict[int, dict] = {}
    for _ in range(args.repeats):
        for w in (1, k):
            address = args.ray_address if w > 1 else None
            seconds, states[w] = timed_run(family, opts, args, w, address, args.generations)
            times[w].append(seconds)
    if family == "pathnet":
        jobs = args.generations * 2 * args.tournaments
    else:  # the first generation scores the one seed route
        jobs = 1 + (args.generations - 1) * args.tournaments
    t1, tk = statistics.median(times[1]), statistics.median(times[k])
    same = states[1] == states[k]
    rows = [{"workers": w, "where": "in-process" if w == 1 else "ray", "seconds": times[w],
             "median_s": statistics.median(times[w]), "jobs_per_s": jobs / statistics.median(times[w])}
            for w in (1, k)]
    print(f"Ray start-up: {ray_start:.1f} s; warm-up generation: {warm_1:.1f} s (1 worker), {warm_k:.1f} s ({k})")
    print(f"{'workers':<10}{'where':<12}{'median s':>10}{'jobs/s':>9}  runs")
    for r in rows:
        print(f"{r['workers']:<10}{r['where']:<12}{r['median_s']:>10.2f}{r['jobs_per_s']:>9.2f}  "
              f"{', '.join(f'{x:.2f}' for x in r['seconds'])}")
    print(f"speedup of {k} workers over 1: {t1 / tk:.2f}x ({jobs} jobs of {args.steps} steps; same winners: {same})")
    out = Path(__file__).parent / "results" / ("population-ray.json" if family == "pathnet" else
                                               f"population-ray-{family}.json")
    out.write_text(json.dumps({
        "machine": platform.machine(), "cpus": os.cpu_count(), "workers": k, "ray_address": args.ray_address,
        "date": time.strftime("%Y-%m-%d"), "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "ray_start_s": ray_start, "warmup_s": {"1": warm_1, str(k): warm_k},
        "settings": {"task": args.task, "data": args.root or "synthetic", "generations": args.generations,
                     "tournaments": args.tournaments, "population": args.population, "steps": args.steps,
                     "jobs": jobs, "family": family, "model": MODEL if family == "pathnet" else MUNET,
                     "window": opts["window"], "batch_size": opts["batch_size"]},
        "rows": rows, f"speedup_{k}_over_1": t1 / tk, "same_winners": same}, indent=2))
    print(f"wrote {out}")
    if not same:
        raise SystemExit(f"error: {k} workers ended with another population than 1 worker")


if __name__ == "__main__":
    main()
