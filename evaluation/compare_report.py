"""compare.md and compare.html from compare.json: the zoo's table with measured columns, and per-expert
load histograms of the Mixture-of-Experts families. Rendered with the evaluation report's document model
(evaluation/report.py), so the two files never disagree."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from .aggregate_text import describe_aggregate
from .report import Heading, Image, Para, Table, render_html, render_markdown


def zoo_rows(rows: dict[str, Any]) -> tuple[tuple[str, str, str, str, str], ...]:
    """The seed table: every registered family (agent/families.py, the one source of what each is), then
    the planned ones (families.PLANNED), with whether this comparison measured it."""
    from gatosuite.agent.families import PLANNED, family_names, get_family

    out = []
    for name in family_names():
        f = get_family(name)
        status = ("yes" if name in rows else "no" if f.can_act
                  else "measured apart: it cannot act (benchmarks/bench_limoe.py)")
        out.append((f.display, f.modules, str(f.year), f.unseen, status))
    out += [(p.title, p.modules, str(p.year), p.unseen, "not yet") for p in PLANNED]
    return tuple(out)


def _ci(v: dict[str, Any] | None, mean_key: str = "mean", ci_key: str = "mean_ci") -> str:
    if not v:
        return "—"
    if not v.get(ci_key):  # an aggregate recomputed from stored task means has no CI
        return f"{v[mean_key]:.2f}"
    lo, hi = v[ci_key]
    return f"{v[mean_key]:.2f} [{lo:.2f}, {hi:.2f}]"


def _over(rows: dict[str, Any]) -> str:
    """What the score table's aggregates are over. Every family is trained once (one seed), so it is
    (1 x tasks) and its CIs are evaluation noise only; the sentence comes from the first scored row, as
    every family shares the mix, seeds and episode count."""
    overall = next(((r.get("score") or {}).get("overall") for r in rows.values() if r.get("score")), None)
    return describe_aggregate(overall)


def _expert_load(run_dir: Path) -> list[float] | None:
    """The last logged share of routed tokens per expert (moe/load/<i>) of a run's train.csv."""
    path = run_dir / "train" / "train.csv"
    if not path.is_file():
        return None
    last: dict[int, float] = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["key"].startswith("moe/load/"):
                last[int(row["key"].rsplit("/", 1)[1])] = float(row["value"])
    return [last[i] for i in sorted(last)] or None


def _load_figure(loads: dict[str, list[float]], path: Path) -> Path | None:
    if not loads:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.6 * len(loads), 2.6), layout="constrained")
    for i, (name, share) in enumerate(loads.items()):
        ax = fig.add_subplot(1, len(loads), i + 1)
        ax.bar(range(len(share)), share, color="tab:blue")
        ax.axhline(1 / len(share), color="black", linestyle="--", linewidth=0.7)
        ax.set_title(f"{name}: tokens per expert", fontsize=9)
        ax.set_xlabel("expert", fontsize=8)
        ax.set_ylabel("share of routed tokens", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def write_compare_report(store: dict[str, Any], out: Path) -> dict[str, Path]:
    rows = store.get("models", {})
    s = store.get("settings", {})
    budget = f"{s.get('tokens'):,} tokens each" if s.get("tokens") else f"{s.get('minutes')} minutes of training each"
    blocks: list[Any] = [Heading(1, "gatosuite compare"),
                         Para((f"Families trained on the same mix ({s.get('tasks')}), seed {s.get('seed')}, window "
                               f"{s.get('window')}, batch {s.get('batch_size')}, preset {s.get('preset')}, for "
                               f"{budget}; evaluated on the same seeds.",)),
                         Heading(2, "The zoo"),
                         Table(("Model", "Modules", "Year", "Unseen tasks", "In this comparison"),
                               zoo_rows(rows))]
    if rows:
        domains = sorted({d for r in rows.values() for d in (r.get("score") or {}).get("per_domain", {})})
        kinds = sorted({k for r in rows.values() for k in r["val_nll"]["modality"]})
        vdoms = sorted({k for r in rows.values() for k in r["val_nll"]["domain"]})
        blocks += [Heading(2, "Measured"), Table(
            ("Model", "parameters", "non-embedding", "active per token (non-embedding)", "FLOPs per token",
             "tokens/s", "tokens seen", "CPU-seconds", "energy, Wh (estimate)"),
            tuple((n, f"{r['parameters']:,}", f"{r['parameters_non_embedding']:,}", f"{r['active_parameters']:,}",
                   f"{r['flops_per_token'] / 1e6:.2f} M",
                   f"{r['train']['tokens_per_s']:,.0f}", f"{r['tokens_seen']:,}", f"{r['train']['cpu_seconds']:.0f}",
                   f"{r['energy_wh_estimate']:.2f}") for n, r in rows.items())),
            Heading(3, "Validation NLL (held-out episodes, the same windows for every family)"),
            Table(("Model", *kinds, *[f"domain {d}" for d in vdoms]),
                  tuple((n, *[f"{r['val_nll']['modality'].get(k, float('nan')):.3f}" for k in kinds],
                         *[f"{r['val_nll']['domain'].get(d, float('nan')):.3f}" for d in vdoms])
                        for n, r in rows.items())),
            Heading(3, "Expert-normalized score per domain, mean [95% CI]"),
            Para((_over(rows),)),
            Table(("Model", "overall", *domains),
                  tuple((n, _ci((r.get("score") or {}).get("overall")),
                         *[_ci((r.get("score") or {}).get("per_domain", {}).get(d)) for d in domains])
                        for n, r in rows.items()))]
        few = {n: r["fewshot"] for n, r in rows.items() if r.get("fewshot")}
        if few:
            blocks += [Heading(3, f"Few-shot on {next(iter(few.values()))['task']}, k = 1"),
                       Table(("Model", "zero-shot", "fine-tune", "scratch"),
                             tuple((n, *[_ci(f[m], "normalized", "normalized_ci") for m in
                                         ("zero-shot", "finetune", "scratch")]) for n, f in few.items()))]
        loads = {n: load for n in rows if (load := _expert_load(Path(out) / n))}
        fig = _load_figure(loads, Path(out) / "figures" / "expert_load.png")
        if fig:
            blocks += [Heading(3, "Per-expert load (last logged training interval, all MoE layers)"),
                       Image(fig, "share of routed tokens per expert")]
        blocks.append(Para(("Energy is CPU-seconds times an assumed "
                            f"{s.get('watts_per_core')} W per busy core, not a measurement "
                            "(evaluation/compare.py says why and how to use your own figure).",)))
    written = {"markdown": Path(out) / "compare.md", "html": Path(out) / "compare.html"}
    written["markdown"].write_text(render_markdown(blocks, Path(out)), encoding="utf-8")
    written["html"].write_text(render_html(blocks, "gatosuite compare"), encoding="utf-8")
    return written
