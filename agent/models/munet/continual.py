"""muNet in the continual protocol (evaluation/continual_run.py): between tasks, grow the system.

When task i arrives, the previous stage's system has the route it trained named after its task and every
component frozen for good. Task i's model is a mutated child of that route (evolution.sample_mutations and
build_child, drawn from a generator seeded by (training seed, i)): a new head always, clones of some frozen
components, perhaps a layer inserted or removed, an adapter, a stepped learning rate. Only the child's own
components train, so every earlier task's route runs bitwise as it did at the end of its stage
(tests/agent/models/test_munet.py). Scoring an earlier task switches the system onto its route by name.

The child here is one seeded mutation, not the winner of an evolution: the population search
(agent/models/munet/candidate.py on evaluation/population.py) is run on its own, and is not wired into the
protocol's per-task budget yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.agent.checkpoint import carried_meta, load_model, save_checkpoint

from .candidate import name_active_route
from .evolution import build_child, params_added, sample_mutations


def _trained_task(meta: dict[str, Any]) -> str:
    tasks = meta.get("tasks") or []
    return tasks[0] if len(tasks) == 1 else ""


def stage_init(prev: Path, out: Path, stage: int, seed: int, text_model: Any) -> dict[str, Any]:
    """Task `stage`'s starting system, from the previous stage's checkpoint `prev`: its route named and frozen,
    and a mutated child of it, unnamed until its stage ends, active. Returns the child's mutations."""
    model, meta = load_model(prev)
    name_active_route(model, _trained_task(meta))
    model.freeze()
    rng = np.random.default_rng([seed, stage])
    ops = sample_mutations(model, model.active, rng)
    torch.manual_seed(int(rng.integers(2**31)))
    child = build_child(model, model.active, ops, "")
    save_checkpoint(out, child, text_model, carried_meta(meta))
    return {"parent": model.route.task, "mutations": ops}


def stage_end(checkpoint: Path) -> dict[str, Any]:
    """After a task's training: its route's name and the parameters its own components add to the system."""
    model, meta = load_model(checkpoint)
    return {"route": _trained_task(meta), "params_added": params_added(model),
            "layers": [list(x) for x in model.route.layers]}


def select(model: Any, record: dict[str, Any]) -> None:
    """Switch the system onto the route of a recorded task."""
    if not model.select_task(record["route"]):
        raise KeyError(f"the system has no route for '{record['route']}'")
