"""Few-shot prompting where the prompt is necessary: goal families (hidden-goal tasks, envs/hidden.py).

For each goal family: collect expert episodes of its 50 training goals, train Gato `nano` on them with
prompt conditioning that draws each window's demonstration from the same goal, train an oracle of the
same shape for the same steps on the same episodes with the goal left in the observation, then run the
few-shot protocol on the 10 held-out goals (evaluation/fewshot_goal.py): zero-shot, prompting with
k = 1 and 4 demonstrations of the episode's goal, fine-tuning and scratch on those k, and the oracle, all
on the same seeds with 95% bootstrap CIs. The claim measured: k = 1 prompting beats zero-shot with
non-overlapping CIs and reaches >= 0.6 of the oracle's normalized score.

    python benchmarks/bench_fewshot.py                      # reacher-goal and mw-reach-goal
    python benchmarks/bench_fewshot.py --goal-families reacher-goal --steps 1500 --label reacher-1500

Writes benchmarks/results/fewshot.json (merged by label and goal family) and fewshot-<label>.png: validation
NLL of held-out episodes of training goals with and without a prompt of their goal, over training.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import time
from pathlib import Path
from typing import Any

from gatosuite.agent.runtime import resolve
from gatosuite.demo import GOAL_TRAINING, TRAINING

RESULTS = Path(__file__).parent / "results"


def val_curves(run: Path) -> dict[str, list[list[float]]]:
    """{key: [[step, value], ...]} of the validation rows in a run's train.csv."""
    out: dict[str, list[list[float]]] = {}
    with open(run / "train.csv") as f:
        for row in csv.DictReader(f):
            if row["key"].startswith("val_loss"):
                out.setdefault(row["key"], []).append([int(row["step"]), float(row["value"])])
    return out


def train_one(task: str, root: Path, out: Path, steps: int, text, flags: dict[str, Any]) -> float:
    from gatosuite.agent.train import TrainArgs, train

    shutil.rmtree(out, ignore_errors=True)
    args = TrainArgs(tasks=task, root=root, out=out, preset="nano", window=240, batch_size=16, steps=steps,
                     warmup=min(100, steps // 10), val_fraction=0.1, val_every=max(1, steps // 8), log_every=50,
                     ckpt_every=10**9, **flags)
    return float(train(args, text, progress=True)["seconds"])


def run_goal_family(goal_family: str, a: argparse.Namespace, text) -> dict[str, Any]:
    from gatosuite.datasets.collect import collect
    from gatosuite.evaluation.evaluate import EvalSettings
    from gatosuite.evaluation.fewshot_goal import fewshot_goal_family

    root = a.root / goal_family
    prompted, oracle = root / "runs" / a.run, root / "runs" / "oracle"
    for run, flag in ((prompted, a.reuse_models), (oracle, a.reuse_oracle or a.reuse_models)):
        if flag and not (run / "checkpoint").is_dir():
            raise SystemExit(f"error: reusing '{run}', which holds no checkpoint; drop --reuse-* to train it")
    flags = {**TRAINING, "prompt_prob": a.prompt_prob, "prompt_mode": a.prompt_mode}
    flags.update(json.loads(a.gato_flags))
    if a.reuse_models:  # nothing to collect or train; record how the reused model was trained
        from gatosuite.agent.checkpoint import read_config, train_args_of

        trained = train_args_of(read_config(prompted / "checkpoint"))
        flags = {k: trained.get(k) for k in flags}
    else:
        for task in (goal_family, f"{goal_family}-oracle"):  # the same seeds: the same episodes, goal hidden or shown
            collect(task, a.episodes, root, noise=a.noise, progress=True, replace_mismatched=True, resume=True)
    t_train = None if a.reuse_models else train_one(goal_family, root, prompted, a.steps, text, flags)
    if a.reuse_oracle or a.reuse_models:  # an earlier run's oracle on the same data (prompt settings do not touch it)
        t_oracle = None
    else:
        t_oracle = train_one(f"{goal_family}-oracle", root, oracle, a.oracle_steps or a.steps, text,
                             {k: v for k, v in flags.items()
                              if k not in ("prompt_prob", "prompt_mode", "goal_start_prob")})
    s = EvalSettings(episodes=a.eval_episodes, envs=min(a.eval_episodes, 20))
    work = root / "runs" / ("fewshot" if a.run == "prompted" else f"fewshot-{a.run}")
    few = fewshot_goal_family(prompted / "checkpoint", f"{goal_family}-heldout", root, work, [1, 4], s,
                              steps=a.adapt_steps, oracle=oracle / "checkpoint", adapt=not a.no_adapt,
                              video_dir=work / "video" if a.video else None)
    if few.get("video"):  # the side-by-side video's frames, for the README
        frames = (work / few["video"]).with_suffix(".png")
        shutil.copyfile(frames, RESULTS / f"fewshot-{a.label}-{goal_family}-frames.png")
    m = few["methods"]
    zero, k1, oracle = m["zero-shot"]["0"], m["prompting"].get("1"), m["oracle"]["0"]
    claim = None
    if k1 is not None:
        claim = {"k1_beats_zero_shot": k1["normalized_ci"][0] > zero["normalized_ci"][1],
                 "k1_over_oracle": k1["normalized"] / oracle["normalized"] if oracle["normalized"] > 0 else None}
        claim["holds"] = bool(claim["k1_beats_zero_shot"] and (claim["k1_over_oracle"] or 0) >= 0.6)
    return {"settings": {"episodes": a.episodes, "noise": a.noise, "steps": "reused" if a.reuse_models else a.steps,
                         "oracle_steps": "reused" if a.reuse_oracle or a.reuse_models else a.oracle_steps or a.steps,
                         "flags": flags,
                         "adapt_steps": a.adapt_steps, "eval_episodes": a.eval_episodes},
            "train_seconds": {"prompted": t_train, "oracle": t_oracle},
            "val": val_curves(prompted), "fewshot": few, "claim": claim}


def figure(entries: dict[str, Any], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2 * len(entries), 3.2), layout="constrained")
    for i, (goal_family, e) in enumerate(entries.items()):
        ax = fig.add_subplot(1, len(entries), i + 1)
        for key, label, color in (("val_loss_unprompted", "no prompt", "tab:gray"),
                                  ("val_loss_prompted", "prompted with its goal", "tab:red")):
            c = e["val"].get(key)
            if c:
                ax.plot([r[0] for r in c], [r[1] for r in c], marker="o", markersize=3, color=color, label=label)
        ax.set_title(goal_family, fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        ax.set_ylabel("validation NLL (held-out episodes)", fontsize=8)
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)


