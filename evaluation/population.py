"""Evolving a population with its candidates trained and scored as Ray tasks: a generation's jobs run at once,
on this machine or on a cluster, and a killed run resumes from its last finished generation.

Two pieces plug in, and this driver knows neither's family:
- a *strategy* proposes each generation's candidates as plain data and is told their scores (PathNet's
  `Tournaments`, agent/models/pathnet/evolution.py: K binary tournaments at once, two candidates a pair);
- `run_candidate(job) -> dict`, a top-level function of an importable module (so a Ray worker imports it by
  name), trains one candidate and returns at least {"score": float}, higher being fitter (PathNet's:
  agent/models/pathnet/candidate.py).

A job is a plain dict: {"task", "candidate" (the strategy's spec), "seed", "steps", "generation", "index",
"options" (the run's settings for the binding)}. Job j of generation g (both from 0) is seeded from (run
seed, g, j) alone, and the scores are given to the strategy in job order, not in the order the jobs finish,
so a run gives the same winners on 1 worker, on 2, or on a cluster.

`workers=1` runs the jobs one after another in this process, with no Ray. `workers=K` runs them as Ray tasks
of one CPU each, at most K at a time, on a local Ray kept on loopback (raytools.init_ray), or on the cluster
at `address`. A task whose worker dies is retried (`max_retries`): the same job, so the same score.

After each generation the run's state, `population.json` in the run folder (the strategy's `to_dict`, the
generations done, each generation's scores and best score), is written atomically (a temporary file, then
os.replace): there is no pickle on disk. A run folder has one writer at a time (locks.py). `resume=True`
continues after the last finished generation, also for more generations than first asked or on another
number of workers; the task, steps, seed and options must be those the state was written with.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from gatosuite.atomic import write_json
from gatosuite.errors import ConfigError, CorruptFileError, RunExistsError
from gatosuite.locks import exclusive
from gatosuite.raytools import job_runner

STATE_FILE = "population.json"
FORMAT = "gatosuite-population/1"

RunCandidate = Callable[[dict[str, Any]], dict[str, Any]]


class Strategy(Protocol):
    """What the driver asks of an evolution strategy; its whole state must be plain JSON."""

    def propose(self) -> list[dict[str, Any]]:
        """This generation's candidates, as plain data (one job each, in this order)."""

    def apply(self, candidates: Sequence[dict[str, Any]], scores: Sequence[float]) -> dict[str, Any]:
        """Take the scores of `candidates` (as proposed, in job order); a JSON summary of what changed."""

    def best(self) -> dict[str, Any]:
        """The best candidate kept so far (its spec and score)."""

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Strategy: ...


@dataclass(frozen=True)
class EvolveSettings:
    """One evolution run: what every job trains on, for how long, and where the jobs run."""

    task: str
    """The task every candidate trains and is scored on (a suite id, passed to `run_candidate`)."""
    generations: int = 10
    """Generations to have run in all (a resumed run goes on up to this many)."""
    steps: int = 50
    """T: optimizer steps each candidate trains before it is scored."""
    seed: int = 0
    """Run seed: job j of generation g is seeded from (seed, g, j)."""
    options: dict[str, Any] = field(default_factory=dict)
    """The binding's settings, plain JSON, given to every job as job["options"] (model size, data root...)."""
    workers: int = 1
    """Jobs run at once: 1 runs them in this process with no Ray; K > 1 as Ray tasks of one CPU each."""
    address: str | None = None
    """Join the Ray cluster at this address (e.g. 'head:6379') instead of starting a local Ray."""

    def __post_init__(self) -> None:
        if self.generations < 1 or self.steps < 1 or self.workers < 1 or self.seed < 0:
            raise ConfigError(f"generations, steps and workers must be at least 1 and the seed at least 0 (got "
                              f"{self.generations}, {self.steps}, {self.workers}, {self.seed})")
        try:
            json.dumps(self.options, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"the options of an evolution must be plain JSON ({e}); pass paths as strings") from None

    @property
    def on_ray(self) -> bool:
        return self.workers > 1 or bool(self.address)

    def recorded(self) -> dict[str, Any]:
        """What a resumed run must share with the run that wrote the state (JSON-normalised)."""
        return json.loads(json.dumps({"task": self.task, "steps": self.steps, "seed": self.seed,
                                      "options": self.options}))


@dataclass
class EvolveResult:
    """Where a run stands after `evolve`."""

    strategy: Any
    """The strategy, with every finished generation applied."""
    generation: int
    """Generations finished."""
    history: list[dict[str, Any]]
    """Per generation: its number (from 1), every job's score, its best score, the best so far, and the
    strategy's summary (for tournaments: the winners and losers)."""

    @property
    def best(self) -> dict[str, Any]:
        return self.strategy.best()


def job_seed(seed: int, generation: int, index: int) -> int:
    """The seed of job `index` of `generation`: a function of the three numbers alone."""
    return int(np.random.SeedSequence([seed, generation, index]).generate_state(1)[0])


