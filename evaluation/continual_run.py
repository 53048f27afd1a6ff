"""The continual protocol (Continual World's, on the suite's tasks): tasks arrive one at a time in a fixed,
recorded order; each is trained for the same number of steps, on its own data only (nothing of an earlier task
is replayed); the model is scored in the env on every task seen so far after each arrival (tasks yet to come
are not: the metrics never read them, and a policy cannot act on token kinds it was never trained on), and on
the arriving task at
evenly spaced points of its training (its learning curve). The reference curve of task i is the same family
trained on task i alone from scratch for the same steps, on the same seeds; for the first task that run is
the sequence's own first stage, so it is not trained twice.

This module runs one family over one sequence for one training seed and returns a `ContinualRun`
(evaluation/continual.py holds the metrics). Training goes through the shared trainer (`agent/train.py`):
a task's stage is trained in `points` slices of one schedule (--stop-at, then --resume), and a later task
starts from the previous stage's weights (--init-from). Every stage's result is written to `work` as it
finishes, and a killed run resumes from the last finished stage (`resume=True`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gatosuite.agent.factory import make_policy
from gatosuite.agent.families import get_family
from gatosuite.agent.train import TrainArgs, train
from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError
from gatosuite.evaluation.continual import ContinualRun
from gatosuite.evaluation.rollout import rollout
from gatosuite.locks import exclusive

CW10 = ("hammer", "push-wall", "faucet-close", "push-back", "stick-pull", "handle-press-side", "push",
        "shelf-place", "window-close", "peg-unplug-side")
"""Continual World's CW10 sequence, in its order (Wołczyk et al. 2021, section 3), as Meta-World task names."""


@dataclass(frozen=True)
class ContinualSettings:
    """One continual run: the sequence, the per-task budget and how success is measured."""

    tasks: tuple[str, ...]
    """Suite task ids, in arrival order."""
    steps: int = 300
    """Training steps per task (the same for every task, and for each reference run)."""
    points: int = 3
    """Evaluations of the arriving task during its training (its learning curve; the last at its end)."""
    episodes: int = 5
    """Episodes per success measurement (seeds `seed`, `seed`+1, ...), the same for every task."""
    seed: int = 1000
    """First evaluation seed: no recipe was tuned on these."""
    train_seed: int = 0
    """Seed of the weights and of training (one run of the protocol)."""
    model: str = "gato"
    preset: str = "nano"
    batch_size: int = 16
    window: int = 256
    envs: int = 5
    device: str = "cpu"

    def __post_init__(self) -> None:
        if len(self.tasks) < 2 or len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"a continual sequence needs at least 2 distinct tasks, got {', '.join(self.tasks)}")
        for t in self.tasks:
            if not SUITE[t].is_env:
                raise ConfigError(f"task '{t}' is a dataset, not an environment: success cannot be measured")
        if self.points < 1 or self.steps < self.points:
            raise ConfigError(f"need 1 <= points ({self.points}) <= steps ({self.steps})")


def success(checkpoint: Path, task_id: str, s: ContinualSettings, record: dict[str, Any] | None = None) -> float:
    """The checkpoint's success rate (or, on a task scored by return, its expert-normalised mean score
    clipped to [0, 1]) over the settings' seeded episodes. `record`: what the family recorded for the task at
    the end of its stage (PathNet: its path), to switch the model onto it first."""
    policy = make_policy(checkpoint, task_id, device=s.device)
    if record is not None:
        get_family(s.model).continual.select(policy.model, record)
    results = rollout(policy, task_id, [s.seed + i for i in range(s.episodes)], num_envs=min(s.envs, s.episodes),
                      progress=False)
    task = SUITE[task_id]
    if task.metric == "success":
        return float(np.mean([bool(r.success) for r in results]))
    from gatosuite.evaluation.scores import normalize_task

    return float(np.clip(np.mean(normalize_task(task_id, [r.ret for r in results])), 0.0, 1.0))


