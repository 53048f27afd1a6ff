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
starts from the previous stage's weights (--init-from). The run has independent parts: the sequence
(`run_stages`, its stages one after another) and each later task's reference run (`run_reference`);
`run_sequence` runs them in turn, and evaluation/continual_jobs.py runs them as parallel jobs. Each part
writes its record to `work` as it finishes (the sequence after every stage: `continual.json`; a reference
run: `reference-<task>.json`), and a killed run resumes from the last finished stage (`resume=True`); a
stage killed half-way is trained again from its start.
"""

from __future__ import annotations

import functools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.vector import SyncVectorEnv
from tqdm.auto import tqdm

from gatosuite.agent.factory import make_policy
from gatosuite.agent.families import get_family
from gatosuite.agent.train import TrainArgs, train
from gatosuite.atomic import write_json
from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError, CorruptFileError
from gatosuite.evaluation.continual import ContinualRun
from gatosuite.evaluation.continual_search import search_stage
from gatosuite.evaluation.rollout import rollout, vector_env
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
    precision: str = "auto"
    """Training's and acting's precision (agent/runtime.py); a comparison resolves `auto` once, before any job,
    so every stage, reference run and worker of a run uses the same one."""
    search: int = 0
    """Generations of the family's own evolution at each later task's start (evaluation/continual_search.py:
    PathNet's path, muNet's child); 0: one seeded draw. A family that does not evolve ignores it."""
    search_size: int = 4
    """PathNet's population of paths in a search (muNet's grows from the system's routes)."""
    search_steps: int = 20
    """Training steps of each candidate of a search, on top of `steps` (the stage's record counts them)."""

    def __post_init__(self) -> None:
        if len(self.tasks) < 2 or len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"a continual sequence needs at least 2 distinct tasks, got {', '.join(self.tasks)}")
        for t in self.tasks:
            if not SUITE[t].is_env:
                raise ConfigError(f"task '{t}' is a dataset, not an environment: success cannot be measured")
        if self.points < 1 or self.steps < self.points:
            raise ConfigError(f"need 1 <= points ({self.points}) <= steps ({self.steps})")
        if self.search < 0 or self.search_size < 2 or self.search_steps < 1:
            raise ConfigError(f"a search needs generations >= 0 ({self.search}), a population of at least 2 "
                              f"({self.search_size}) and candidate steps >= 1 ({self.search_steps})")


def success(checkpoint: Path, task_id: str, s: ContinualSettings, record: dict[str, Any] | None = None) -> float:
    """The checkpoint's success rate (or, on a task scored by return, its expert-normalised mean score
    clipped to [0, 1]) over the settings' seeded episodes. An episode stops at its first success (which
    decides it), in envs kept open for the process. `record`: what the family recorded for the task at
    the end of its stage (PathNet: its path), to switch the model onto it first."""
    policy = make_policy(checkpoint, task_id, device=s.device, precision=s.precision)
    if record is not None:
        get_family(s.model).continual.select(policy.model, record)
    n = min(s.envs, s.episodes)
    results = rollout(policy, task_id, [s.seed + i for i in range(s.episodes)], num_envs=n, progress=False,
                      until_success=True, envs=_envs(task_id, n))
    task = SUITE[task_id]
    if task.metric == "success":
        return float(np.mean([bool(r.success) for r in results]))
    from gatosuite.evaluation.scores import normalize_task

    return float(np.clip(np.mean(normalize_task(task_id, [r.ret for r in results])), 0.0, 1.0))


@functools.lru_cache(maxsize=None)
def _envs(task_id: str, n: int) -> SyncVectorEnv:
    """One vector env per task for the whole process: a run scores each task many times, and building a
    Meta-World env takes about 0.6 s (its benchmark's 50 tasks are made each time)."""
    return vector_env(task_id, n)


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
                         ckpt_every=10**9, seed=s.train_seed, device=s.device, precision=s.precision)
        train(args, text_model, progress=False)
        curve.append(success(out / "checkpoint", task_id, s))
    return curve


def run_sequence(s: ContinualSettings, root: Path, work: Path, text_model: Any, resume: bool = False) -> ContinualRun:
    """One family over the sequence, then the reference runs, one after another in this process; `root` holds
    each task's collected dataset. (evaluation/continual_jobs.py runs the same pieces as parallel jobs.)"""
    run_stages(s, root, work, text_model, resume)
    for task in s.tasks[1:]:
        run_reference(s, task, root, work, text_model, resume)
    return assemble(s, work)


def run_stages(s: ContinualSettings, root: Path, work: Path, text_model: Any, resume: bool = False) -> None:
    """The sequence itself, stage by stage, into `work`/continual.json (one writer: `work`/.lock)."""
    work.mkdir(parents=True, exist_ok=True)
    with exclusive(work / ".lock", f"a continual run in '{work}'", "wait for it to finish, or use another --work"):
        _stages_locked(s, root, work, text_model, resume)


def _settings(s: ContinualSettings) -> dict[str, Any]:
    return {**s.__dict__, "tasks": list(s.tasks)}


