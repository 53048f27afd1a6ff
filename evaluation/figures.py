"""The evaluation report's figures, drawn with matplotlib from the already-computed `eval_info.json`.

Each function takes its data and an output path, writes one PNG and returns the path, or returns None
when there is nothing to draw, so the report can say a figure is missing instead of showing an empty
axis. No statistic is computed here: means, CIs and profiles come from `gatosuite.evaluation.scores`
through the info dict, so a figure can never disagree with the tables next to it.

Figures are built on `matplotlib.figure.Figure` directly rather than pyplot: that needs no GUI
backend, keeps no global figure registry (nothing leaks between calls or tests) and is safe to call
from a worker thread.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from gatosuite.errors import ConfigError
from gatosuite.evaluation.aggregate_text import profile_ylabel

DPI = 110
"""Sharp enough on a laptop screen while keeping the base64 copies in report.html small."""

DOMAIN_ORDER = ("classic", "mujoco", "dmc", "dmc-pixels", "metaworld", "babyai")
"""Order in which domains are grouped in figures and tables; unknown domains follow, sorted."""

DOMAIN_COLORS = {"classic": "tab:blue", "mujoco": "tab:orange", "dmc": "tab:green", "dmc-pixels": "tab:olive",
                 "metaworld": "tab:red", "babyai": "tab:purple"}
"""Fixed per-domain colors, so a domain looks the same in every report and every run."""

_EXTRA_COLORS = ("tab:brown", "tab:pink", "tab:cyan", "tab:gray")

METHOD_STYLES = {"prompting": ("tab:blue", "o"), "finetune": ("tab:orange", "s"), "scratch": ("tab:gray", "^")}
"""Few-shot methods drawn as lines against k; zero-shot is drawn as a horizontal reference instead."""


def num(x: Any) -> float | None:
    """A finite float, or None for None/NaN/inf/non-numbers: JSON from other tools may hold any of them."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def ci_pair(ci: Any) -> tuple[float, float] | None:
    """A `[lo, hi]` interval with two finite ends, else None."""
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        return None
    lo, hi = num(ci[0]), num(ci[1])
    return None if lo is None or hi is None else (lo, hi)


def domain_color(domain: str) -> str:
    """The domain's fixed color; unknown domains get a stable color from their name."""
    if domain in DOMAIN_COLORS:
        return DOMAIN_COLORS[domain]
    return _EXTRA_COLORS[sum(map(ord, domain)) % len(_EXTRA_COLORS)]


def ordered_tasks(tasks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Task ids grouped by domain (suite order), keeping the info's order within a domain."""
    def rank(item: tuple[int, str]) -> tuple[int, str, int]:
        i, t = item
        d = str(tasks[t].get("domain", ""))
        return (DOMAIN_ORDER.index(d) if d in DOMAIN_ORDER else len(DOMAIN_ORDER), d, i)
    return [t for _, t in sorted(enumerate(tasks), key=rank)]


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _yerr(values: list[float], cis: list[tuple[float, float] | None]) -> list[list[float]]:
    """Asymmetric error bars from CIs; zero where a CI is missing (never negative if a CI excludes its mean)."""
    lo = [max(0.0, v - c[0]) if c else 0.0 for v, c in zip(values, cis)]
    hi = [max(0.0, c[1] - v) if c else 0.0 for v, c in zip(values, cis)]
    return [lo, hi]


def task_scores(info: Mapping[str, Any], path: Path) -> Path | None:
    """Horizontal bars of each task's mean normalized score with its 95% CI, colored by domain.

    Held-out tasks are hatched and labelled "(held out)" so a good score on them reads as
    generalization, not as memorization. Lines at 0 (random) and 1 (expert) are solid, 0.5 (Gato's
    headline threshold) dashed.
    """
    tasks = info.get("tasks") or {}
    ids = [t for t in ordered_tasks(tasks) if num(tasks[t].get("normalized")) is not None]
    if not ids:
        return None
    values = [num(tasks[t]["normalized"]) or 0.0 for t in ids]
    cis = [ci_pair(tasks[t].get("normalized_ci")) for t in ids]
    domains = [str(tasks[t].get("domain", "?")) for t in ids]
    heldout = [bool(tasks[t].get("heldout")) for t in ids]

    fig = Figure(figsize=(8.0, 1.6 + 0.32 * len(ids)), layout="constrained")
    ax = fig.add_subplot()
    y = list(range(len(ids)))[::-1]  # first task at the top
    bars = ax.barh(y, values, xerr=_yerr(values, cis), color=[domain_color(d) for d in domains],
                   edgecolor="black", linewidth=0.5, error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "black"})
    for bar, h in zip(bars, heldout):
        if h:
            bar.set_hatch("//")
    ax.set_yticks(y, [f"{t} (held out)" if h else t for t, h in zip(ids, heldout)], fontsize=8)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.axvline(0.5, color="black", linewidth=0.8, linestyle="--")
    ax.set_xlabel("normalized score (0 = random, 1 = expert), mean with 95% CI")
    ax.set_ylim(-0.7, len(ids) - 0.3)
    seen = list(dict.fromkeys(domains))
    handles = [Patch(facecolor=domain_color(d), edgecolor="black", linewidth=0.5, label=d) for d in seen]
    if any(heldout):
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="//", label="held out"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # never over a bar
    ax.set_title("Per-task normalized score")
    return _save(fig, path)


