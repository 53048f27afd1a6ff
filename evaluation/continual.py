"""Continual-learning metrics, as Continual World defines them (Wołczyk et al. 2021, "Continual World: A Robotic
Benchmark For Continual Reinforcement Learning", section 3).

Tasks 0..N-1 arrive one at a time, each trained for the same budget. One run gives:

* `success[i, j]`: the success rate on task j measured at the end of training on task i (an N x N matrix;
  rows are arrivals, columns tasks; entries above the diagonal, tasks yet to come, may be NaN: no metric
  reads them);
* `curves[i]`: task i's success at evenly spaced points during its own training (its learning curve), the
  first point after the first training interval and the last at the end of its training;
* `reference[i]`: the same curve for the same family trained on task i alone, from scratch (the baseline b).

From them, per run:

* performance P = mean over j of success[N-1, j], the mean success over all tasks at the end;
* forgetting F_i = success[i, i] - success[N-1, i], how much task i lost between the end of its own training
  and the end of the sequence (F_{N-1} = 0 by definition); F is the mean over all N tasks, as in the paper;
* forward transfer FT_i = (AUC_i - AUC_i^b) / (1 - AUC_i^b), where AUC is the mean of the learning curve (the
  normalised area under it); FT is the mean over tasks. FT_i is undefined where the baseline's AUC is 1 (it
  could not be beaten); such tasks are left out of the mean and named in `undefined_transfer`.

Across runs (training seeds), each metric's 95% CI is a percentile bootstrap over the seeds: the unit that is
resampled is a whole run, never an episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gatosuite.errors import ConfigError


@dataclass(frozen=True)
class ContinualRun:
    """What one training seed of one family measured over a task sequence."""

    tasks: tuple[str, ...]
    """The sequence, in arrival order."""
    success: np.ndarray
    """(N, N): success on task j (column) after training on task i (row)."""
    curves: tuple[np.ndarray, ...]
    """Task i's success during its own training, evenly spaced, the last point at its end."""
    reference: tuple[np.ndarray, ...]
    """Task i's curve when the family is trained on it alone from scratch, at the same points."""
    params_added: tuple[int, ...] = ()
    """Trainable parameters the family added for each task (0 for one shared network)."""

    def __post_init__(self) -> None:
        n = len(self.tasks)
        s = np.asarray(self.success, dtype=np.float64)
        if s.shape != (n, n):
            raise ConfigError(f"the success matrix must be {n} x {n} for {n} tasks, got shape {s.shape}")
        if len(self.curves) != n or len(self.reference) != n:
            raise ConfigError(f"need one learning curve and one reference curve per task ({n}), got "
                              f"{len(self.curves)} and {len(self.reference)}")
        if np.isnan(s[np.tril_indices(n)]).any():
            raise ConfigError("the success matrix must be measured on every task seen so far (on and below the "
                              "diagonal); only tasks yet to come (above it) may be NaN")
        seen = np.where(np.isnan(s), 0.0, s)
        for name, x in (("success", seen), *((f"curve {i}", c) for i, c in enumerate(self.curves)),
                        *((f"reference {i}", c) for i, c in enumerate(self.reference))):
            x = np.asarray(x, dtype=np.float64)
            if x.size == 0 or not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
                raise ConfigError(f"{name} must hold success rates in [0, 1], got {x}")
        object.__setattr__(self, "success", s)


def performance(success: np.ndarray) -> float:
    """Mean success over all tasks after the last one was trained."""
    return float(np.mean(success[-1]))


def forgetting(success: np.ndarray) -> np.ndarray:
    """F_i = success at the end of task i's own training minus success at the end of the sequence."""
    return np.diag(success) - success[-1]


def auc(curve: Sequence[float] | np.ndarray) -> float:
    """The normalised area under an evenly spaced learning curve: its mean."""
    return float(np.mean(np.asarray(curve, dtype=np.float64)))


def forward_transfer(curves: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> np.ndarray:
    """FT_i = (AUC_i - AUC_i^b) / (1 - AUC_i^b); NaN where the baseline's AUC is 1."""
    out = []
    for c, b in zip(curves, reference):
        a, ab = auc(c), auc(b)
        out.append(np.nan if ab >= 1.0 else (a - ab) / (1.0 - ab))
    return np.array(out, dtype=np.float64)


def run_metrics(run: ContinualRun) -> dict[str, Any]:
    """One run's performance, forgetting and forward transfer, per task and overall."""
    f = forgetting(run.success)
    ft = forward_transfer(run.curves, run.reference)
    return {"performance": performance(run.success), "forgetting": float(np.mean(f)),
            "forward_transfer": float(np.nanmean(ft)) if np.isfinite(ft).any() else float("nan"),
            "per_task": {t: {"forgetting": float(f[i]), "forward_transfer": float(ft[i]),
                             "final_success": float(run.success[-1, i]), "auc": auc(run.curves[i]),
                             "reference_auc": auc(run.reference[i])} for i, t in enumerate(run.tasks)},
            "undefined_transfer": [t for i, t in enumerate(run.tasks) if not np.isfinite(ft[i])],
            "params_added": list(run.params_added)}


@dataclass
class SeedCI:
    """A metric's mean over training seeds with a 95% percentile-bootstrap CI over the seeds."""

    mean: float
    ci: list[float] | None = field(default=None)
    """None with fewer than two seeds: one run gives no interval."""
    seeds: int = 1


def seed_ci(values: Sequence[float], reps: int = 2000, seed: int = 0, confidence: float = 0.95) -> SeedCI:
    """Mean of per-seed values and the percentile bootstrap CI of that mean, resampling seeds."""
    x = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if x.size == 0:
        return SeedCI(float("nan"), None, 0)
    if x.size == 1:
        return SeedCI(float(x[0]), None, 1)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(reps, x.size))].mean(1)
    lo, hi = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return SeedCI(float(x.mean()), [float(lo), float(hi)], int(x.size))


def finite_or_none(obj: Any) -> Any:
    """`obj` (nested dicts and lists) with each non-finite float replaced by None: an undefined metric (a
    transfer whose baseline's AUC is 1) is JSON's null, never a NaN that strict JSON cannot hold."""
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def summarize(runs: Sequence[ContinualRun], reps: int = 2000) -> dict[str, Any]:
    """The continual table's row for one family: each metric over its seeds with CIs, the mean success matrix
    (for the heat map) and the parameters added per task. The row is strict JSON: an undefined value is None."""
    if not runs:
        raise ConfigError("no runs to summarize")
    tasks = runs[0].tasks
    if any(r.tasks != tasks for r in runs):
        raise ConfigError("every run of a family must see the same task sequence; got "
                          + "; ".join(",".join(r.tasks) for r in runs))
    per_run = [run_metrics(r) for r in runs]
    row: dict[str, Any] = {"tasks": list(tasks), "seeds": len(runs)}
    for key in ("performance", "forgetting", "forward_transfer"):
        ci = seed_ci([m[key] for m in per_run], reps=reps)
        row[key] = {"mean": ci.mean, "ci": ci.ci, "seeds": ci.seeds}
    row["success_matrix"] = [[None if np.isnan(v) else float(v) for v in r]
                             for r in np.mean([r.success for r in runs], axis=0)]
    row["params_added"] = np.mean([r.params_added for r in runs], axis=0).tolist() if runs[0].params_added else []
    row["per_run"] = per_run
    return finite_or_none(row)