def _read_record(path: Path, s: ContinualSettings, resume: bool, what: str) -> dict[str, Any] | None:
    """A record's state when resuming a run with the same settings; None for a fresh run."""
    if not path.is_file():
        return None
    if not resume:
        raise ConfigError(f"'{path.parent}' holds {what} already; pass --resume to go on, or use another folder")
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CorruptFileError(f"'{path}' is not a continual record ({e}); delete it to run that part again") from None
    old, new = state.get("settings", {}), _settings(s)
    defaults = _settings(ContinualSettings(tasks=s.tasks))  # a field newer than the record: its default there
    diff = [f"{k}: {old.get(k, defaults[k])!r} there, {new[k]!r} here" for k in new
            if old.get(k, defaults[k]) != new[k]]
    if diff:
        raise ConfigError(f"'{path}' was written by another continual run (settings differ: {'; '.join(diff)}); "
                          "use another --work folder, or delete it to start again")
    return state


def _write(path: Path, state: dict[str, Any]) -> None:
    write_json(path, state, "free space on that disk, then rerun with --resume", indent=2)


def _fresh(out: Path) -> Path:
    """A stage's folder, emptied: a stage killed half-way is trained again from its start."""
    if out.exists():
        shutil.rmtree(out)
    return out


def _stages_locked(s: ContinualSettings, root: Path, work: Path, text_model: Any, resume: bool) -> None:
    record = work / "continual.json"
    state = _read_record(record, s, resume, "a continual run") or {"settings": _settings(s), "stages": []}
    hooks = get_family(s.model).continual  # the family's own steps between tasks, if any (PathNet's)
    records: dict[str, Any] = {st["task"]: st["family"] for st in state["stages"] if st.get("family") is not None}
    bar = tqdm(total=len(s.tasks), desc=f"continual {s.model} seed {s.train_seed}", unit="stage",
               initial=len(state["stages"]))
    prev: Path | None = None
    for i, task in enumerate(s.tasks):
        out = work / f"stage{i}-{task}"
        if i < len(state["stages"]):
            prev = out / "checkpoint"
            continue
        bar.set_postfix_str(f"task {i + 1}/{len(s.tasks)}: {task}")
        start, search = prev, None
        if hooks is not None and prev is not None:
            start = work / f"stage{i}-start" / "checkpoint"
            hooks.stage_init(prev, start, i, s.train_seed, text_model)
            search = search_stage(s, prev, start, task, i, root, work / f"stage{i}-search", text_model)
        curve = train_stage(task, _fresh(out), root, s, start, text_model)
        prev = out / "checkpoint"
        if hooks is not None:
            records[task] = hooks.stage_end(prev)
        row = [curve[-1] if j == i else success(prev, t, s, records.get(t)) if j < i else None
               for j, t in enumerate(s.tasks)]
        state["stages"].append({"task": task, "curve": curve, "success": row, "family": records.get(task),
                                **({"search": search} if search else {})})
        _write(record, state)
        bar.update()
    bar.close()


def run_reference(s: ContinualSettings, task: str, root: Path, work: Path, text_model: Any,
                  resume: bool = False) -> list[float]:
    """Task `task` (a later task of the sequence) trained alone from scratch, its curve recorded in
    `work`/reference-<task>.json; the first task's reference is the sequence's own first stage."""
    if task not in s.tasks[1:]:
        raise ConfigError(f"'{task}' is not a later task of the sequence {', '.join(s.tasks)}")
    work.mkdir(parents=True, exist_ok=True)
    record = work / f"reference-{task}.json"
    with exclusive(work / f".reference-{task}.lock", f"the reference run of {task} in '{work}'",
                   "wait for it to finish, or use another --work"):
        state = _read_record(record, s, resume, f"the reference run of {task}")
        if state is not None:
            return list(state["curve"])
        curve = train_stage(task, _fresh(work / f"alone-{task}"), root, s, None, text_model)
        _write(record, {"settings": _settings(s), "task": task, "curve": curve})
        return curve


def assemble(s: ContinualSettings, work: Path) -> ContinualRun:
    """The finished run in `work`: its stages, and each later task's reference curve (read from its own record,
    or from the stages' record as runs before 2026-12-05 wrote it)."""
    if not (work / "continual.json").is_file():
        raise ConfigError(f"the sequence in '{work}' has not run; run it first (run_stages, or --resume)")
    state = json.loads((work / "continual.json").read_text())
    if len(state["stages"]) != len(s.tasks):
        raise ConfigError(f"the continual run in '{work}' has {len(state['stages'])} of {len(s.tasks)} stages; "
                          "run it to the end first (--resume)")
    old = state.get("reference", {})
    reference = []
    for i, t in enumerate(s.tasks):
        if i == 0:
            reference.append(state["stages"][0]["curve"])
            continue
        path = work / f"reference-{t}.json"
        if path.is_file():
            reference.append(json.loads(path.read_text())["curve"])
        elif t in old:
            reference.append(old[t])
        else:
            raise ConfigError(f"the reference run of {t} in '{work}' has not finished; run it first (--resume)")
    matrix = np.array([[np.nan if v is None else v for v in st["success"]] for st in state["stages"]])
    return ContinualRun(tasks=s.tasks, success=matrix,
                        curves=tuple(np.array(st["curve"]) for st in state["stages"]),
                        reference=tuple(np.array(c) for c in reference),
                        params_added=tuple(int((st.get("family") or {}).get("params_added", 0))
                                           for st in state["stages"]))
