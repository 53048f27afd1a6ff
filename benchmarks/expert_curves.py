"""The SAC experts' training curves, one panel per task, from the curves `gatosuite train-expert` writes
(envs/weights/<task>.train.csv: step, seconds, mean return of a 5-episode evaluation), with each task's bar.

    python benchmarks/expert_curves.py     # -> benchmarks/results/expert-curves.png

The table beside it in docs/reference/tasks.md (steps, wall time, returns) is benchmarks/tables.py's
`expert-training`, from the same files.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "envs" / "weights"


def curves() -> dict[str, list[tuple[int, float, float]]]:
    """{task: [(step, seconds, evaluation return), ...]} for every expert with a training curve."""
    out = {}
    for f in sorted(WEIGHTS.glob("*.train.csv")):
        with f.open() as fh:
            out[f.name.removesuffix(".train.csv")] = [(int(r[0]), float(r[1]), float(r[2])) for r in csv.reader(fh)]
    return out


def main() -> None:
    from gatosuite.envs import SUITE

    data = curves()
    cols = 3
    rows = -(-len(data) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, (task, pts) in zip(axes.flat, data.items()):
        steps, secs, ret = zip(*pts)
        ax.plot([s / 1000 for s in steps], ret, marker="o", ms=3, label="5-episode evaluation")
        bar = SUITE[task].bar
        if bar is not None:
            ax.axhline(bar, ls="--", c="k", lw=1, label=f"bar {bar:g}")
        ax.set_title(f"{task}: {steps[-1] / 1000:.0f}k steps, {secs[-1] / 3600:.1f} h", fontsize=9)
        ax.set_xlabel("steps (thousands)", fontsize=8)
        ax.set_ylabel("return", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(data):]:
        ax.axis("off")
    fig.tight_layout()
    out = REPO / "benchmarks" / "results" / "expert-curves.png"
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
