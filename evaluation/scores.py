"""Expert-normalized scores and their aggregates, with rliable's statistics (Agarwal et al., 2021).

* normalized = (score - random) / (expert - random), from `envs/reference_scores.json`; 1.0 is the
  expert, 0.0 a uniform random policy.
* IQM: `rliable.metrics.aggregate_iqm`, the mean of the middle 50% of all (episode, task) normalized
  scores (a 25% trimmed mean over every score).
* 95% CIs: rliable's stratified bootstrap (`rliable.library.get_interval_estimates`, percentile
  intervals): each task is a stratum, and its episodes are resampled with replacement within it. Tasks
  may hold different numbers of episodes (rliable's independent-samples form).
* Performance profile: `rliable.library.create_performance_profile`, the fraction of (episode, task)
  scores above each threshold tau, with bootstrap CIs.
* Gato's headline: the fraction of tasks whose mean normalized score is at least 0.5.

rliable draws its resamples from NumPy's global generator; every call here seeds it and restores the
caller's state afterwards, so results are reproducible and no one else's random stream moves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
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


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed NumPy's global generator (which rliable's bootstraps draw from) and restore it after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def iqm(x: np.ndarray) -> float:
    """Interquartile mean of all values (rliable's aggregate_iqm: scipy's trim_mean(x, 0.25, axis=None))."""
    from rliable import metrics

    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        raise ConfigError("iqm of no values")
    return float(metrics.aggregate_iqm(x))


def _columns(per_task: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Each task's episodes as an (n_episodes, 1) array: rliable's (runs x tasks) layout, one task each."""
    return [np.asarray(v, dtype=np.float64).reshape(-1, 1) for v in per_task.values()]


def stratified_bootstrap_ci(per_task: Mapping[str, np.ndarray], stat: Callable[[Mapping[str, np.ndarray]], float],
                            reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile CI of `stat` when each task's episodes are resampled with replacement within the task
    (rliable's stratified bootstrap)."""
    from rliable import library

    names = list(per_task)

    def func(*cols: np.ndarray) -> np.ndarray:
        return np.array([stat({t: c.ravel() for t, c in zip(names, cols)})])

    with _seeded(seed):
        _, ci = library.get_interval_estimates({"x": _columns(per_task)}, func, reps=reps,
                                               confidence_interval_size=confidence)
    lo, hi = np.asarray(ci["x"]).reshape(2)
    return float(lo), float(hi)


def _flat(per_task: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in per_task.values()])


def aggregate(per_task: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Mean, median, IQM (each mean and the IQM with a 95% stratified-bootstrap CI) and the fraction of
    tasks at >= 50% of expert, over a set of tasks' per-episode normalized scores."""
    if not per_task or any(np.asarray(v).size == 0 for v in per_task.values()):
        raise ConfigError("aggregate needs at least one task, each with at least one episode")
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
    """Fraction of (episode, task) normalized scores above each tau, with 95% bootstrap CIs (rliable's
    score distribution). A task with fewer episodes than the others has them repeated in turn, so each task keeps
    its own weight."""
    from rliable import library

    taus = np.asarray(taus, dtype=np.float64)
    cols = _columns(per_task)
    n = max(len(c) for c in cols)
    matrix = np.concatenate([c if len(c) == n else c[np.arange(n) % len(c)] for c in cols], axis=1)  # (n, tasks)
    with _seeded(seed):
        prof, cis = library.create_performance_profile({"x": matrix}, taus, reps=reps)
    lo, hi = np.asarray(cis["x"])
    return {"tau": taus.tolist(), "fraction": np.asarray(prof["x"]).tolist(), "lo": lo.tolist(), "hi": hi.tolist()}


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
