"""Transfer and forgetting in one step of the continual protocol: after task A, does task B learn faster from
what a family kept of A than from scratch, do A's outputs stay as they were, and what does B add?

    python benchmarks/bench_transfer.py                 # -> benchmarks/results/transfer.json (data/suite)

For each family and training seed: A trains --steps steps (the shared trainer); B trains --steps steps from the
family's continual step on A's checkpoint (PathNet: A's path frozen and a seeded new path; muNet: A's route
frozen and a mutated child of it; Gato: plain fine-tuning, nothing frozen), and B trains --steps steps from
scratch. B's validation NLL is logged every --val-every steps. Reported per family, over training seeds (95%
percentile-bootstrap CIs): the steps the transfer run needs to reach the scratch run's final NLL, the ratio of
the areas under the two NLL curves, both final NLLs, the parameters B adds against a separate model, and
whether A's validation NLL on A's own path or route is bitwise what it was before B trained.

Validation NLL is a proxy for learning speed, not an env score; the models are small (`--overrides`) so that
the whole run fits a CPU. Data: --root must hold both tasks' collected datasets (`gatosuite collect`).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gatosuite.agent.candidate_training import CandidateData, validation_nll
from gatosuite.agent.checkpoint import load_model
from gatosuite.agent.families import get_family
from gatosuite.agent.train import TrainArgs, load_caches, train
from gatosuite.tokenization import Vocabulary, default_text_model

SMALL = {"gato": ["n_layer=2", "n_embd=64", "n_head=2", "ffn=128"],
         "pathnet": ["n_layer=2", "n_embd=64", "n_head=2", "ffn=128", "modules_per_layer=4", "active=2"],
         "munet": ["n_layer=2", "n_embd=64", "n_head=2", "ffn=128"]}
"""Each family's model: two layers of width 64 (PathNet: two layers of 4 modules, 2 active)."""