def table(entries: dict[str, Any]) -> str:
    """Markdown: normalized score [95% CI] of every method, per goal family."""
    def cell(v: dict[str, Any] | None) -> str:
        return "-" if v is None else f"{v['normalized']:.2f} [{v['normalized_ci'][0]:.2f}, {v['normalized_ci'][1]:.2f}]"

    lines = ["| goal family | zero-shot | prompt k=1 | prompt k=4 | fine-tune k=1 | fine-tune k=4 | scratch k=1 | "
             "oracle | k=1 / oracle |", "|---|---|---|---|---|---|---|---|---|"]
    for goal_family, e in entries.items():
        m = e["fewshot"]["methods"]
        ratio = (e.get("claim") or {}).get("k1_over_oracle")
        lines.append(f"| {goal_family} | {cell(m['zero-shot']['0'])} | {cell(m['prompting'].get('1'))} | "
                     f"{cell(m['prompting'].get('4'))} | {cell(m['finetune'].get('1'))} | "
                     f"{cell(m['finetune'].get('4'))} | {cell(m['scratch'].get('1'))} | {cell(m['oracle']['0'])} | "
                     f"{'-' if ratio is None else f'{ratio:.2f}'} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--goal-families", default="reacher-goal,mw-reach-goal")
    ap.add_argument("--label", default="latest")
    ap.add_argument("--root", type=Path, default=Path("data/fewshot-goals"))
    ap.add_argument("--episodes", type=int, default=200, help="training episodes (4 per training goal)")
    ap.add_argument("--noise", type=float, default=0.2, help="DART action noise while collecting")
    ap.add_argument("--steps", type=int, default=1500, help="training steps of the prompted model and the oracle")
    ap.add_argument("--oracle-steps", type=int, default=0, help="the oracle's training steps (default: --steps)")
    ap.add_argument("--reuse-oracle", action="store_true", help="score the oracle already trained under --root "
                    "(an earlier run on the same episodes) instead of training it again")
    ap.add_argument("--run", default="prompted", help="folder under <root>/<goal family>/runs of the prompted model "
                    "(another name keeps an earlier one, e.g. for a second training seed)")
    ap.add_argument("--reuse-models", action="store_true", help="train nothing: score the prompted model and the "
                    "oracle already trained under --root (e.g. again with fine-tuning and scratch)")
    ap.add_argument("--prompt-prob", type=float, default=GOAL_TRAINING["prompt_prob"])
    ap.add_argument("--prompt-mode", default=GOAL_TRAINING["prompt_mode"], choices=["gato", "end", "whole"])
    ap.add_argument("--gato-flags", default="{}", help="JSON of extra TrainArgs fields")
    ap.add_argument("--adapt-steps", type=int, default=100, help="steps of each per-goal fine-tune and scratch run")
    ap.add_argument("--video", action="store_true", help="write the first seed zero-shot and prompted side by side, "
                    "and its frames to results/fewshot-<label>-<goal family>-frames.png")
    ap.add_argument("--no-adapt", action="store_true", help="skip fine-tuning and scratch")
    ap.add_argument("--eval-episodes", type=int, default=20, help="evaluation seeds (2 per held-out goal)")
    a = ap.parse_args()
    from gatosuite.tokenization import default_text_model

    rt = resolve()
    text = default_text_model(4096)
    path = RESULTS / "fewshot.json"
    entries: dict[str, Any] = {}
    for goal_family in a.goal_families.split(","):
        t0 = time.perf_counter()
        entries[goal_family] = run_goal_family(goal_family, a, text)
        entries[goal_family]["runtime"] = rt.to_dict()
        entries[goal_family]["seconds"] = time.perf_counter() - t0
        entries[goal_family]["date"] = time.strftime("%Y-%m-%d")
        store = json.loads(path.read_text()) if path.is_file() else {}  # read now: other runs may have written
        store.setdefault(a.label, {})[goal_family] = entries[goal_family]
        path.write_text(json.dumps(store, indent=1))
        figure(entries, RESULTS / f"fewshot-{a.label}.png")
        print(table({goal_family: entries[goal_family]}), flush=True)
    print(table(entries))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
