"""The demo's generalist at a fixed number of steps: an A/B harness for its mix (sampling weights, seeds).

`gatosuite demo` fits its schedule to a time budget, so two demo runs on different machines train for
different numbers of steps. This trains the demo's recipe (its mix, TRAINING and MIX_WEIGHTS, without the
goal family) for exactly --steps on an existing data folder, then scores every task of the mix on
seeds 1000 onward (30 episodes, BabyAI 100). A step count taken from a slower machine's demo run
reproduces what that machine learns, on any machine.

    python benchmarks/bench_demo_mix.py --root data/demo --steps 2286 --label weights-v10
    python benchmarks/bench_demo_mix.py --root data/demo --steps 2286 --weights '{"inverted-pendulum": 1}'
    python benchmarks/bench_demo_mix.py --root data/demo --steps 3451 --precision bf16 --label bf16

The data folder is one a demo run collected (`gatosuite demo --root ...`). Results merge into
benchmarks/results/demo_mix.json under the label: each task's mean (`scores`), its per-episode normalized
scores (`episodes`) and the task-level aggregate over them (`aggregate`, evaluation/scores.py).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from gatosuite.demo import MIX, MIX_WEIGHTS, TRAINING

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="a demo run's data folder")
    ap.add_argument("--out", type=Path, default=None, help="run folder (default runs/demo-mix-<label>)")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--weights", default="{}", help="JSON {task: weight} laid over the demo's MIX_WEIGHTS")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                    help="bf16 on a CPU without AMX gives an AMX machine's numerics, slowly")
    ap.add_argument("--label", default="latest")
    a = ap.parse_args()

    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.evaluation.aggregate_text import describe_aggregate
    from gatosuite.evaluation.rollout import rollout
    from gatosuite.evaluation.scores import by_domain, normalize_task
    from gatosuite.tokenization import default_text_model

    out = a.out or Path("runs") / f"demo-mix-{a.label}"
    tasks = MIX + ["text-lm", "babyai-captions"]
    weights = {**MIX_WEIGHTS, **json.loads(a.weights)}
    args = TrainArgs(tasks=",".join(tasks), root=a.root, out=out, preset="nano", window=240, batch_size=16,
                     seed=a.seed, task_weights=[f"{t}={w}" for t, w in weights.items() if t in tasks],
                     steps=a.steps, warmup=100, log_every=25, val_every=250, ckpt_every=250,
                     precision=a.precision, resume=(out / "checkpoint").exists(), **TRAINING)
    t0 = time.perf_counter()
    trained = train(args, default_text_model(4096), progress=True)
    seconds = time.perf_counter() - t0
    scores, episodes = {}, {}
    for task in MIX:
        n = 100 if task.startswith("babyai") else 30
        policy = make_policy(out / "checkpoint", task, precision=a.precision)
        results = rollout(policy, task, list(range(1000, 1000 + n)), num_envs=min(n, 30), progress=False)
        episodes[task] = normalize_task(task, [r.score for r in results]).tolist()
        scores[task] = float(np.mean(episodes[task]))
        print(f"{task:26s} {scores[task]:.3f} ({n} episodes)", flush=True)
    mean = float(np.mean(list(scores.values())))
    print(f"mean {mean:.3f}, tasks >= 0.5: {sum(v >= 0.5 for v in scores.values())} of {len(scores)}")
    aggregate = by_domain(episodes)
    overall = aggregate["overall"]
    print(f"IQM {overall['iqm']:.3f} [{overall['iqm_ci'][0]:.3f}, {overall['iqm_ci'][1]:.3f}]: "
          f"{describe_aggregate(overall)}")
    path = RESULTS / "demo_mix.json"
    store = json.loads(path.read_text()) if path.exists() else {}
    store[a.label] = {"steps": int(trained["step"]), "seed": a.seed, "weights": weights, "root": str(a.root),
                      "precision": a.precision,
                      "train_seconds": seconds, "scores": scores, "mean": mean, "episodes": episodes,
                      "aggregate": aggregate}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(store, indent=2))


if __name__ == "__main__":
    main()
