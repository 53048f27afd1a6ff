"""UniT's claim at the suite's scale: one shared model matches per-task models at about 1/N of their
parameters, and the ablation of a shared against separate decoders.

Hu & Singh 2021 train one UniT on 7 tasks and compare it with a separately trained UniT per task (the
shared model comes close at a fraction of the total parameters), and ablate a decoder shared by every
task against one decoder per task. Here, on N control tasks of the demo's data
(`--root data/demo`, read-only):

- **per-task**: N `unit` nano models, one per task, `--steps` S steps each;
- **shared**: one `unit` nano model on all N tasks (uniform weights), N x S steps, about the per-task
  runs' data in all (the sampler balances segments across tasks, so one task's share differs from its
  per-task run's; the draws are replayed and counted per task);
- **separate decoders**: the same with `shared_decoder=False` (one decoder per task), N x S steps.

Same seed, recipe (the default, `gatosuite-2026`), window 240, batch 16, one torch thread; the schedule
(warmup 100 steps, Gato's default, or `--warmup-frac` of each run's steps, then cosine decay) spans each
run's length; with few steps use --warmup-frac, or the per-task runs never leave their warmup. Every model
is scored on each of its tasks' expert-normalized return over `--eval-episodes` seeds from 5000
(gatosuite.evaluation) with the episode-bootstrap 95% CI; the mean over tasks gets a CI by resampling
episodes within each task, and so does its difference between two arms.

    python benchmarks/bench_unit.py --tasks cartpole,acrobot,inverted-pendulum --steps 250 --label s250
    python benchmarks/bench_unit.py --steps 80 --warmup-frac 0.4 --label s80-w04 --out runs/bench-unit-s80w

The data folder `--bench-root` (default data/unit-bench) is this benchmark's own: symlinks to the demo's
datasets, with token caches built there. Results merge into benchmarks/results/unit.json under --label.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
EVAL_SEED = 5000


def prepare_root(root: Path, demo_root: Path, tasks: list[str]) -> None:
    """`root` with the demo's datasets of `tasks` linked in (token caches are then built under `root`)."""
    from gatosuite.datasets.minari_store import dataset_dir

    for t in tasks:
        src, dst = dataset_dir(demo_root, t).parent, dataset_dir(root, t).parent
        if not src.exists():
            raise SystemExit(f"no dataset of '{t}' under {demo_root}; collect it with `gatosuite demo` first")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            dst.symlink_to(src.resolve(), target_is_directory=True)


