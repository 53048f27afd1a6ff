"""Expert-normalized scores and their aggregates, with rliable's statistics (Agarwal et al., 2021).

normalized = (score - random) / (expert - random), from `envs/reference_scores.json`; 1.0 is the expert,
0.0 a uniform random policy.

What an aggregate is over
-------------------------
The unit is the TASK, as in rliable's (runs x tasks) layout and JAT's domain IQM. Each task enters as its
mean normalized score over its episodes, once per independent training run (seed): a (runs x tasks)
matrix of per-run task means (`RunTaskScores`). With one training run, as in `gatosuite evaluate`, the
demo and `gatosuite compare`, the matrix is (1 x tasks). Episodes are never treated as runs: a success
task at 80% enters as 0.8, where an IQM over its 0/1 episodes would trim the failures away and give 1.0.

* IQM: `rliable.metrics.aggregate_iqm` of the matrix, the 25% trimmed mean of all (run, task) entries.
* Median and mean: `rliable.metrics.aggregate_median` / `aggregate_mean`, over tasks, of each task's
  mean over runs.
* frac_ge_50, Gato's headline: the fraction of (run, task) entries at >= 0.5; with one run, the
  fraction of tasks.
* Performance profile: rliable's score distribution (`rliable.library.score_distributions`), the
  fraction of (run, task) entries above each threshold tau; with one run, the fraction of tasks.

What the 95% CIs resample
-------------------------
All intervals are percentile intervals from `rliable.library.get_interval_estimates`.

* Several training runs: rliable's stratified bootstrap over runs. For each task, its runs are
  resampled with replacement, and the statistic is recomputed from the resampled (runs x tasks) matrix.
  Episodes are not resampled again, because run-to-run spread already holds their noise.
* One training run with per-episode scores: each task's episodes are resampled with replacement within
  that task (stratified by task; tasks may hold different numbers of episodes). Each task's mean is
  recomputed, and the statistic is taken over the resampled (1 x tasks) row. This interval covers
  evaluation noise only. It says nothing about how another training run would score, and every report
  says so (`aggregate_text.describe_aggregate`).
* Task means only, from one run: there is nothing to resample, so the CIs are None.
* A task's own CI (`task_summary`) is a bootstrap over that task's episodes.

rliable draws its resamples from NumPy's global generator. Every call here seeds it and restores the
caller's state afterwards, so results are reproducible and no one else's random stream moves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError, UnknownNameError

STATS = ("iqm", "median", "mean", "frac_ge_50")
"""The aggregates `aggregate` reports, each with a `<name>_ci`."""


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


# ---- the (runs x tasks) layout ----------------------------------------------------------------------

def _task_runs(task: str, value: Any) -> list[np.ndarray]:
    """One task's scores as a list of per-run episode arrays. A flat sequence is one run's episodes; a
    sequence of sequences, or a 2-D (runs x episodes) array, holds one entry per training run."""
    if isinstance(value, np.ndarray):
        runs = [value.astype(np.float64).ravel()] if value.ndim <= 1 else [r.astype(np.float64) for r in value]
    elif isinstance(value, Sequence) and all(np.ndim(e) == 0 for e in value):
        runs = [np.asarray(value, dtype=np.float64)]
    elif isinstance(value, Sequence):
        runs = [np.asarray(r, dtype=np.float64).ravel() for r in value]
    else:
        raise ConfigError(f"task '{task}': expected its per-episode scores (or a list of them per training run), "
                          f"got {type(value).__name__}")
    if not runs or any(r.size == 0 for r in runs):
        raise ConfigError(f"task '{task}' has no scores; aggregate needs at least one task, each with at least one "
                          "episode in every training run")
    return runs


@dataclass(frozen=True)
class RunTaskScores:
    """Scores in rliable's (runs x tasks) layout, with the episodes behind each entry where they are known."""

    tasks: tuple[str, ...]
    """Task ids, one per column."""
    matrix: np.ndarray
    """(runs, tasks): each training run's mean normalized score on each task."""
    episodes: tuple[tuple[np.ndarray, ...], ...] | None
    """episodes[run][task]: the per-episode scores behind matrix[run, task]; None when only means are known."""

    @classmethod
    def from_episodes(cls, per_task: Mapping[str, Any]) -> RunTaskScores:
        """From {task: per-episode scores} (one run) or {task: [run 1's episodes, run 2's, ...]}."""
        if not per_task:
            raise ConfigError("aggregate needs at least one task, each with at least one episode")
        runs = {t: _task_runs(t, v) for t, v in per_task.items()}
        counts = {t: len(r) for t, r in runs.items()}
        if len(set(counts.values())) != 1:
            raise ConfigError(f"every task needs the same number of training runs, got {counts}; pass each task's "
                              "episodes once per run, in the same run order")
        n = next(iter(counts.values()))
        episodes = tuple(tuple(runs[t][r] for t in runs) for r in range(n))
        matrix = np.array([[e.mean() for e in run] for run in episodes])  # (runs, tasks)
        return cls(tuple(runs), matrix, episodes)

    @classmethod
    def from_means(cls, matrix: Any, tasks: Sequence[str] | None = None) -> RunTaskScores:
        """From a (runs x tasks) matrix of per-run task means (no episodes, so one run has no CI)."""
        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2 or m.size == 0:
            raise ConfigError(f"a score matrix must be (runs x tasks) with at least one entry, got shape {m.shape}")
        names = tuple(tasks) if tasks is not None else tuple(f"task {i}" for i in range(m.shape[1]))
        if len(names) != m.shape[1]:
            raise ConfigError(f"{len(names)} task names for a matrix with {m.shape[1]} task columns")
        return cls(names, m, None)

    @property
    def n_runs(self) -> int:
        return int(self.matrix.shape[0])

    def subset(self, tasks: Sequence[str]) -> RunTaskScores:
        """The same runs restricted to some tasks (a domain's, say)."""
        idx = [self.tasks.index(t) for t in tasks]
        eps = None if self.episodes is None else tuple(tuple(run[i] for i in idx) for run in self.episodes)
        return RunTaskScores(tuple(tasks), self.matrix[:, idx], eps)

    def episodes_per_task(self) -> dict[str, int | list[int]] | None:
        """Episodes behind each task's mean: one count, or one per run where runs differ; None if unknown."""
        if self.episodes is None:
            return None
        out: dict[str, int | list[int]] = {}
        for i, t in enumerate(self.tasks):
            n = [int(run[i].size) for run in self.episodes]
            out[t] = n[0] if len(set(n)) == 1 else n
        return out

    def resampled(self) -> str | None:
        """What the CIs resample: "runs", "episodes", or None when there is nothing to resample."""
        return "runs" if self.n_runs > 1 else "episodes" if self.episodes is not None else None