def train_stage(task_id: str, out: Path, root: Path, s: ContinualSettings, init_from: Path | None,
                text_model: Any) -> list[float]:
    """Train `task_id` for `s.steps` in `s.points` slices from `init_from` (None: from scratch); the
    arriving task's success after each slice."""
    curve = []
    for p in range(1, s.points + 1):
        args = TrainArgs(tasks=task_id, root=root, out=out, model=s.model, preset=s.preset, steps=s.steps,
                         stop_at=round(p * s.steps / s.points), resume=p > 1,
                         init_from=init_from if p == 1 else None, batch_size=s.batch_size, window=s.window,
                         warmup=max(1, s.steps // 10), val_every=0, log_every=max(1, s.steps // 10),
                         ckpt_every=10**9, seed=s.train_seed, device=s.device)
        train(args, text_model, progress=False)
        curve.append(success(out / "checkpoint", task_id, s))
    return curve


def run_sequence(s: ContinualSettings, root: Path, work: Path, text_model: Any, resume: bool = False) -> ContinualRun:
    """One family over the sequence, with the reference runs; `root` holds each task's collected dataset."""
    work.mkdir(parents=True, exist_ok=True)
    with exclusive(work / ".lock", f"a continual run in '{work}'", "wait for it to finish, or use another --work"):
        return _run_locked(s, root, work, text_model, resume)


def _run_locked(s: ContinualSettings, root: Path, work: Path, text_model: Any, resume: bool) -> ContinualRun:
    record = work / "continual.json"
    state: dict[str, Any] = {"settings": {**s.__dict__, "tasks": list(s.tasks)}, "stages": [], "reference": {}}
    if resume and record.is_file():
        state = json.loads(record.read_text())
        if state["settings"] != {**s.__dict__, "tasks": list(s.tasks)}:
            raise ConfigError(f"'{record}' was written by another continual run (settings differ); use another "
                              "--work folder, or delete it to start again")
    elif record.is_file():
        raise ConfigError(f"'{work}' holds a continual run already; pass --resume to go on, or use another folder")

    def save() -> None:
        tmp = record.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(record)

    hooks = get_family(s.model).continual  # the family's own steps between tasks, if any (PathNet's)
    records: dict[str, Any] = {st["task"]: st["family"] for st in state["stages"] if st.get("family") is not None}
    bar = tqdm(total=2 * len(s.tasks) - 1, desc=f"continual {s.model} seed {s.train_seed}", unit="stage",
               initial=len(state["stages"]) + len(state["reference"]))
    prev: Path | None = None
    for i, task in enumerate(s.tasks):
        out = work / f"stage{i}-{task}"
        if i < len(state["stages"]):
            prev = out / "checkpoint"
            continue
        bar.set_postfix_str(f"task {i + 1}/{len(s.tasks)}: {task}")
        start = prev
        if hooks is not None and prev is not None:
            start = work / f"stage{i}-start" / "checkpoint"
            hooks.stage_init(prev, start, i, s.train_seed, text_model)
        curve = train_stage(task, out, root, s, start, text_model)
        prev = out / "checkpoint"
        if hooks is not None:
            records[task] = hooks.stage_end(prev)
        row = [curve[-1] if j == i else success(prev, t, s, records.get(t)) if j < i else None
               for j, t in enumerate(s.tasks)]
        state["stages"].append({"task": task, "curve": curve, "success": row, "family": records.get(task)})
        save()
        bar.update()
    for i, task in enumerate(s.tasks[1:], start=1):
        if task in state["reference"]:
            continue
        bar.set_postfix_str(f"{task} alone, from scratch")
        state["reference"][task] = train_stage(task, work / f"alone-{task}", root, s, None, text_model)
        save()
        bar.update()
    bar.close()
    first = s.tasks[0]
    reference = [state["stages"][0]["curve"] if t == first else state["reference"][t] for t in s.tasks]
    matrix = np.array([[np.nan if v is None else v for v in st["success"]] for st in state["stages"]])
    return ContinualRun(tasks=s.tasks, success=matrix,
                        curves=tuple(np.array(st["curve"]) for st in state["stages"]),
                        reference=tuple(np.array(c) for c in reference),
                        params_added=tuple(int((st.get("family") or {}).get("params_added", 0))
                                           for st in state["stages"]))
