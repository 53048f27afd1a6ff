"""`gatosuite evaluate`: roll a checkpoint out on many tasks and write `eval_info.json` and the report.

For each task, `episodes` episodes are played with seeds `seed, seed + 1, ...` (the same seeds for every
task and every method, recorded per episode), `envs` at a time in one batched policy. Scores are
normalized by the measured reference scores (`envs/reference_scores.json`). Aggregates (IQM, median,
mean, fraction of tasks at >= 50% of expert, performance profile) are over the tasks the checkpoint was
trained on, overall and per domain. Their unit is the task: each task's mean over its episodes, a
(1 x tasks) matrix for this one training run. Their CIs resample episodes within each task, so they show
evaluation noise only (evaluation/scores.py says exactly what is resampled). eval_info.json records
what each aggregate was over (`unit`, `n_tasks`, `n_runs`, `episodes_per_task`, `ci`). Held-out tasks
evaluated zero-shot are reported per task but kept out of those aggregates.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gatosuite.agent.checkpoint import read_config
from gatosuite.agent.factory import make_policy
from gatosuite.agent.runtime import Runtime, default_device, default_precision, resolve
from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError

from .rollout import EpisodeResult, rollout
from .scores import by_domain, normalize_task, performance_profile, task_summary

SCHEMA = 1


def checkpoint_sha256(checkpoint: Path) -> str:
    """Hash of the checkpoint's weights file: what the numbers in a report belong to."""
    h = hashlib.sha256()
    with open(Path(checkpoint) / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def trained_tasks(checkpoint: Path) -> list[str]:
    """The environment tasks a checkpoint was trained on (from its config.json)."""
    return [t for t in read_config(Path(checkpoint)).get("tasks", []) if t in SUITE and SUITE[t].is_env]


def resolve_tasks(checkpoint: Path, selector: str) -> list[str]:
    """'trained' (the checkpoint's own env tasks), or any suite selector (ids, tags); env tasks only."""
    if selector == "trained":
        tasks = trained_tasks(checkpoint)
        if not tasks:
            raise ConfigError(f"checkpoint '{checkpoint}' records no environment tasks; name them with --tasks")
        return tasks
    return [t.id for t in SUITE.select(selector) if t.is_env]


def task_entry(task_id: str, results: list[EpisodeResult], video: str | None = None,
               reps: int = 2000) -> dict[str, Any]:
    """One task's block of eval_info.json: per-episode results and the task's normalized score with CI."""
    task = SUITE[task_id]
    norm = normalize_task(task_id, [r.score for r in results])
    episodes = [{**r.to_dict(), "score": r.score, "normalized": float(n)} for r, n in zip(results, norm)]
    return {"domain": task.domain, "metric": task.metric, "heldout": task.heldout,
            "seeds": [r.seed for r in results], "episodes": episodes,
            **task_summary(task_id, [r.score for r in results], reps=reps), "video": video}


@dataclass
class EvalSettings:
    episodes: int = 5
    """Episodes per task."""
    seed: int = 1000
    """Episode i of every task is reset with seed + i."""
    envs: int = 5
    """Envs stepped together by one batched policy."""
    video: bool = True
    """Write an MP4 of each task's first episode."""
    reps: int = 2000
    """Bootstrap resamples for confidence intervals."""
    device: str = field(default_factory=default_device)
    """auto, cpu or cuda: where policies (and few-shot training) run."""
    precision: str = field(default_factory=default_precision)
    """auto, fp32 or bf16 (see agent/runtime.py)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def runtime(self) -> Runtime:
        """Where and in what precision the policies act (a few-shot run's training resolves its own)."""
        return resolve(self.device, self.precision, workload="act")


def evaluate_tasks(checkpoint: Path, task_ids: list[str], out: Path, s: EvalSettings,
                   progress: bool = True) -> dict[str, dict[str, Any]]:
    """Roll the checkpoint out on each task; the `tasks` block of eval_info.json."""
    for t in task_ids:  # fail on a bad task id before spending minutes on the others
        if not SUITE[t].is_env:
            raise ConfigError(f"task '{t}' is a {SUITE[t].domain} dataset, not an environment; it cannot be evaluated")
    seeds = [s.seed + i for i in range(s.episodes)]
    out_tasks = {}
    for t in tqdm(task_ids, desc="evaluate", unit="task", disable=not progress):
        policy = make_policy(checkpoint, t, device=s.device, precision=s.precision)
        video = out / "videos" / f"{t}.mp4" if s.video else None
        results = rollout(policy, t, seeds, num_envs=s.envs, video=video, progress=progress)
        out_tasks[t] = task_entry(t, results, str(video.relative_to(out)) if video else None, s.reps)
    return out_tasks


def scored_episodes(tasks: dict[str, dict[str, Any]], trained: set[str]) -> dict[str, np.ndarray]:
    """Per-episode normalized scores of the tasks that enter the aggregates: the trained ones (every
    non-held-out task when the checkpoint records none)."""
    return {t: np.array([e["normalized"] for e in v["episodes"]]) for t, v in tasks.items()
            if t in trained or (not trained and not v["heldout"])}


def aggregates(scored: dict[str, np.ndarray], reps: int) -> dict[str, Any]:
    """eval_info.json's `aggregate` (overall and per domain) and `profile` blocks, over tasks."""
    return {"aggregate": by_domain(scored, reps=reps),
            "profile": performance_profile(scored, np.linspace(0.0, 1.2, 25), reps=min(reps, 500))}


def build_info(checkpoint: Path, tasks: dict[str, dict[str, Any]], s: EvalSettings,
               fewshot: dict[str, Any] | None = None, timings: dict[str, float] | None = None) -> dict[str, Any]:
    """eval_info.json: everything the report shows, plus the checkpoint's hash and the seeds."""
    scored = scored_episodes(tasks, set(trained_tasks(checkpoint)))
    info: dict[str, Any] = {
        "schema": SCHEMA, "checkpoint": str(checkpoint), "checkpoint_sha256": checkpoint_sha256(checkpoint),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "episodes_per_task": s.episodes,
        "seeds": [s.seed + i for i in range(s.episodes)], "runtime": s.runtime().to_dict(), "tasks": tasks,
    }
    if scored:
        info.update(aggregates(scored, s.reps))
    if fewshot:
        info["fewshot"] = fewshot
    if timings:
        info["timings"] = timings
    info.update(s.extra)
    return info


def write_outputs(info: dict[str, Any], out: Path, train_csv: Path | None = None) -> dict[str, Path]:
    """eval_info.json (written atomically) and the report next to it."""
    from .report import write_report

    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "eval_info.json.tmp"
    tmp.write_text(json.dumps(info, indent=2, default=_jsonable))
    tmp.replace(out / "eval_info.json")
    paths = write_report(info, out, train_csv if train_csv and Path(train_csv).is_file() else None)
    return {"eval_info": out / "eval_info.json", **paths}


def _jsonable(x: Any) -> Any:
    if isinstance(x, (np.integer, np.floating, np.bool_)):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"cannot write {type(x).__name__} to eval_info.json")
