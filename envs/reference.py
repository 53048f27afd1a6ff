"""Measuring reference scores: the expert's and a uniform random policy's mean over the same seeds.

Writes `envs/reference_scores.json`, which the registry reads (`TaskSpec.random_score/expert_score`),
the Minari datasets carry as ref_min/ref_max, and evaluation normalizes by.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gatosuite.locks import waiting

from .expert_wrapper import EXPERT_ACTION
from .make import make_task_env
from .registry import REFERENCE_SCORES, TaskSpec
from .success import episode_success


def run_episode(env, seed: int, policy: str) -> tuple[float, bool, int]:
    """One episode with the expert (from info) or a seeded uniform random policy: (return, success, steps)."""
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    total, steps, done, flags = 0.0, 0, False, []
    while not done:
        action = info[EXPERT_ACTION] if policy == "expert" else env.action_space.sample()
        obs, r, term, trunc, info = env.step(action)
        total += float(r)
        steps += 1
        if "success" in info:
            flags.append(info["success"])
        done = term or trunc
    return total, episode_success(flags, term, float(r)), steps


def measure(task: TaskSpec, episodes: int = 50, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Expert and random statistics over seeds seed..seed+episodes-1."""
    row: dict[str, Any] = {"episodes": episodes, "seeds": [seed, seed + episodes - 1], "metric": task.metric}
    for policy in ("expert", "random"):
        env = make_task_env(task.id, expert=(policy == "expert"))
        t0 = time.perf_counter()
        results = [run_episode(env, seed + i, policy)
                   for i in tqdm(range(episodes), desc=f"{task.id} {policy}", disable=not progress, leave=False)]
        env.close()
        rets = np.array([r[0] for r in results])
        succ = np.array([r[1] for r in results], dtype=float)
        value = succ.mean() if task.metric == "success" else rets.mean()
        row[policy] = float(value)
        row[f"{policy}_return_mean"] = float(rets.mean())
        row[f"{policy}_return_std"] = float(rets.std())
        if task.metric == "success":
            row[f"{policy}_success"] = float(succ.mean())
        row[f"{policy}_steps_per_s"] = float(sum(r[2] for r in results) / (time.perf_counter() - t0))
    row["bar"] = task.bar
    row["bar_met"] = None if task.bar is None else bool(row["expert"] >= task.bar)
    return row


def update_reference_file(rows: dict[str, dict[str, Any]], path: Path = REFERENCE_SCORES) -> None:
    """Merge measured rows into the JSON file (other tasks' rows are kept). Two measurements may run at once
    (one per domain, say): the read-merge-write holds a lock that the other waits for, so neither loses the
    other's rows."""
    with waiting(path.with_name(f".{path.name}.lock")):
        data = json.loads(path.read_text()) if path.is_file() else {}
        data.update(rows)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")
        os.replace(tmp, path)  # a killed run never leaves a half-written file
    from . import registry

    registry._REFS = None  # re-read on next access


def rebar(tasks: list[TaskSpec], path: Path = REFERENCE_SCORES) -> list[str]:
    """Judge the stored rows of `tasks` against the registry's bars as they are now (after a bar changed);
    nothing is re-measured. Returns the ids whose bar or verdict changed."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    rows = {}
    for t in tasks:
        row = data.get(t.id)
        if row is None:
            continue
        met = None if t.bar is None else bool(row["expert"] >= t.bar)
        if row.get("bar") != t.bar or row.get("bar_met") != met:
            rows[t.id] = {**row, "bar": t.bar, "bar_met": met}
    if rows:
        update_reference_file(rows, path)
    return sorted(rows)


def markdown_table(tasks: list[TaskSpec], path: Path = REFERENCE_SCORES) -> str:
    """The measured reference scores as a Markdown table, one row per env task, in suite order."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    lines = ["| task | metric | expert (mean ± std) | random | bar | bar met | held out |",
             "|---|---|---|---|---|---|---|"]
    for t in tasks:
        row = data.get(t.id)
        if not t.is_env or row is None:
            continue
        f = "{:.1f}" if row["metric"] == "return" else "{:.2f}"
        std = row.get("expert_return_std")
        expert = f.format(row["expert"]) + (f" ± {std:.1f}" if std is not None and row["metric"] == "return" else "")
        met = {True: "yes", False: f"**no**: {t.bar_note}" if t.bar_note else "**no**", None: "—"}[row.get("bar_met")]
        bar = "—" if t.bar is None else f"{t.bar:g}"
        lines.append(f"| {t.id} | {row['metric']} | {expert} | {f.format(row['random'])} | {bar} | {met} | "
                     f"{'yes' if t.heldout else ''} |")
    return "\n".join(lines)