def train_args(tasks: list[str], root: Path, out: Path, steps: int, seed: int, warmup_frac: float | None = None):
    """A run's TrainArgs; warmup `warmup_frac` of its steps, or (None) Gato's 100 steps, capped at the run."""
    from gatosuite.agent.train import TrainArgs
    from gatosuite.demo import TRAINING

    warmup = min(100, steps) if warmup_frac is None else max(1, round(warmup_frac * steps))
    return TrainArgs(tasks=",".join(tasks), root=root, out=out, model="unit", preset="nano", window=240,
                     batch_size=16, steps=steps, warmup=warmup, seed=seed, val_fraction=0.0,
                     val_every=0, log_every=max(1, steps // 10), ckpt_every=10 * steps, precision="fp32",
                     device="cpu", **TRAINING)


def model_config(args, text_model, shared_decoder: bool):
    """The nano config of a run (the recipe's overrides, `shared_decoder`); the trainer fills its tasks."""
    from gatosuite.agent.families import get_family
    from gatosuite.agent.train import parse_overrides
    from gatosuite.tokenization import Vocabulary

    family = get_family("unit")
    return family.build("nano", Vocabulary(text_model.vocab_size).size, context=args.window,
                        shared_decoder=shared_decoder, **parse_overrides(args.overrides, family.config))


def task_segments(args, caches: dict) -> dict[str, int]:
    """Segments of each task the trainer's sampler draws over the run (built as agent/train.py builds it
    without a validation split, and replayed)."""
    from gatosuite.agent.train import parse_task_weights
    from gatosuite.datasets.sampler import MixedSampler

    sampler = MixedSampler(caches, parse_task_weights(args.task_weights, list(caches)), window=args.window,
                           seed=args.seed, split="all", segment_steps=args.segment_length,
                           prompt_prob=args.prompt_prob, prompt_mode=args.prompt_mode)
    counts = dict.fromkeys(caches, 0)
    for _ in range(args.steps):
        for row in sampler.sample_rows(args.batch_size):
            for t, _ in row:
                counts[t] += 1
    return counts


def mean_ci(episodes: dict[str, list[float]], reps: int = 4000, seed: int = 0) -> list[float]:
    """95% bootstrap CI of the mean over tasks of each task's mean, resampling episodes within tasks."""
    rng = np.random.default_rng(seed)
    arr = [np.asarray(v) for v in episodes.values()]
    boot = [np.mean([rng.choice(a, len(a)).mean() for a in arr]) for _ in range(reps)]
    return [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]


def diff_ci(a: dict[str, list[float]], b: dict[str, list[float]], reps: int = 4000, seed: int = 0) -> list[float]:
    """95% bootstrap CI of mean-over-tasks(b) - mean-over-tasks(a), resampling each arm's episodes."""
    rng = np.random.default_rng(seed)
    boot = [np.mean([rng.choice(np.asarray(b[t]), len(b[t])).mean() - rng.choice(np.asarray(a[t]), len(a[t])).mean()
                     for t in a]) for _ in range(reps)]
    return [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]


def run(name: str, args, text_model, caches: dict, cfg, tasks: list[str], eval_episodes: int) -> dict:
    """Train one model and score it on each of its tasks; its entry of the results."""
    from gatosuite.agent.checkpoint import load_model
    from gatosuite.agent.train import train
    from gatosuite.evaluation.evaluate import EvalSettings, evaluate_tasks

    shutil.rmtree(args.out, ignore_errors=True)
    segments = task_segments(args, caches)
    t0 = time.perf_counter()
    summary = train(args, text_model, caches, progress=False, cfg=cfg)
    seconds = time.perf_counter() - t0
    s = EvalSettings(episodes=eval_episodes, seed=EVAL_SEED, envs=eval_episodes, video=False, device="cpu",
                     precision="fp32")
    t1 = time.perf_counter()
    entries = evaluate_tasks(args.out / "checkpoint", tasks, args.out / "eval", s, progress=False)
    model, _ = load_model(args.out / "checkpoint")
    out = {"steps": int(summary["step"]), "warmup": args.warmup, "train_seconds": round(seconds, 1),
           "eval_seconds": round(time.perf_counter() - t1, 1), "final_loss": summary["loss"],
           "task_segments": segments, "params_non_embedding": model.num_parameters(True),
           "params_total": model.num_parameters(False), "active_non_embedding": model.active_parameters(True),
           "shared_decoder": model.cfg.shared_decoder, "tasks": {}}
    for t, e in entries.items():
        out["tasks"][t] = {"normalized": e["normalized"], "normalized_ci": e["normalized_ci"], "score": e["score"],
                           "episodes": [round(float(x["normalized"]), 4) for x in e["episodes"]], "seeds": e["seeds"]}
        print(f"{name:10s} {t:24s} {e['normalized']:6.3f} [{e['normalized_ci'][0]:.3f}, "
              f"{e['normalized_ci'][1]:.3f}]", flush=True)
    print(f"{name:10s} {summary['step']} steps in {seconds:.0f} s (loss {summary['loss']:.3f}); "
          f"{out['params_non_embedding']:,} non-embedding parameters", flush=True)
    return out


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="cartpole,acrobot,inverted-pendulum")
    ap.add_argument("--steps", type=int, default=250, help="S: steps of each per-task model (shared: N x S)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-episodes", type=int, default=10)
    ap.add_argument("--warmup-frac", type=float, default=None, help="warmup as a share of each run's steps, the "
                    "same schedule shape for every arm (default: 100 steps, capped at the run's length)")
    ap.add_argument("--root", type=Path, default=Path("data/demo"), help="the demo's data (read only)")
    ap.add_argument("--bench-root", type=Path, default=Path("data/unit-bench"))
    ap.add_argument("--out", type=Path, default=Path("runs/bench-unit"))
    ap.add_argument("--label", default="latest")
    a = ap.parse_args()

    import torch

    from gatosuite.agent.train import load_caches
    from gatosuite.tokenization import default_text_model

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    tasks = a.tasks.split(",")
    n, s = len(tasks), a.steps
    prepare_root(a.bench_root, a.root, tasks)
    text_model = default_text_model(4096)
    caches = load_caches(train_args(tasks, a.bench_root, a.out, 1, a.seed), text_model)
    runs: dict[str, dict] = {}
    for t in tasks:
        args = train_args([t], a.bench_root, a.out / f"alone-{t}", s, a.seed, a.warmup_frac)
        runs[f"alone-{t}"] = run("alone", args, text_model, {t: caches[t]}, model_config(args, text_model, True),
                                 [t], a.eval_episodes)
    for name, shared in (("shared", True), ("separate", False)):
        args = train_args(tasks, a.bench_root, a.out / name, n * s, a.seed, a.warmup_frac)
        runs[name] = run(name, args, text_model, caches, model_config(args, text_model, shared), tasks,
                         a.eval_episodes)

    arms = {"per-task": {t: runs[f"alone-{t}"]["tasks"][t] for t in tasks},
            "shared": runs["shared"]["tasks"], "separate": runs["separate"]["tasks"]}
    params = {"per-task": {k: sum(runs[f"alone-{t}"][k] for t in tasks)
                           for k in ("params_non_embedding", "params_total")},
              "shared": {k: runs["shared"][k] for k in ("params_non_embedding", "params_total")},
              "separate": {k: runs["separate"][k] for k in ("params_non_embedding", "params_total")}}
    episodes = {arm: {t: v[t]["episodes"] for t in tasks} for arm, v in arms.items()}
    summary = {arm: {"mean": float(np.mean([v[t]["normalized"] for t in tasks])), "mean_ci": mean_ci(episodes[arm]),
                     **params[arm]} for arm, v in arms.items()}
    diffs = {"shared - per-task": float(summary["shared"]["mean"] - summary["per-task"]["mean"]),
             "shared - per-task ci": diff_ci(episodes["per-task"], episodes["shared"]),
             "separate - shared": float(summary["separate"]["mean"] - summary["shared"]["mean"]),
             "separate - shared ci": diff_ci(episodes["shared"], episodes["separate"])}
    print(f"\n{'arm':10s} " + " ".join(f"{t[:22]:>22s}" for t in tasks) + f" {'mean':>20s} {'non-emb':>10s} "
          f"{'total':>10s}")
    for arm, v in arms.items():
        cells = " ".join(f"{v[t]['normalized']:7.3f} [{v[t]['normalized_ci'][0]:.2f},{v[t]['normalized_ci'][1]:.2f}]"
                         for t in tasks)
        m = summary[arm]
        print(f"{arm:10s} {cells} {m['mean']:6.3f} [{m['mean_ci'][0]:.2f},{m['mean_ci'][1]:.2f}] "
              f"{m['params_non_embedding']:>10,} {m['params_total']:>10,}")
    ratio = summary["shared"]["params_total"] / summary["per-task"]["params_total"]
    print(f"shared / per-task parameters (total): {ratio:.3f} (1/N = {1 / n:.3f}); shared - per-task "
          f"{diffs['shared - per-task']:+.3f} [{diffs['shared - per-task ci'][0]:+.3f}, "
          f"{diffs['shared - per-task ci'][1]:+.3f}]; separate - shared {diffs['separate - shared']:+.3f} "
          f"[{diffs['separate - shared ci'][0]:+.3f}, {diffs['separate - shared ci'][1]:+.3f}]")
    path = RESULTS / "unit.json"
    store = json.loads(path.read_text()) if path.exists() else {}
    store[a.label] = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "machine": cpu_model(), "tasks": tasks,
                      "steps_per_task": s, "warmup_frac": a.warmup_frac,
                      "seed": a.seed, "eval_seed": EVAL_SEED, "eval_episodes": a.eval_episodes,
                      "window": 240, "batch_size": 16, "threads": 1, "recipe": "gatosuite-2026",
                      "summary": summary, "diffs": diffs, "param_ratio_total": ratio,
                      "param_ratio_non_embedding": summary["shared"]["params_non_embedding"]
                      / summary["per-task"]["params_non_embedding"], "runs": runs,
                      "wall_seconds": round(time.perf_counter() - t_start, 1)}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(store, indent=2))
    print(f"wrote {path} ({time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
