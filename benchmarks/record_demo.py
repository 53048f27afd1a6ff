"""Record a finished demo run as the project's headline result: the per-task scores and the aggregate from
its eval_info.json go into benchmarks/results/demo.json, and one frame of each task's video into
benchmarks/results/demo-tasks.png (the README's picture). `benchmarks/tables.py` builds the tables from it.

    python benchmarks/record_demo.py runs/demo-20261202-101500 --label v11 --command "make demo"

The machine is read from this machine (lscpu's model name and torch's CPU capability), so record a run
on the machine that ran it.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """'AMD EPYC, CPU family 26 (2 cores, AVX512)': the CPU's model name and family, its core count and
    torch's CPU capability."""
    import os

    import torch

    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        name = fields["Model name"].strip()
        if "CPU family" in fields:
            name += f", CPU family {fields['CPU family'].strip()}"
    except (OSError, subprocess.CalledProcessError, KeyError):
        name = platform.processor() or platform.machine()
    return f"{name} ({os.cpu_count()} cores, {torch.backends.cpu.get_cpu_capability()})"


def summary(run: Path, label: str, command: str) -> dict[str, Any]:
    """The demo.json entry of a run folder."""
    from gatosuite.evaluation.aggregate_text import describe_aggregate

    info = json.loads((run / "eval_info.json").read_text())
    agg = info["aggregate"]["overall"]
    demo = info["demo"]
    return {
        "label": label, "run": run.name, "date": info["created"][:10], "machine": machine(),
        "precision": info["runtime"]["precision"], "command": command, "episodes": info["episodes_per_task"],
        "seeds": [info["seeds"][0], info["seeds"][-1]],
        "tasks": {t: {"normalized": v["normalized"], "normalized_ci": v["normalized_ci"]}
                  for t, v in info["tasks"].items() if t in demo["mix"]},
        "aggregate": {k: agg[k] for k in ("n_tasks", "mean", "mean_ci", "median", "iqm", "iqm_ci", "frac_ge_50")},
        "aggregate_over": describe_aggregate(agg),
        "train_steps": int(demo["train"]["step"]),
        "minutes": sum(info["timings"].values()) / 60,
        "timings_min": {k.removesuffix("_s"): v / 60 for k, v in info["timings"].items()},
        "fewshot": {t: {m: {k: r["normalized"] for k, r in by_k.items()} for m, by_k in f["methods"].items()}
                    for t, f in info.get("fewshot", {}).items() if "methods" in f},
    }


def picture(run: Path, entry: dict[str, Any], out: Path) -> Path:
    """One frame of each task's video, labelled with the task and its score."""
    from gatosuite.evaluation.video import contact_sheet

    tasks = list(entry["tasks"])
    labels = [f"{t} {entry['tasks'][t]['normalized']:.2f}" for t in tasks]
    return contact_sheet([run / "videos" / f"{t}.mp4" for t in tasks], labels, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the demo's output folder (holds eval_info.json and videos/)")
    ap.add_argument("--label", required=True, help="a name for the run, e.g. v11")
    ap.add_argument("--command", default="make demo", help="the command that ran it")
    ap.add_argument("--headline", action="store_true", help="also make it the run README and docs show")
    a = ap.parse_args()
    entry = summary(a.run, a.label, a.command)
    path = RESULTS / "demo.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[a.label] = entry
    if a.headline:
        data["headline"] = entry
        picture(a.run, entry, RESULTS / "demo-tasks.png")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    print(f"recorded {a.label} ({entry['date']}, {time.strftime('%H:%M')}) in {path}")


if __name__ == "__main__":
    main()
