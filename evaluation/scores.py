"""Expert-normalized scores and their aggregates, with rliable's statistics in plain numpy.

* normalized = (score - random) / (expert - random), from `envs/reference_scores.json`; 1.0 is the
  expert, 0.0 a uniform random policy.
* IQM: the mean of the middle 50% of all (episode, task) normalized scores (rliable's
  `aggregate_iqm`, a 25% trimmed mean over the flattened score matrix).
* 95% CIs: percentile intervals of a stratified bootstrap (rliable's `StratifiedBootstrap`): each task
  is a stratum, and its episodes are resampled with replacement within it.
* Performance profile: the fraction of (episode, task) scores above each threshold tau (Agarwal et al.,
  2021), with bootstrap CIs.
* Gato's headline: the fraction of tasks whose mean normalized score is at least 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError, UnknownNameError


def normalize(score: float | np.ndarray, random: float, expert: float) -> float | np.ndarray:
    """(score - random) / (expert - random); raises when the two references coincide."""
    if not np.isfinite(random) or not np.isfinite(expert) or expert == random:
        raise ConfigError(f"cannot normalize with random {random} and expert {expert}: they must be finite and "
                         "differ; measure them with `gatosuite reference-scores`")
    return (np.asarray(score, dtype=np.float64) - random) / (expert - random)


def normalize_task(task_id: str, scores: Sequence[float]) -> np.ndarray:
    """Per-episode normalized scores of a suite task, from its measured reference scores."""
    ref = SUITE[task_id].reference()
    if not ref:
        raise UnknownNameError(f"task '{task_id}' has no reference scores; run `gatosuite reference-scores --task "
                       f"{task_id}`")
    return np.asarray(normalize(np.asarray(scores, dtype=np.float64), ref["random"], ref["expert"]))


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of the values (25% trimmed from each end, as
    scipy.stats.trim_mean(x, 0.25) cuts them)."""
    x = np.sort(np.asarray(x, dtype=np.float64).ravel())
    if x.size == 0:
        raise ValueError("iqm of no values")
    cut = int(0.25 * x.size)
    return float(x[cut: x.size - cut].mean())


def _flat(per_task: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in per_task.values()])


def stratified_bootstrap_ci(per_task: Mapping[str, np.ndarray], stat: Callable[[Mapping[str, np.ndarray]], float],
                            reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile CI of `stat` when each task's episodes are resampled with replacement within the task."""
    rng = np.random.default_rng(seed)
    arrays = {t: np.asarray(v, dtype=np.float64).ravel() for t, v in per_task.items()}
    values = np.empty(reps)
    for r in range(reps):
        values[r] = stat({t: a[rng.integers(0, a.size, a.size)] for t, a in arrays.items()})
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)


def aggregate(per_task: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Mean, median, IQM (with a 95% stratified-bootstrap CI) and the fraction of tasks at >= 50% of
    expert, over a set of tasks' per-episode normalized scores."""
    if not per_task or any(np.asarray(v).size == 0 for v in per_task.values()):
        raise ValueError("aggregate needs at least one task, each with at least one episode")
    task_means = np.array([np.mean(v) for v in per_task.values()])
    return {
        "n_tasks": len(per_task),
        "mean": float(task_means.mean()),
        "median": float(np.median(task_means)),
        "iqm": iqm(_flat(per_task)),
        "iqm_ci": list(stratified_bootstrap_ci(per_task, lambda d: iqm(_flat(d)), reps, seed=seed)),
        "mean_ci": list(stratified_bootstrap_ci(per_task, lambda d: float(np.mean([v.mean() for v in d.values()])),
                                                reps, seed=seed)),
        "frac_ge_50": float((task_means >= 0.5).mean()),
    }


def performance_profile(per_task: Mapping[str, np.ndarray], taus: np.ndarray, reps: int = 500,
                        seed: int = 0) -> dict[str, list[float]]:
    """Fraction of (episode, task) normalized scores above each tau, with 95% bootstrap CIs."""
    taus = np.asarray(taus, dtype=np.float64)
    frac = lambda d: (_flat(d)[:, None] > taus[None, :]).mean(axis=0)  # noqa: E731
    rng = np.random.default_rng(seed)
    arrays = {t: np.asarray(v, dtype=np.float64).ravel() for t, v in per_task.items()}
    boot = np.stack([frac({t: a[rng.integers(0, a.size, a.size)] for t, a in arrays.items()}) for _ in range(reps)])
    lo, hi = np.quantile(boot, [0.025, 0.975], axis=0)
    return {"tau": taus.tolist(), "fraction": frac(arrays).tolist(), "lo": lo.tolist(), "hi": hi.tolist()}


def task_summary(task_id: str, scores: Sequence[float], reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """A task's mean raw score, mean normalized score and its 95% bootstrap CI over episodes."""
    norm = normalize_task(task_id, scores)
    lo, hi = stratified_bootstrap_ci({task_id: norm}, lambda d: float(next(iter(d.values())).mean()), reps,
                                     seed=seed)
    ref = SUITE[task_id].reference()
    return {"score": float(np.mean(scores)), "normalized": float(norm.mean()), "normalized_ci": [lo, hi],
            "random": ref["random"], "expert": ref["expert"]}


def by_domain(per_task: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """`aggregate` overall and for each domain of the suite."""
    out: dict[str, Any] = {"overall": aggregate(per_task, reps, seed)}
    domains: dict[str, dict[str, np.ndarray]] = {}
    for t, v in per_task.items():
        domains.setdefault(SUITE[t].domain, {})[t] = v
    out["per_domain"] = {d: aggregate(v, reps, seed) for d, v in sorted(domains.items())}
    return out
