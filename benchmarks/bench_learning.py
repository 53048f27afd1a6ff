"""The learnability ladder: for each task of the demo mix, on the same episodes and evaluation seeds,

1. an MLP behaviour-cloned on the raw observations (the data ceiling; `agent/mlp_bc.py`),
2. Gato `nano` trained on that task alone,
3. Gato `nano` trained on the whole mix (the demo's tasks plus its text and caption data),

with the expert-normalized score measured at several points of training, the steps and training seconds
to first reach 0.5, and the final score. Where a task's score is lost shows which rung fails it: the data
(rung 1), tokenization, objective and optimisation (rung 2), or interference between tasks (rung 3).

    python benchmarks/bench_learning.py --label before --recipe gato-2022   # all rungs (about an hour on 2 cores)
    python benchmarks/bench_learning.py --label after --rungs single --tasks inverted-pendulum

The Gato rungs train the default recipe (`gatosuite-2026`, agent/recipes.py) unless --recipe names another;
the label 'before' in results/learning.json was Gato's plain recipe (`gato-2022`), 'after' the default.

Results merge into benchmarks/results/learning.json under the label (finished entries are kept unless
--force), and benchmarks/results/learning-<label>.png is redrawn from them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from gatosuite.agent.recipes import DEFAULT_RECIPE, RECIPES
from gatosuite.agent.runtime import resolve
from gatosuite.demo import EPISODES, MIX, NOISE
from gatosuite.evaluation.scores import normalize_task

RESULTS = Path(__file__).parent / "results"
SEEDS = list(range(1000, 1010))


def score(policy, task: str, envs: int = 10) -> float:
    from gatosuite.evaluation.rollout import rollout

    results = rollout(policy, task, SEEDS, num_envs=envs, progress=False)
    return float(normalize_task(task, [r.score for r in results]).mean())


def summarize(curve: list[list[float]]) -> dict[str, Any]:
    """curve: [step, train_seconds, score] rows -> first step and seconds at >= 0.5, and the final score."""
    first = next((row for row in curve if row[2] >= 0.5), None)
    return {"curve": curve, "steps_to_half": first[0] if first else None,
            "seconds_to_half": first[1] if first else None, "final": curve[-1][2] if curve else None}


def rung_mlp(task: str, root: Path, steps: int, evals: list[int]) -> dict[str, Any]:
    import torch

    from gatosuite.agent.mlp_bc import MLPBC, Dataset, MLPPolicy, fit, state_stats
    from gatosuite.datasets import minari_store
    from gatosuite.envs.spaces import task_spaces

    torch.manual_seed(0)
    data = Dataset.from_episodes(list(minari_store.iter_episodes(root, task)))
    obs_space, act_space = task_spaces(task)
    model = MLPBC(obs_space, act_space, *state_stats(data))
    curve = []

    def on_step(step: int, seconds: float) -> None:
        if step in evals:
            curve.append([step, seconds, score(MLPPolicy(model), task)])
            print(f"  mlp {task} step {step}: {curve[-1][2]:.3f} ({seconds:.1f} s)", flush=True)

    fit(model, data, steps, on_step=on_step)
    return summarize(curve)


def rung_gato(tasks: list[str], root: Path, out: Path, steps: int, evals: list[int], text,
              extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Train nano on `tasks` in slices ending at each eval step (exact resume between slices); score
    every env task at each. Returns {task: summary}."""
    import shutil

    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.envs import SUITE

    shutil.rmtree(out, ignore_errors=True)
    curves: dict[str, list[list[float]]] = {t: [] for t in tasks if SUITE[t].is_env}
    seconds = 0.0
    for i, stop in enumerate(evals):
        args = TrainArgs(tasks=",".join(tasks), root=root, out=out, preset="nano", window=240, batch_size=16,
                         steps=steps, warmup=min(100, steps // 10), stop_at=stop, resume=i > 0, val_fraction=0.0,
                         log_every=50, val_every=0, ckpt_every=10**9, **extra)
        summary = train(args, text, progress=False)
        seconds += summary["seconds"]
        for t in curves:
            curves[t].append([stop, seconds, score(make_policy(out / "checkpoint", t), t)])
        print(f"  gato {'+'.join(tasks) if len(tasks) < 3 else 'mix'} step {stop} ({seconds:.0f} s): "
              + ", ".join(f"{t} {c[-1][2]:.2f}" for t, c in curves.items()), flush=True)
    return {t: summarize(c) for t, c in curves.items()}


def figure(results: dict[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure

    tasks = list(results)
    cols = 4
    rows = -(-len(tasks) // cols)
    fig = Figure(figsize=(3.2 * cols, 2.6 * rows), layout="constrained")
    styles = {"mlp": ("tab:gray", "MLP BC (raw obs)"), "single": ("tab:blue", "Gato nano, task alone"),
              "mix": ("tab:red", "Gato nano, whole mix")}
    for i, t in enumerate(tasks):
        ax = fig.add_subplot(rows, cols, i + 1)
        for rung, (color, label) in styles.items():
            c = results[t].get(rung, {}).get("curve")
            if c:
                ax.plot([r[1] for r in c], [r[2] for r in c], marker="o", markersize=3, color=color, label=label)
        ax.axhline(0.5, color="black", linestyle="--", linewidth=0.7)
        ax.set_xscale("log")
        ax.set_title(t, fontsize=9)
        ax.set_ylim(-0.2, 1.1)
        ax.set_xlabel("training seconds", fontsize=8)
        if i == 0:
            ax.set_ylabel("normalized score", fontsize=8)
            ax.legend(fontsize=6)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="latest", help="results are stored under this name (e.g. before, after)")
    ap.add_argument("--tasks", default=",".join(MIX))
    ap.add_argument("--rungs", default="mlp,single,mix")
    ap.add_argument("--root", type=Path, default=Path("data/ladder"))
    ap.add_argument("--episodes", type=int, default=20, help="expert episodes per task without a count of its own "
                    "in the demo's EPISODES")
    ap.add_argument("--episodes-fixed", action="store_true", help="--episodes for every task, ignoring EPISODES")
    ap.add_argument("--mlp-steps", type=int, default=2000)
    ap.add_argument("--single-steps", type=int, default=600)
    ap.add_argument("--mix-steps", type=int, default=2000)
    ap.add_argument("--recipe", default=DEFAULT_RECIPE, choices=list(RECIPES), help="training recipe of the Gato rungs")
    ap.add_argument("--gato-flags", default="{}", help="JSON of extra TrainArgs fields for the Gato rungs")
    ap.add_argument("--noise", default=None, help="JSON {task: p} of collection noise; default: the demo's")
    ap.add_argument("--segment-steps", type=int, default=None, help="TrainArgs.segment_steps of the Gato rungs")
    ap.add_argument("--force", action="store_true", help="recompute entries already in the results")
    a = ap.parse_args()
    from gatosuite.datasets.collect import collect
    from gatosuite.tokenization import default_text_model

    rt = resolve()
    tasks, rungs, extra = a.tasks.split(","), a.rungs.split(","), {"recipe": a.recipe, **json.loads(a.gato_flags)}
    noise = json.loads(a.noise) if a.noise else NOISE
    episodes = {} if a.episodes_fixed else EPISODES
    if a.segment_steps:
        extra["segment_steps"] = a.segment_steps
    path = RESULTS / "learning.json"
    store = json.loads(path.read_text()) if path.is_file() else {}
    run = store.setdefault(a.label, {"settings": {}, "tasks": {}})
    run["settings"].update({"episodes": a.episodes, "seeds": SEEDS, "mlp_steps": a.mlp_steps,
                            "single_steps": a.single_steps, "mix_steps": a.mix_steps, "gato_flags": extra,
                            "noise": noise, "runtime": rt.to_dict(), "date": time.strftime("%Y-%m-%d")})
    text = default_text_model(4096)
    for t in (MIX if "mix" in rungs else tasks):  # the mix rung needs the whole mix; the others their tasks
        collect(t, episodes.get(t, a.episodes), a.root, noise=noise.get(t, 0.0), progress=False,
                replace_mismatched=True)

    def save() -> None:
        path.write_text(json.dumps(store, indent=2))
        figure(run["tasks"], RESULTS / f"learning-{a.label}.png")

    for t in tasks:
        entry = run["tasks"].setdefault(t, {})
        if "mlp" in rungs and (a.force or "mlp" not in entry):
            entry["mlp"] = rung_mlp(t, a.root, a.mlp_steps, sorted({250, 500, 1000, a.mlp_steps}))
            save()
        if "single" in rungs and (a.force or "single" not in entry):
            evals = sorted({a.single_steps // 4 * k for k in (1, 2, 3)} | {a.single_steps})
            entry["single"] = rung_gato([t], a.root, a.root / "runs" / f"single-{t}", a.single_steps, evals, text,
                                        extra)[t]
            save()
    if "mix" in rungs and (a.force or any("mix" not in run["tasks"].get(t, {}) for t in tasks)):
        evals = sorted({a.mix_steps // 4 * k for k in (1, 2, 3)} | {a.mix_steps})
        mixed = rung_gato(MIX + ["text-lm", "babyai-captions"], a.root, a.root / "runs" / "mix", a.mix_steps, evals,
                          text, extra)
        for t, v in mixed.items():
            run["tasks"].setdefault(t, {})["mix"] = v
        save()
    print(f"{'task':<24}{'MLP final':>10}{'alone':>8}{'mix':>8}   seconds to 0.5 (MLP / alone / mix)")
    for t, e in run["tasks"].items():
        f = lambda r: "-" if e.get(r, {}).get("final") is None else f"{e[r]['final']:.2f}"  # noqa: E731
        s = lambda r: "-" if e.get(r, {}).get("seconds_to_half") is None else f"{e[r]['seconds_to_half']:.0f}"  # noqa: E731
        print(f"{t:<24}{f('mlp'):>10}{f('single'):>8}{f('mix'):>8}   {s('mlp')} / {s('single')} / {s('mix')}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