def read_train_log(csv_path: Path | None) -> dict[str, tuple[list[float], list[float]]]:
    """The long-format `step,key,value` training log as {key: (steps, values)}; {} if the file is missing.

    Rows that do not parse are skipped rather than fatal: a run killed mid-write leaves a truncated
    last line, and the report of such a run is exactly the one someone needs to read.
    """
    if csv_path is None or not Path(csv_path).is_file():
        return {}
    series: dict[str, tuple[list[float], list[float]]] = {}
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return {}
        if [h.strip() for h in header] != ["step", "key", "value"]:
            raise ConfigError(f"{csv_path}: expected the header 'step,key,value', got {','.join(header)!r}; "
                             "pass the train.csv written by `gatosuite train`")
        for row in reader:
            if len(row) != 3:
                continue
            step, value = num(row[0]), num(row[2])
            if step is None or value is None:
                continue
            steps, values = series.setdefault(row[1].strip(), ([], []))
            steps.append(step)
            values.append(value)
    return series


def training_curve(csv_path: Path | None, path: Path) -> Path | None:
    """Training loss vs step, validation loss as markers and per-domain losses as thin lines.

    The y-axis is logarithmic when every loss is positive and they span more than a factor of 10,
    where a linear axis would flatten everything after the first few hundred steps.
    """
    log = read_train_log(csv_path)
    domain_keys = sorted(k for k in log if k.startswith("loss_domain/"))
    if not any(k in log for k in ("loss", "val_loss", *domain_keys)):
        return None

    fig = Figure(figsize=(8.0, 4.5), layout="constrained")
    ax = fig.add_subplot()
    def point(series: tuple[list[float], list[float]]) -> dict[str, Any]:
        return {"marker": "o", "markersize": 4} if len(series[0]) < 2 else {}  # one row is a point, not nothing

    for k in domain_keys:
        d = k.split("/", 1)[1]
        ax.plot(*log[k], linewidth=0.8, alpha=0.8, color=domain_color(d), label=f"train loss ({d})", **point(log[k]))
    if "loss" in log:
        ax.plot(*log["loss"], linewidth=1.8, color="black", label="train loss", **point(log["loss"]))
    if "val_loss" in log:
        ax.plot(*log["val_loss"], linestyle="none", marker="o", markersize=5, color="tab:red",
                markeredgecolor="black", label="validation loss")
    shown = [v for k in ("loss", "val_loss", *domain_keys) if k in log for v in log[k][1]]
    if shown and min(shown) > 0 and max(shown) / min(shown) > 10:
        ax.set_yscale("log")
        # plain 0.5, 2, 3 rather than 5x10^-1, and only at 2, 3, 5 times a power of ten, so labels never crowd
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(
            lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v)), 6) in (2, 3, 5) else ""))
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=2)
    ax.set_title("Training curve")
    return _save(fig, path)


