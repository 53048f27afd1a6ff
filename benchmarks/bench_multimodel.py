"""MultiModel's claim at the suite's scale: a low-data task gains from being trained with other tasks.

Kaiser et al. 2017 (section 4) report that tasks with little data (parsing) gain most from joint training
with the others. Here one task gets few demonstrations (`--episodes`, collected as the demo collects it:
its noise and perturbed starts) and `multimodel` nano is trained on it

- (a) **alone**, for `--task-steps` steps, and
- (b) **in the mix**: the demo's other tasks (their data from `--demo-root`, read-only) plus the same
  low-data dataset, at the demo's sampling weights (and `--weight` for the task), for as many steps as it
  takes the trainer's own sampler (same seed) to draw at least as many segments of the task as run (a)
  draws. The count is exact: the sampler is replayed, not estimated from the task's share.

Same seed, recipe (the default, `gatosuite-2026`), window 240, batch 16, one torch thread; the schedule
(warmup a tenth of the steps, cosine decay) is stretched to each run's length. Both are scored on the
task's expert-normalized return over `--eval-episodes` seeds from 5000 (`gatosuite.evaluation`), with the
episode-bootstrap 95% CI of each mean and of the difference.

    python benchmarks/bench_multimodel.py --task acrobot --episodes 50 --task-steps 60 --seeds 0

The data folder `--root` (default data/mm-mix) is this benchmark's own: symlinks to the demo's datasets
of the other tasks, copies of its text and caption caches, and the low-data task's collection; token
caches are built there. Results merge into benchmarks/results/multimodel.json under `--label`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
EVAL_SEED = 5000


def prepare_root(root: Path, demo_root: Path, task: str, episodes: int, others: list[str]) -> None:
    """`root` with the demo's datasets of `others` linked in, its text caches copied, and `episodes`
    demonstrations of `task` collected (the demo's noise and start spread for it)."""
    from gatosuite.datasets.collect import collect
    from gatosuite.datasets.minari_store import dataset_dir
    from gatosuite.demo import NOISE
    from gatosuite.envs import SUITE

    for t in others:
        src, dst = dataset_dir(demo_root, t).parent, dataset_dir(root, t).parent
        if SUITE[t].is_env:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                dst.symlink_to(src.resolve(), target_is_directory=True)
        elif not (root / "cache" / t).exists() and (demo_root / "cache" / t).exists():
            shutil.copytree(demo_root / "cache" / t, root / "cache" / t)  # a copy: a rebuild must not write there
    collect(task, episodes, root, noise=NOISE.get(task, 0.0), progress=False, replace_mismatched=True, resume=True,
            perturb_start=bool(SUITE[task].start_spread))


def train_args(tasks: list[str], root: Path, out: Path, steps: int, seed: int, weights: dict[str, float]):
    from gatosuite.agent.train import TrainArgs
    from gatosuite.demo import TRAINING

    return TrainArgs(tasks=",".join(tasks), root=root, out=out, model="multimodel", preset="nano", window=240,
                     batch_size=16, steps=steps, warmup=max(1, steps // 10), seed=seed, val_fraction=0.0,
                     val_every=0, log_every=max(1, steps // 10), ckpt_every=10 * steps, precision="fp32",
                     device="cpu", task_weights=[f"{t}={w}" for t, w in weights.items() if t in tasks], **TRAINING)


def task_segments(args, caches: dict, task: str, steps: int) -> np.ndarray:
    """(steps,) cumulative segments of `task` the trainer's sampler draws in its first `steps` batches:
    the sampler built as agent/train.py builds it (no validation split), replayed."""
    from gatosuite.agent.train import parse_task_weights
    from gatosuite.datasets.sampler import MixedSampler

    sampler = MixedSampler(caches, parse_task_weights(args.task_weights, list(caches)), window=args.window,
                           seed=args.seed, split="all", segment_steps=args.segment_length,
                           prompt_prob=args.prompt_prob, prompt_mode=args.prompt_mode)
    counts = [sum(t == task for row in sampler.sample_rows(args.batch_size) for t, _ in row) for _ in range(steps)]
    return np.cumsum(counts)


def bootstrap_diff(a: np.ndarray, b: np.ndarray, reps: int = 4000, seed: int = 0) -> list[float]:
    """95% percentile-bootstrap CI of mean(b) - mean(a), resampling each run's episodes."""
    rng = np.random.default_rng(seed)
    d = [rng.choice(b, len(b)).mean() - rng.choice(a, len(a)).mean() for _ in range(reps)]
    return [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]


def run(name: str, args, text_model, caches: dict, a: argparse.Namespace) -> dict:
    """Train one run and score it on the task; its entry of the results."""
    from gatosuite.agent.train import train
    from gatosuite.evaluation.evaluate import EvalSettings, evaluate_tasks

    shutil.rmtree(args.out, ignore_errors=True)
    t0 = time.perf_counter()
    summary = train(args, text_model, caches, progress=False)
    seconds = time.perf_counter() - t0
    s = EvalSettings(episodes=a.eval_episodes, seed=EVAL_SEED, envs=a.eval_episodes, video=False, device="cpu",
                     precision="fp32")
    entry = evaluate_tasks(args.out / "checkpoint", [a.task], args.out / "eval", s, progress=False)[a.task]
    norm = [e["normalized"] for e in entry["episodes"]]
    print(f"{name:6s} seed {args.seed}: {summary['step']} steps in {seconds:.0f} s, loss {summary['loss']:.3f}; "
          f"{a.task} {entry['normalized']:.3f} [{entry['normalized_ci'][0]:.3f}, {entry['normalized_ci'][1]:.3f}]",
          flush=True)
    return {"steps": int(summary["step"]), "train_seconds": round(seconds, 1), "final_loss": summary["loss"],
            "normalized": entry["normalized"], "normalized_ci": entry["normalized_ci"],
            "episodes": [round(float(x), 4) for x in norm], "seeds": entry["seeds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="acrobot", help="the low-data task")
    ap.add_argument("--episodes", type=int, default=50, help="its demonstrations")
    ap.add_argument("--task-steps", type=int, default=60, help="steps of the run on the task alone")
    ap.add_argument("--weight", type=float, default=None, help="the task's sampling weight in the mix "
                    "(default: the demo's, 1)")
    ap.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    ap.add_argument("--eval-episodes", type=int, default=20)
    ap.add_argument("--root", type=Path, default=Path("data/mm-mix"))
    ap.add_argument("--demo-root", type=Path, default=Path("data/demo"))
    ap.add_argument("--out", type=Path, default=Path("runs/bench-multimodel"))
    ap.add_argument("--label", default="latest")
    a = ap.parse_args()

    import torch

    from gatosuite.agent.train import load_caches
    from gatosuite.demo import MIX, MIX_WEIGHTS
    from gatosuite.tokenization import default_text_model

    torch.set_num_threads(1)
    t_start = time.perf_counter()
    mix = MIX + ["text-lm", "babyai-captions"]
    others = [t for t in mix if t != a.task]
    prepare_root(a.root, a.demo_root, a.task, a.episodes, others)
    text_model = default_text_model(4096)
    weights = {**MIX_WEIGHTS, **({a.task: a.weight} if a.weight is not None else {})}
    all_caches = load_caches(train_args(mix, a.root, a.out, 1, 0, weights), text_model)
    alone_caches = {a.task: all_caches[a.task]}
    store_runs = {}
    for seed in [int(s) for s in a.seeds.split(",")]:
        alone = train_args([a.task], a.root, a.out / f"alone-{seed}", a.task_steps, seed, weights)
        seen = int(task_segments(alone, alone_caches, a.task, a.task_steps)[-1])
        probe = train_args(mix, a.root, a.out / f"mix-{seed}", 1, seed, weights)
        guess = int(a.task_steps * 60 / max(1, a.weight or 1))  # enough batches to pass `seen` at weight >= 1
        cum = task_segments(probe, all_caches, a.task, guess)
        while cum[-1] < seen:
            guess *= 2
            cum = task_segments(probe, all_caches, a.task, guess)
        mix_steps = int(np.searchsorted(cum, seen) + 1)
        mixed = train_args(mix, a.root, a.out / f"mix-{seed}", mix_steps, seed, weights)
        print(f"seed {seed}: {seen} {a.task} segments: {a.task_steps} steps alone, {mix_steps} in the mix "
              f"({int(cum[mix_steps - 1])} segments)", flush=True)
        r_alone = run("alone", alone, text_model, alone_caches, a)
        r_mix = run("mix", mixed, text_model, all_caches, a)
        r_alone["task_segments"], r_mix["task_segments"] = seen, int(cum[mix_steps - 1])
        diff = float(np.mean(r_mix["episodes"]) - np.mean(r_alone["episodes"]))
        ci = bootstrap_diff(np.array(r_alone["episodes"]), np.array(r_mix["episodes"]))
        print(f"seed {seed}: mix - alone = {diff:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]", flush=True)
        store_runs[str(seed)] = {"alone": r_alone, "mix": r_mix, "gain": diff, "gain_ci": ci}
    gains = [v["gain"] for v in store_runs.values()]
    path = RESULTS / "multimodel.json"
    store = json.loads(path.read_text()) if path.exists() else {}
    store[a.label] = {"task": a.task, "episodes": a.episodes, "task_steps": a.task_steps, "mix": mix,
                      "weights": {t: weights.get(t, 1.0) for t in mix}, "eval_seed": EVAL_SEED,
                      "eval_episodes": a.eval_episodes, "window": 240, "batch_size": 16, "threads": 1,
                      "runs": store_runs, "mean_gain": float(np.mean(gains)),
                      "wall_seconds": round(time.perf_counter() - t_start, 1)}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(store, indent=2))
    print(f"mean gain over {len(gains)} seed(s): {np.mean(gains):+.3f}; wrote {path}")


if __name__ == "__main__":
    main()