Scores = Union[RunTaskScores, Mapping[str, Any], np.ndarray]
"""{task: episodes}, {task: [episodes per run]}, a (runs x tasks) matrix of task means, or RunTaskScores."""


def run_task_scores(scores: Scores) -> RunTaskScores:
    """Any accepted form of scores as RunTaskScores."""
    if isinstance(scores, RunTaskScores):
        return scores
    if isinstance(scores, Mapping):
        return RunTaskScores.from_episodes(scores)
    return RunTaskScores.from_means(scores)


# ---- statistics ------------------------------------------------------------------------------------

def _stats(matrix: np.ndarray) -> np.ndarray:
    """rliable's aggregates of a (runs x tasks) matrix, in STATS order."""
    from rliable import metrics

    return np.array([metrics.aggregate_iqm(matrix), metrics.aggregate_median(matrix),
                     metrics.aggregate_mean(matrix), np.mean(matrix >= 0.5)], dtype=np.float64)


def _intervals(s: RunTaskScores, stat: Callable[[np.ndarray], np.ndarray], reps: int, seed: int,
               confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray] | None:
    """Percentile (lo, hi) arrays for each output of `stat` (a function of the runs x tasks matrix),
    resampling what the module docstring says; None when there is nothing to resample."""
    from rliable import library

    how = s.resampled()
    if how is None:
        return None
    if how == "runs":  # rliable's StratifiedBootstrap: runs resampled within each task
        data: dict[str, Any] = {"x": s.matrix}
        func = stat
    else:  # each task's episodes resampled within the task, then each task's mean recomputed
        assert s.episodes is not None
        data = {"x": [e.reshape(-1, 1) for e in s.episodes[0]]}

        def func(*cols: np.ndarray) -> np.ndarray:
            return stat(np.array([[c.mean() for c in cols]]))  # (1, tasks)
    with _seeded(seed):
        _, ci = library.get_interval_estimates(data, func, reps=reps, confidence_interval_size=confidence)
    lo, hi = np.asarray(ci["x"], dtype=np.float64).reshape(2, -1)
    return lo, hi


