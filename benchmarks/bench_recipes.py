"""The training recipes side by side (agent/recipes.py): `gatosuite train` with no recipe flags against
`--recipe gato-2022`, from the command line, on one task alone, over several training seeds.

Both recipes train on the same collected episodes (the demo's noise, perturbed starts and episode count
for the task), with the same flags but the recipe's, for the same steps, and are scored on the same 10
evaluation seeds (1000 onward). This is how tests/agent/test_learning_recipes.py's step count and margin
were chosen; the CPU-seconds of each run are recorded, measured with one torch thread unless --threads.

    python benchmarks/bench_recipes.py --steps 300 --seeds 0,1,2,3,4,5 --label ip-300
    python benchmarks/bench_recipes.py --steps 200 --episodes 50 --recipes gatosuite-2026 --label ip-200-e50

Writes benchmarks/results/recipes.json (merged by label).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
EVAL_SEEDS = list(range(1000, 1010))


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_one(task: str, root: Path, out: Path, recipe: str, seed: int, a: argparse.Namespace) -> dict:
    """Train one recipe from the command line and score it; returns its scores and CPU-seconds."""
    from gatosuite.agent.factory import make_policy
    from gatosuite.cli import main
    from gatosuite.evaluation.rollout import rollout
    from gatosuite.evaluation.scores import normalize_task

    shutil.rmtree(out, ignore_errors=True)
    c0 = cpu_seconds()
    main(["train", "--tasks", task, "--root", str(root), "--out", str(out), "--steps", str(a.steps),
          "--window", str(a.window), "--warmup", str(a.warmup), "--val-fraction", "0", "--val-every", "0",
          "--log-every", str(a.steps), "--seed", str(seed), "--precision", "fp32", "--recipe", recipe])
    c1 = cpu_seconds()
    policy = make_policy(out / "checkpoint", task, precision="fp32")
    results = rollout(policy, task, EVAL_SEEDS, num_envs=len(EVAL_SEEDS), progress=False)
    scores = normalize_task(task, [r.score for r in results])
    return {"mean": float(scores.mean()), "episodes": [round(float(s), 3) for s in scores],
            "train_cpu_s": round(c1 - c0, 1), "eval_cpu_s": round(cpu_seconds() - c1, 1)}


def main() -> None:
    import torch

    from gatosuite.agent.recipes import RECIPES
    from gatosuite.datasets.collect import collect
    from gatosuite.demo import EPISODES, NOISE
    from gatosuite.envs import SUITE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="inverted-pendulum")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--window", type=int, default=96)
    ap.add_argument("--warmup", type=int, default=100, help="gatosuite train's default")
    ap.add_argument("--episodes", type=int, default=None, help="default: the demo's count for the task")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (CPU-seconds are cleanest with 1)")
    ap.add_argument("--label", default="latest")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    episodes = a.episodes or EPISODES.get(a.task, 20)
    work = Path(tempfile.mkdtemp(prefix="gatosuite-recipes-"))
    perturb = bool(SUITE[a.task].start_spread)  # as the demo collects it
    collect(a.task, episodes, work / "data", noise=NOISE.get(a.task, 0.0), progress=False, perturb_start=perturb)
    path = RESULTS / "recipes.json"
    store = json.loads(path.read_text()) if path.is_file() else {}
    entry = store.setdefault(a.label, {})
    entry["settings"] = {"task": a.task, "steps": a.steps, "window": a.window, "warmup": a.warmup,
                         "episodes": episodes, "noise": NOISE.get(a.task, 0.0), "perturb_start": perturb,
                         "eval_seeds": EVAL_SEEDS, "threads": a.threads, "date": time.strftime("%Y-%m-%d"),
                         "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    runs = entry.setdefault("runs", {})
    for seed in [int(s) for s in a.seeds.split(",")]:
        for recipe in a.recipes.split(","):
            r = run_one(a.task, work / "data", work / f"{recipe}-{seed}", recipe, seed, a)
            runs.setdefault(recipe, {})[str(seed)] = r
            print(f"{recipe:<16} seed {seed}: {r['mean']:.3f}  (train {r['train_cpu_s']:.0f} CPU-s, "
                  f"eval {r['eval_cpu_s']:.0f} CPU-s)", flush=True)
            path.write_text(json.dumps(store, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    means = {k: [v["mean"] for v in r.values()] for k, r in runs.items()}
    for k, m in means.items():
        print(f"{k:<16} mean {sum(m) / len(m):.3f}, min {min(m):.3f}, max {max(m):.3f} over {len(m)} seeds")
    if len(means) == 2:
        (x, mx), (y, my) = means.items()
        print(f"{x} / {y}: {(sum(mx) / len(mx)) / max(1e-9, sum(my) / len(my)):.1f}x")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