def _args(a: argparse.Namespace, family: str, task: str, out: Path, seed: int, init_from: Path | None) -> TrainArgs:
    return TrainArgs(tasks=task, root=a.root, out=out, model=family, overrides=SMALL[family], window=a.window,
                     batch_size=a.batch_size, steps=a.steps, warmup=max(1, a.steps // 10), lr=a.lr,
                     val_every=a.val_every, val_batches=a.val_batches, log_every=a.val_every, ckpt_every=10**9,
                     seed=seed, device=a.device, precision="fp32", init_from=init_from)


def _curve(run: Path) -> list[tuple[int, float]]:
    with (run / "train.csv").open() as f:  # long form: step, name, value
        return [(int(r[0]), float(r[2])) for r in csv.reader(f) if len(r) == 3 and r[1] == "val_loss"]


def _auc(curve: list[tuple[int, float]]) -> float:
    """Area under a validation-NLL curve (trapezoids over the logged steps)."""
    return float(np.trapezoid([v for _, v in curve], [s for s, _ in curve]))


def _nll(checkpoint: Path, task: str, a: argparse.Namespace, text: Any, record: dict[str, Any] | None) -> float:
    """A's validation NLL, on A's own path or route when the family recorded one."""
    model, _ = load_model(checkpoint)  # on the CPU, whatever device trained it
    family = get_family(type(model.cfg).architecture)
    if record is not None and family.continual is not None:
        family.continual.select(model, record)
    args = _args(a, family.name, task, Path(tempfile.mkdtemp()), 0, None)
    data = CandidateData(window=a.window, batch_size=a.batch_size, eval_seed=123, eval_batches=a.val_batches)
    return validation_nll(model, load_caches(args, text), data, Vocabulary(text.vocab_size), args.val_fraction,
                          args.segment_length)


def one_seed(a: argparse.Namespace, family: str, seed: int, work: Path, text: Any) -> dict[str, Any]:
    task_a, task_b = a.tasks
    hooks = get_family(family).continual
    train(_args(a, family, task_a, work / "a", seed, None), text, progress=False)
    ckpt_a = work / "a" / "checkpoint"
    record_a = hooks.stage_end(ckpt_a) if hooks else None
    a_before = _nll(ckpt_a, task_a, a, text, None)  # A's own checkpoint runs A's path or route
    start = ckpt_a
    if hooks is not None:
        start = work / "b-start" / "checkpoint"
        hooks.stage_init(ckpt_a, start, 1, seed, text)
    train(_args(a, family, task_b, work / "b", seed, start), text, progress=False)
    train(_args(a, family, task_b, work / "scratch", seed, None), text, progress=False)
    transfer, scratch = _curve(work / "b"), _curve(work / "scratch")
    target = scratch[-1][1]
    reach = next((s for s, v in transfer if v <= target), None)
    a_after = _nll(work / "b" / "checkpoint", task_a, a, text, record_a)
    separate, _ = load_model(work / "scratch" / "checkpoint")
    added = hooks.stage_end(work / "b" / "checkpoint")["params_added"] if hooks else separate.num_parameters(False)
    return {"seed": seed, "transfer_curve": transfer, "scratch_curve": scratch, "target_nll": target,
            "steps_to_target": reach, "auc_ratio": _auc(transfer) / _auc(scratch),
            "final_transfer": transfer[-1][1], "final_scratch": target, "params_added": int(added),
            "separate_model_params": int(separate.num_parameters(False)), "a_nll_before": a_before,
            "a_nll_after": a_after, "a_bitwise": a_before == a_after}


def _ci(values: list[float], reps: int = 2000) -> list[float]:
    rng = np.random.default_rng(0)
    x = np.asarray(values, dtype=float)
    means = x[rng.integers(0, len(x), (reps, len(x)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarise(rows: list[dict[str, Any]], steps: int) -> dict[str, Any]:
    """Means over training seeds with CIs; a seed whose transfer run never reached the target counts `steps`."""
    reach = [r["steps_to_target"] if r["steps_to_target"] is not None else steps for r in rows]
    out: dict[str, Any] = {"seeds": len(rows), "reached": sum(r["steps_to_target"] is not None for r in rows)}
    for key, vals in (("steps_to_target", reach), ("auc_ratio", [r["auc_ratio"] for r in rows]),
                      ("final_transfer", [r["final_transfer"] for r in rows]),
                      ("final_scratch", [r["final_scratch"] for r in rows])):
        out[key] = {"mean": float(np.mean(vals)), "ci": _ci(vals)}
    out["params_added"] = rows[0]["params_added"] if len({r["params_added"] for r in rows}) == 1 else [
        r["params_added"] for r in rows]
    out["separate_model_params"] = rows[0]["separate_model_params"]
    out["a_bitwise"] = all(r["a_bitwise"] for r in rows)
    out["a_nll_change"] = {"mean": float(np.mean([r["a_nll_after"] - r["a_nll_before"] for r in rows]))}
    return out


def merge(parts: list[Path], out: Path) -> None:
    """One result from runs over disjoint families with the same tasks and settings (other than --families)."""
    runs = [json.loads(p.read_text()) for p in parts]
    first = runs[0]
    same = {k: v for k, v in first["settings"].items() if k != "families"}
    for p, r in zip(parts, runs):
        if r["tasks"] != first["tasks"] or {k: v for k, v in r["settings"].items() if k != "families"} != same:
            raise SystemExit(f"error: '{p}' was run with other tasks or settings than '{parts[0]}'; merge only "
                             "runs that differ in --families")
    merged = {**first, "settings": {**same, "families": ",".join(r["settings"]["families"] for r in runs)},
              "families": {k: v for r in runs for k, v in r["families"].items()},
              "seconds": max(r["seconds"] for r in runs), "parts_run_side_by_side": len(runs)}
    out.write_text(json.dumps(merged, indent=1))
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default="pathnet,munet,gato")
    ap.add_argument("--tasks", default="mw-reach,mw-window-close", help="A,B")
    ap.add_argument("--root", type=Path, default=Path("data/suite"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--val-every", type=int, default=20)
    ap.add_argument("--val-batches", type=int, default=4)
    ap.add_argument("--window", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (fp32 either way; the measures are per step)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "transfer.json")
    ap.add_argument("--merge", type=Path, nargs="+", default=None,
                    help="combine the results of runs over disjoint --families (run side by side) into --out")
    a = ap.parse_args()
    if a.merge:
        merge(a.merge, a.out)
        return
    a.tasks = a.tasks.split(",")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    text = default_text_model(4096)
    machine = torch.cuda.get_device_name(0) if a.device == "cuda" else platform.processor() or platform.machine()
    settings = {k: v for k, v in vars(a).items() if k not in ("root", "tasks", "out", "merge")}
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "machine": machine,
                              "cpus": torch.get_num_threads(), "tasks": a.tasks, "settings": settings, "families": {}}
    t0 = time.perf_counter()
    jobs = [(f, s) for f in a.families.split(",") for s in range(a.seeds)]
    rows: dict[str, list[dict[str, Any]]] = {}
    for family, seed in tqdm(jobs, desc="transfer", unit="run"):
        with tempfile.TemporaryDirectory(prefix=f"transfer-{family}-") as tmp:
            rows.setdefault(family, []).append(one_seed(a, family, seed, Path(tmp), text))
    for family, rs in rows.items():
        result["families"][family] = {"summary": summarise(rs, a.steps), "runs": rs}
        s = result["families"][family]["summary"]
        print(f"{family:<8} steps to scratch's final NLL {s['steps_to_target']['mean']:.0f} (reached "
              f"{s['reached']}/{s['seeds']}), AUC ratio {s['auc_ratio']['mean']:.3f}, params added "
              f"{s['params_added']} of {s['separate_model_params']}, A bitwise {s['a_bitwise']}")
    result["seconds"] = time.perf_counter() - t0
    out = a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
