"""Ablations of the changes that close the learnability gap (issue 9), one at a time, in one run.

Each configuration trains Gato `nano` on each task alone for the same number of steps, on the same
episodes, and is scored on the same 10 evaluation seeds (the ladder's second rung, `bench_learning.py`).
Configurations are cumulative: the first is Gato's plain recipe (`gato-2022`, agent/recipes.py), each
adds one change to the one before it, and the last is the default recipe (`gatosuite-2026`).

    python benchmarks/bench_ablation.py --tasks inverted-pendulum,dmc-point_mass-easy --steps 600

Writes benchmarks/results/ablation.json (merged: finished entries are kept unless --force).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench_learning import RESULTS, SEEDS, rung_gato

from gatosuite.agent.recipes import GATO_2022, merge_overrides
from gatosuite.agent.runtime import resolve

_CHANGES: list[tuple[str, dict]] = [
    (GATO_2022.name, GATO_2022.fields()),
    ("+ packed 8-step segments", {"segment_steps": 8}),
    ("+ obs standardization", {"obs_norm": True}),
    ("+ value input", {"overrides": ["value_input=token+value"]}),
    ("+ masked action inputs", {"overrides": ["action_inputs=masked"]}),
    ("+ hl-gauss targets", {"overrides": ["action_targets=hl-gauss"]}),
    ("+ mean decoding", {"overrides": ["continuous_decoding=mean"]}),
    ("mode-mean decoding", {"overrides": ["continuous_decoding=mode-mean"]}),
]
"""The first configuration is Gato's plain recipe (`gato-2022`) and the last the default recipe
(`gatosuite-2026`, what the demo trains; tests/test_bench_ablation.py checks it); an override of a field
already set replaces it."""

RENAMED = {GATO_2022.name: "gato"}
"""Rows stored in results/ablation.json under an earlier name of the same configuration."""


def _cumulative() -> dict[str, dict]:
    out, acc = {}, {}
    for name, change in _CHANGES:
        acc = {**acc, **change, "overrides": merge_overrides(acc.get("overrides", []), change.get("overrides", []))}
        out[name] = acc
    return out


CONFIGS: dict[str, dict] = _cumulative()
"""TrainArgs fields (and model overrides) of each configuration: each adds one change to the one before."""
CONFIGS["demo, mu-law value input"] = {
    **CONFIGS["mode-mean decoding"],
    "overrides": CONFIGS["mode-mean decoding"]["overrides"] + ["value_transform=mu-law"]}
"""A variant, not in the default list: the value input through Gato's mu-law instead of symlog."""


def main() -> None:
    from gatosuite.datasets.collect import collect
    from gatosuite.demo import NOISE
    from gatosuite.tokenization import default_text_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="inverted-pendulum,dmc-cartpole-balance,dmc-point_mass-easy,mw-reach")
    ap.add_argument("--configs", default=",".join(n for n in CONFIGS if not n.startswith("demo,")))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--noise", default=None, help="JSON {task: p}; default: the demo's NOISE")
    ap.add_argument("--label", default="latest", help="results are stored under this name")
    ap.add_argument("--root", type=Path, default=Path("data/ablation"))
    ap.add_argument("--extra", default="{}", help="JSON of TrainArgs fields laid over every configuration")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    noise = json.loads(a.noise) if a.noise else NOISE
    tasks, names = a.tasks.split(","), a.configs.split(",")
    rt = resolve()
    path = RESULTS / "ablation.json"
    store = json.loads(path.read_text()) if path.is_file() else {}
    run = store.setdefault(a.label, {"settings": {}, "results": {}})
    for name, old in RENAMED.items():
        if old in run["results"] and name not in run["results"]:
            run["results"][name] = run["results"].pop(old)
    run["settings"].update({"steps": a.steps, "episodes": a.episodes, "noise": noise, "seeds": SEEDS,
                            "configs": {n: CONFIGS[n] for n in names}, "runtime": rt.to_dict(),
                            "date": time.strftime("%Y-%m-%d")})
    text = default_text_model(4096)
    for t in tasks:
        collect(t, a.episodes, a.root, noise=noise.get(t, 0.0), progress=False, replace_mismatched=True)
        for name in names:
            entry = run["results"].setdefault(name, {})
            if t in entry and not a.force:
                continue
            out = a.root / "runs" / f"{name.strip('+ ').replace(' ', '-')}-{t}"
            print(f"{name} on {t}", flush=True)
            entry[t] = rung_gato([t], a.root, out, a.steps, [a.steps // 2, a.steps], text,
                                 {**CONFIGS[name], **json.loads(a.extra)})[t]
            path.write_text(json.dumps(store, indent=2))
    print(f"{'configuration':<22}" + "".join(f"{t[:18]:>20}" for t in tasks))
    for name in names:
        row = run["results"].get(name, {})
        print(f"{name:<22}" + "".join(f"{row[t]['final']:>20.3f}" if t in row else f"{'-':>20}" for t in tasks))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