def performance_profile(profile: Mapping[str, Any] | None, path: Path) -> Path | None:
    """Fraction of tasks (of (run, task) pairs with several training runs) whose mean normalized score
    is above tau, with its 95% bootstrap band; the y-axis says which (`aggregate_text.profile_ylabel`).

    A profile shows the whole score distribution, so one curve lying above another means better at
    every threshold, which no single aggregate can say (Agarwal et al., 2021).
    """
    if not profile or not profile.get("tau"):
        return None
    tau = [float(t) for t in profile["tau"]]
    frac = [float(f) for f in profile.get("fraction", [])]
    if len(frac) != len(tau):
        raise ConfigError(f"performance profile has {len(tau)} taus but {len(frac)} fractions; regenerate "
                         "eval_info.json with `gatosuite evaluate`")

    fig = Figure(figsize=(6.5, 4.0), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = profile.get("lo"), profile.get("hi")
    if lo and hi and len(lo) == len(tau) == len(hi):
        ax.fill_between(tau, lo, hi, alpha=0.25, color="tab:blue", linewidth=0, label="95% CI")
    ax.plot(tau, frac, color="tab:blue", linewidth=2, label="all tasks")
    for x in (0.0, 1.0):
        ax.axvline(x, color="black", linewidth=0.8)
    ax.axvline(0.5, color="black", linewidth=0.8, linestyle="--")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(r"normalized score threshold $\tau$")
    ax.set_ylabel(profile_ylabel(profile))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Performance profile")
    return _save(fig, path)


def fewshot(fewshot_dict: Mapping[str, Any] | None, path: Path) -> Path | None:
    """One panel per held-out task: normalized score vs k for each few-shot method, with CI error bars,
    and zero-shot as a horizontal line (with its CI as a band) that the others must clear."""
    panels = {t: e for t, e in (fewshot_dict or {}).items() if isinstance(e, Mapping) and e.get("methods")}
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.6 * cols, 3.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (task, entry) in zip(axes, panels.items()):
        methods: Mapping[str, Mapping[str, Any]] = entry["methods"]
        zero = (methods.get("zero-shot") or {}).get("0")
        if zero and num(zero.get("normalized")) is not None:
            z = num(zero["normalized"])
            ax.axhline(z, color="black", linewidth=1.5, label="zero-shot")
            zci = ci_pair(zero.get("normalized_ci"))
            if zci:
                ax.axhspan(*zci, color="black", alpha=0.08, linewidth=0)
        all_k: set[int] = set()
        extra = [m for m in methods if m not in METHOD_STYLES and m != "zero-shot"]
        for i, m in enumerate([*METHOD_STYLES, *sorted(extra)]):
            points = sorted((int(k), r) for k, r in (methods.get(m) or {}).items()
                            if num(r.get("normalized")) is not None)
            if not points:
                continue
            color, marker = METHOD_STYLES.get(m, (_EXTRA_COLORS[i % len(_EXTRA_COLORS)], "D"))
            ks = [k for k, _ in points]
            ys = [num(r["normalized"]) or 0.0 for _, r in points]
            yerr = _yerr(ys, [ci_pair(r.get("normalized_ci")) for _, r in points])
            ax.errorbar(ks, ys, yerr=yerr, color=color, marker=marker, capsize=3, linewidth=1.5, label=m)
            all_k.update(ks)
        for yline in (0.0, 1.0):
            ax.axhline(yline, color="gray", linewidth=0.6)
        if all_k:
            ax.set_xticks(sorted(all_k))
        ax.set_xlabel("k (demonstrations)")
        ax.set_ylabel("normalized score")
        ax.set_title(str(task), fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("Few-shot adaptation on held-out tasks")
    return _save(fig, path)