def candidate_name(fn: RunCandidate) -> str:
    """'module:qualname' of `run_candidate`, recorded in the state."""
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def _check_importable(fn: RunCandidate) -> None:
    """A Ray worker imports `run_candidate` by name: a lambda, a nested function or one of a script's own
    (__main__) cannot be."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        raise ConfigError(f"run_candidate must be a top-level function of an importable module for Ray workers to "
                          f"import, got {candidate_name(fn)}; move it into a module, or run with workers=1")


def evolve(strategy: Strategy, run_candidate: RunCandidate, settings: EvolveSettings, run_dir: Path,
           resume: bool = False, progress: bool = True) -> EvolveResult:
    """Run `settings.generations` generations of `strategy` (or, with `resume`, the ones left after the state
    in `run_dir`); see the module docstring. On resume the state's strategy replaces `strategy`, which must
    be built as the first run built it."""
    if settings.on_ray:
        _check_importable(run_candidate)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(run_dir / ".lock", f"evolving a population in '{run_dir}'",
                   "wait for it to finish, or use another run folder"):
        state = _start(strategy, run_candidate, settings, run_dir / STATE_FILE, resume)
        try:
            strategy = type(strategy).from_dict(state["strategy"])
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise CorruptFileError(f"'{run_dir / STATE_FILE}' does not hold a {type(strategy).__name__} "
                                   f"({type(e).__name__}: {e}); {_FIX}") from None
        return _generations(strategy, run_candidate, settings, run_dir / STATE_FILE, state, progress)


_FIX = "restore it, or delete it (or use another run folder) to start the run again"


def read_state(path: Path) -> dict[str, Any]:
    """A run's state file, or CorruptFileError saying what is wrong with it."""
    try:
        state = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptFileError(f"'{path}' is not a population state: it is not valid JSON ({e}); {_FIX}") from None
    keys = ("format", "settings", "start", "generation", "strategy", "history")
    if not isinstance(state, dict) or state.get("format") != FORMAT or any(k not in state for k in keys):
        raise CorruptFileError(f"'{path}' is not a population state (a JSON object of format '{FORMAT}' with "
                               f"{', '.join(keys)}); {_FIX}")
    if not isinstance(state["generation"], int) or len(state["history"]) != state["generation"]:
        raise CorruptFileError(f"'{path}' is inconsistent: {state['generation']!r} generations done but "
                               f"{len(state['history'])} in its history; {_FIX}")
    return state


def _start(strategy: Strategy, fn: RunCandidate, s: EvolveSettings, path: Path, resume: bool) -> dict[str, Any]:
    """The state to go on from: the file's on resume, else a fresh one (a fresh run refuses a used folder)."""
    start = json.loads(json.dumps(strategy.to_dict()))
    if not path.is_file():
        return {"format": FORMAT, "candidate": candidate_name(fn), "settings": s.recorded(), "start": start,
                "generation": 0, "strategy": start, "history": []}
    state = read_state(path)
    if not resume:
        raise RunExistsError(f"'{path.parent}' holds an evolution already ({state['generation']} generations "
                             "done); pass resume to go on with it, or use another run folder")
    old, new = state["settings"], s.recorded()
    diff = [f"{k}: {old.get(k)!r} there, {new[k]!r} here" for k in new if old.get(k) != new[k]]
    if state["start"] != start:
        diff.append("the strategy started from another population")
    if diff:
        raise ConfigError(f"'{path}' was written by another evolution ({'; '.join(diff)}); resume with its "
                          "settings, or use another run folder")
    return state


def _write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically: a reader (or a resumed run) sees the last generation's state or the one before, whole."""
    write_json(path, state, "free space on that disk, then rerun with resume")


def _generations(strategy: Strategy, fn: RunCandidate, s: EvolveSettings, path: Path, state: dict[str, Any],
                 progress: bool) -> EvolveResult:
    history: list[dict[str, Any]] = state["history"]
    best = max((h["best"] for h in history), default=None)
    run_jobs = job_runner(fn, s.workers, s.address)
    bar = tqdm(total=s.generations, initial=min(state["generation"], s.generations), desc=f"evolve {s.task}",
               unit="gen", disable=not progress)
    with bar:
        for g in range(state["generation"], s.generations):
            candidates = strategy.propose()
            jobs = [{"task": s.task, "candidate": c, "seed": job_seed(s.seed, g, i), "steps": s.steps,
                     "generation": g, "index": i, "options": s.options} for i, c in enumerate(candidates)]

            def show(done: int, g: int = g, n: int = len(jobs)) -> None:
                shown = "-" if best is None else f"{best:.4g}"
                bar.set_postfix_str(f"generation {g + 1}/{s.generations}, jobs {done}/{n}, best {shown}")

            show(0)
            scores = [_score(r, fn, g, i) for i, r in enumerate(run_jobs(jobs, show))]
            summary = strategy.apply(candidates, scores)  # in job order, whatever order the jobs finished in
            best = max(scores) if best is None else max(best, *scores)
            history.append({"generation": g + 1, "scores": scores, "best": max(scores), "best_so_far": best,
                            **summary})
            state.update(generation=g + 1, strategy=strategy.to_dict())
            _write_state(path, state)
            show(len(jobs))
            bar.update()
    return EvolveResult(strategy, state["generation"], history)


def _score(result: Any, fn: RunCandidate, generation: int, index: int) -> float:
    score = result.get("score") if isinstance(result, dict) else None
    if not isinstance(score, Real) or isinstance(score, bool) or not math.isfinite(score):
        raise ConfigError(f"{candidate_name(fn)} returned {result!r} for job {index} of generation {generation + 1}; "
                          "it must return a dict with a finite number under 'score'")
    return float(score)
