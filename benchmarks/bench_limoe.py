"""LIMoE's claims, measured: a modality-agnostic MoE encoder trained contrastively on BabyAI frames with
their captions and missions, with and without LIMoE's per-modality entropy losses.

Both runs train `limoe` nano with the shared trainer (`gatosuite train --model limoe`) on the same data,
seed and steps: babyai-captions (frame, caption / question-answer) and babyai-gotoredball (frame, mission),
captions weighted 3. One run keeps the config's entropy losses (w_local, w_global with tau = log 4), the
other sets both weights to 0 (the Switch balance loss stays on in both). Then, on held-out views
(evaluation/contrastive.py): the experts each modality's tokens use per MoE layer, zero-shot
classification of the object in front of the agent by text prompts against chance, and recall@1 of
image -> text and text -> image retrieval.

    python benchmarks/bench_limoe.py                 # 2,000 steps per run
    python benchmarks/bench_limoe.py --steps 300 --label quick

Writes benchmarks/results/limoe.json (merged by label) and limoe-<label>.png (expert load per modality).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from gatosuite.agent.runtime import resolve

RESULTS = Path(__file__).parent / "results"
RUNS = {"entropy losses on": [], "entropy losses off": ["w_local=0", "w_global=0"],
        # the entropy losses alone, and no balance loss at all: is the Switch loss what keeps text spread?
        "entropy losses only": ["switch_alpha=0"],
        "no balance loss": ["switch_alpha=0", "w_local=0", "w_global=0"]}


def train_run(a: argparse.Namespace, out: Path, overrides: list[str]) -> dict[str, Any]:
    from gatosuite.agent.train import TrainArgs, train

    shutil.rmtree(out, ignore_errors=True)
    args = TrainArgs(tasks="babyai-captions,babyai-gotoredball", root=a.root, out=out, model="limoe",
                     preset="nano", window=240, batch_size=a.batch_size, steps=a.steps, lr=a.lr,
                     warmup=min(100, a.steps // 10),
                     val_fraction=0.1, val_every=max(1, a.steps // 5), log_every=50, ckpt_every=10**9,
                     task_weights=["babyai-captions=3"], overrides=overrides,
                     recipe="gato-2022")  # as results/limoe.json was measured: one window per row
    summary = train(args, progress=True)
    return {k: v for k, v in summary.items() if isinstance(v, (int, float, str)) and not k.startswith("limoe/load")}


def figure(entries: dict[str, Any], path: Path) -> None:
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.4 * len(entries), 3.0), layout="constrained")
    for i, (name, e) in enumerate(entries.items()):
        ax = fig.add_subplot(1, len(entries), i + 1)
        for j, (modality, color) in enumerate((("image", "tab:blue"), ("text", "tab:orange"))):
            r = e["eval"]["routing"][modality]
            share = np.array(r["load"]).mean(0)  # (E,) averaged over MoE layers
            x = np.arange(share.size) + (j - 0.5) * 0.4
            ax.bar(x, share, width=0.4, color=color, label=f"{modality} ({r['experts_used_mean']:.1f} experts used)")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("expert", fontsize=8)
        ax.set_ylabel("share of the modality's tokens", fontsize=8)
        ax.legend(fontsize=7)
    fig.savefig(path, dpi=110)


def table(entries: dict[str, Any]) -> str:
    lines = ["| run | experts used: image | experts used: text | zero-shot accuracy (chance, majority) | "
             "i2t recall@1 | t2i recall@1 (chance) |", "|---|---|---|---|---|---|"]
    for name, e in entries.items():
        ev = e["eval"]
        z, r = ev["zero_shot"], ev["retrieval"]
        lines.append(f"| {name} | {ev['routing']['image']['experts_used']} | {ev['routing']['text']['experts_used']} | "
                     f"{z['accuracy']:.3f} ({z['chance']:.3f}, {z['majority']:.3f}; {z['frames']} frames) | "
                     f"{r['i2t_recall@1']:.3f} | {r['t2i_recall@1']:.3f} ({r['chance']:.3f}) |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("data/limoe"))
    ap.add_argument("--label", default="main")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-4,
                    help="peak learning rate (3e-4 learned faster than the trainer's 1e-3 in a 300-step probe)")
    ap.add_argument("--episodes", type=int, default=200, help="babyai-gotoredball episodes (frame, mission)")
    ap.add_argument("--runs", default="entropy losses on,entropy losses off",
                    help=f"comma-separated runs, of: {', '.join(RUNS)}")
    ap.add_argument("--views", type=int, default=600, help="held-out (frame, caption) pairs for retrieval")
    a = ap.parse_args()
    from gatosuite.datasets.collect import collect
    from gatosuite.evaluation.contrastive import evaluate_contrastive

    collect("babyai-gotoredball", a.episodes, a.root, progress=True, resume=True, replace_mismatched=True)
    path = RESULTS / "limoe.json"
    store = json.loads(path.read_text()) if path.is_file() else {}
    entries = store.setdefault(a.label, {})
    for name in a.runs.split(","):
        overrides = RUNS[name]
        out = a.root / "runs" / name.replace(" ", "-")
        t0 = time.perf_counter()
        summary = train_run(a, out, overrides)
        entries[name] = {"overrides": overrides, "steps": a.steps, "lr": a.lr, "train": summary,
                         "eval": evaluate_contrastive(out / "checkpoint", n_views=a.views),
                         "seconds": time.perf_counter() - t0, "runtime": resolve(announce=False).to_dict(),
                         "date": time.strftime("%Y-%m-%d")}
        path.write_text(json.dumps(store, indent=1))
        print(table({name: entries[name]}), flush=True)
    figure(entries, RESULTS / f"limoe-{a.label}.png")
    print(table(entries))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