def stratified_bootstrap_ci(per_task: Mapping[str, np.ndarray], stat: Callable[[Mapping[str, np.ndarray]], float],
                            reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile CI of `stat` when each task's episodes are resampled with replacement within the task
    (rliable's stratified bootstrap). Used for a single task's own CI over its episodes."""
    from rliable import library

    names = list(per_task)

    def func(*cols: np.ndarray) -> np.ndarray:
        return np.array([stat({t: c.ravel() for t, c in zip(names, cols)})])

    cols = [np.asarray(v, dtype=np.float64).reshape(-1, 1) for v in per_task.values()]
    with _seeded(seed):
        _, ci = library.get_interval_estimates({"x": cols}, func, reps=reps, confidence_interval_size=confidence)
    lo, hi = np.asarray(ci["x"]).reshape(2)
    return float(lo), float(hi)


def aggregate(scores: Scores, reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """IQM, median, mean and fraction >= 0.5 over tasks (x runs), each with a 95% CI, and what they were
    over: `unit` "task", `n_tasks`, `n_runs`, `episodes_per_task` and `ci` (what the CIs resample)."""
    s = run_task_scores(scores)
    point = _stats(s.matrix)
    ci = _intervals(s, _stats, reps, seed)
    out: dict[str, Any] = {"unit": "task", "n_tasks": len(s.tasks), "n_runs": s.n_runs,
                           "episodes_per_task": s.episodes_per_task(), "ci": s.resampled()}
    for i, name in enumerate(STATS):
        out[name] = float(point[i])
        out[f"{name}_ci"] = None if ci is None else [float(ci[0][i]), float(ci[1][i])]
    return out


def performance_profile(scores: Scores, taus: np.ndarray, reps: int = 500, seed: int = 0) -> dict[str, Any]:
    """Fraction of (run, task) mean normalized scores above each tau (with one run: of tasks), with 95%
    CIs resampled as `aggregate`'s are (`lo`/`hi` None when nothing can be resampled)."""
    from rliable import library

    s = run_task_scores(scores)
    taus = np.asarray(taus, dtype=np.float64)

    def profile(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(library.score_distributions(matrix, taus), dtype=np.float64)

    ci = _intervals(s, profile, reps, seed)
    return {"tau": taus.tolist(), "fraction": profile(s.matrix).tolist(),
            "lo": None if ci is None else ci[0].tolist(), "hi": None if ci is None else ci[1].tolist(),
            "unit": "task", "n_tasks": len(s.tasks), "n_runs": s.n_runs, "ci": s.resampled()}


def task_summary(task_id: str, scores: Sequence[float], reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """A task's mean raw score, mean normalized score and its 95% bootstrap CI over episodes."""
    norm = normalize_task(task_id, scores)
    lo, hi = stratified_bootstrap_ci({task_id: norm}, lambda d: float(next(iter(d.values())).mean()), reps,
                                     seed=seed)
    ref = SUITE[task_id].reference()
    return {"score": float(np.mean(scores)), "normalized": float(norm.mean()), "normalized_ci": [lo, hi],
            "random": ref["random"], "expert": ref["expert"]}


def by_domain(scores: Scores, reps: int = 2000, seed: int = 0) -> dict[str, Any]:
    """`aggregate` overall and for each domain of the suite (the tasks must be suite ids)."""
    s = run_task_scores(scores)
    out: dict[str, Any] = {"overall": aggregate(s, reps, seed)}
    domains: dict[str, list[str]] = {}
    for t in s.tasks:
        domains.setdefault(SUITE[t].domain, []).append(t)
    out["per_domain"] = {d: aggregate(s.subset(ts), reps, seed) for d, ts in sorted(domains.items())}
    return out
