"""What an aggregate was taken over, in words: the line that every report prints beside an IQM.

A reader who knows rliable reads an IQM as taken over independent training runs and tasks. The line
below says what this one was over: how many tasks and training runs, how many episodes stand behind
each task's mean, and what the CI resamples. It is built from the fields that `scores.aggregate` and
`scores.performance_profile` record (`unit`, `n_tasks`, `n_runs`, `episodes_per_task`, `ci`), so the
line cannot disagree with the numbers. An aggregate without `unit` was written before aggregates were
taken over tasks. Its IQM pooled every (episode, task) score, and the line says that.

This module imports nothing heavy, so reports and figures can use it without loading the simulators.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

RESAMPLED = {
    "episodes": "stratified bootstrap over episodes within each task (evaluation noise only: one training run "
                "says nothing about another)",
    "runs": "rliable's stratified bootstrap over training runs within each task",
}
"""How each value of an aggregate's `ci` field reads in a sentence."""

LEGACY = ("IQM over all (episode, task) scores pooled: an episode-level IQM written by an older gatosuite, not "
          "comparable with a task-level IQM (mean, median and fraction >= 0.5 are over tasks); 95% CIs: stratified "
          "bootstrap over episodes within each task.")
"""The line for an aggregate that has no `unit` field."""


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _has_ci(agg: Mapping[str, Any], key: str) -> bool:
    ci = agg.get(key)
    return (isinstance(ci, (list, tuple)) and len(ci) == 2
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in ci))


def _episodes(agg: Mapping[str, Any]) -> str:
    """`each task's mean over its 20 episodes`, a range where tasks differ, or that they were not kept."""
    owner = "each task's mean" if agg.get("n_runs", 1) == 1 else "each run's mean on each task"
    per_task = agg.get("episodes_per_task")
    if not isinstance(per_task, Mapping) or not per_task:
        return f"{owner} as stored; its per-episode scores were not kept"
    counts = sorted({int(c) for v in per_task.values() for c in (v if isinstance(v, list) else [v])})
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
    return f"{owner} over its {n} episode{'' if n == '1' else 's'}"


def _intervals(agg: Mapping[str, Any]) -> str:
    """What the 95% CIs resample, naming any statistic stored without one."""
    how = RESAMPLED.get(str(agg.get("ci")))
    with_ci = [name for name, key in (("IQM", "iqm_ci"), ("median", "median_ci"), ("mean", "mean_ci"))
               if _has_ci(agg, key)]
    if how is None or not with_ci:
        return "no CIs (neither per-episode scores nor several training runs were stored to resample)"
    if len(with_ci) == 3:
        return f"95% CIs: {how}"
    return f"95% CI of the {' and '.join(with_ci)} only (no per-episode scores were stored for the rest): {how}"


def describe_aggregate(agg: Mapping[str, Any] | None) -> str:
    """One sentence: what the IQM, median and mean were taken over, and what their CIs resample.

    e.g. "IQM, median and mean over 8 tasks x 1 training run (each task's mean over its 20 episodes);
    95% CIs: stratified bootstrap over episodes within each task (evaluation noise only: ...)."
    """
    if not agg:
        return "No aggregate was computed."
    if agg.get("unit") != "task":
        return LEGACY
    over = f"{_plural(agg.get('n_tasks', '?'), 'task')} x {_plural(agg.get('n_runs', 1), 'training run')}"
    return f"IQM, median and mean over {over} ({_episodes(agg)}); {_intervals(agg)}."


def profile_ylabel(profile: Mapping[str, Any] | None) -> str:
    """The performance profile's y-axis: what it counts (tasks, or (run, task) pairs; episodes if old)."""
    profile = profile or {}
    if profile.get("unit") != "task":
        return r"fraction of (episode, task) scores > $\tau$ (episode-level)"
    if profile.get("n_runs", 1) == 1:
        return r"fraction of tasks with mean score > $\tau$"
    return r"fraction of (run, task) mean scores > $\tau$"
