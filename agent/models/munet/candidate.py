"""muNet's candidates for the evolution driver (evaluation/population.py): score a seed route, or build, train
and score a mutated child, for the task the run evolves a model for.

A job's candidate (MuNetSearch.propose) is {"kind": "score"} for a route of the system, measured on the new task
as it is, or {"kind": "child"}: the parent's checkpoint is loaded, the child's mutations are drawn from the job's
seed (evolution.sample_mutations), the child is built (evolution.build_child), trained `job["steps"]` steps with
the shared trainer at its route's learning rate, and written to the candidate's `out` folder, where it can
become a parent. Its score is quality * base ** (params added / parameters of the parent's route), quality
= exp(-validation NLL) on windows fixed for the run (agent/candidate_training.py). A child's checkpoint is
written where the candidate says, so on a cluster `work` must be a folder every machine shares.

`options(...)`, `strategy(...)` and `run_candidate` are the family's `evolution` binding (agent/families.py);
`finish(checkpoint, route, task, out)` makes the evolution's best model the task's route in the system.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.agent.candidate_training import (
    CandidateData,
    candidate_args,
    checkpoint_nll,
    data_for,
    one_thread,
    train_steps,
    validation_nll,
)
from gatosuite.errors import ConfigError

from .evolution import MuNetSearch, MutationRates, build_child, params_added, sample_mutations, score


@dataclass(frozen=True)
class MuNetOptions(CandidateData):
    """The settings every job of a muNet run shares (EvolveSettings.options, as a dict): the data and scoring
    fields of CandidateData, and the system's."""

    system: str = ""
    """The system's checkpoint when the new task arrives: its routes seed the population (required)."""
    work: str = ""
    """Folder the children's checkpoints go to (`<work>/<id>/checkpoint`); shared by every machine (required)."""
    base: float = 0.9
    """The score's size penalty: quality * base ** (params added / the parent route's parameters)."""
    rates: dict[str, float] = field(default_factory=dict)
    """MutationRates' fields set over their defaults."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.system or not self.work:
            raise ConfigError("a muNet evolution needs the system checkpoint (system=...) and a folder for its "
                              "children (work=...)")
        if not 0.0 < self.base <= 1.0:
            raise ConfigError(f"the size penalty's base must lie in (0, 1], got {self.base}")
        MutationRates(**self.rates)


def options(**fields: Any) -> dict[str, Any]:
    """The jobs' options (MuNetOptions' fields, checked) as plain JSON, for EvolveSettings.options."""
    return dataclasses.asdict(MuNetOptions(**fields))


def strategy(options: dict[str, Any], size: int, parallel: int, seed: int) -> MuNetSearch:
    """The search for a new task: seeded with the system's routes (`size` is not used: the population grows
    from them), `parallel` children a generation."""
    from gatosuite.agent.checkpoint import config_of

    opts = MuNetOptions.from_dict(options)
    routes = len(config_of(Path(opts.system)).route_list())
    return MuNetSearch.seeded(opts.system, routes, opts.work, parallel, seed)


def _load(parent: dict[str, Any]) -> Any:
    from gatosuite.agent.checkpoint import load_model

    model, _ = load_model(Path(parent["checkpoint"]))
    return model, len(model.routes) - 1 if parent["route"] == -1 else int(parent["route"])


def run_candidate(job: dict[str, Any]) -> dict[str, Any]:
    """Score the job's seed route, or build, train and score its child: {"score", "quality", "val_nll",
    "params_added", "mutations", "seconds"}."""
    t0 = time.perf_counter()
    opts = MuNetOptions.from_dict(job["options"])
    cand = job["candidate"]
    with one_thread():
        if cand["kind"] == "score":
            out = _score_route(job, opts)
        else:
            out = _child(job, opts)
    return {**out, "seconds": time.perf_counter() - t0}


def _score_route(job: dict[str, Any], opts: MuNetOptions) -> dict[str, Any]:
    from gatosuite.tokenization import Vocabulary

    model, route = _load(job["candidate"]["parent"])
    model.active = route
    with tempfile.TemporaryDirectory(prefix="gatosuite-munet-") as tmp:
        args = candidate_args(Path(opts.system), Path(tmp), job["task"], opts, 1, int(job["seed"]), 1e-3, "munet")
        text_model, caches = data_for(args, opts)
        nll = validation_nll(model, caches, opts, Vocabulary(text_model.vocab_size), args.val_fraction,
                             args.segment_length)
    return {"score": math.exp(-nll), "quality": math.exp(-nll), "val_nll": nll, "params_added": 0, "mutations": []}


def _child(job: dict[str, Any], opts: MuNetOptions) -> dict[str, Any]:
    from gatosuite.agent.checkpoint import save_checkpoint

    cand = job["candidate"]
    system, parent = _load(cand["parent"])
    reference = system.component_parameters(system.routes[parent].components())
    ops = sample_mutations(system, parent, np.random.default_rng(int(job["seed"])), MutationRates(**opts.rates))
    torch.manual_seed(int(job["seed"]))  # the fresh components' draws
    child = build_child(system, parent, ops, job["task"])
    out = Path(cand["out"])
    shutil.rmtree(out, ignore_errors=True)  # a rerun job (a worker lost, a resumed generation) starts clean:
    out.mkdir(parents=True)  # its seed rebuilds the same child
    args = candidate_args(out / "start", out, job["task"], opts, int(job["steps"]), int(job["seed"]),
                          child.route.lr, "munet")
    text_model, caches = data_for(args, opts)
    save_checkpoint(out / "start", child, text_model)
    loss = train_steps(args, text_model, caches)
    nll = checkpoint_nll(out / "checkpoint", caches, opts, args, text_model)
    added = params_added(child)
    quality = math.exp(-nll)
    return {"score": score(quality, added, reference, opts.base), "quality": quality, "val_nll": nll,
            "train_loss": loss, "params_added": added, "mutations": ops}


def finish(best: str | Path, route: int, task: str, out: str | Path) -> dict[str, Any]:
    """Make the evolution's best model the system after `task`, written to `out` with every component frozen:
    a child (route -1 of its checkpoint) has its route named `task`; a seed route that no child beat is shared
    whole by a new route for `task`, which adds nothing. Returns {"route", "params_added"}."""
    from gatosuite.agent.checkpoint import load_model, save_checkpoint
    from gatosuite.tokenization import TextModel

    model, _ = load_model(Path(best))
    if route == -1:
        model.active = len(model.routes) - 1
        name_active_route(model, task)
    else:
        model = build_child(model, route, [], task)
    added = params_added(model)
    model.freeze()
    save_checkpoint(Path(out), model, TextModel.load(best))
    return {"route": task, "params_added": added}


def name_active_route(model: Any, task: str) -> None:
    """Name the active route after `task` (a run's route is unnamed until its task is known)."""
    route = model.route
    if route.task not in ("", task):
        raise ConfigError(f"the active route serves '{route.task}' already, not '{task}'")
    i = model.route_index(task)
    if i is not None and i != model.active:
        raise ConfigError(f"the system has a route for '{task}' already")
    routes = [r.to_tuple() for r in model.routes]
    routes[model.active] = dataclasses.replace(route, task=task).to_tuple()
    model.cfg = dataclasses.replace(model.cfg, routes=tuple(routes), active=model.active)
    model.routes = model.cfg.route_list()
