"""muNet in the continual protocol (evaluation/continual_run.py): between tasks, grow the system.

When task i arrives, the previous stage's system has the route it trained named after its task and every
component frozen for good. Task i's model is a mutated child of that route (evolution.sample_mutations and
build_child, drawn from a generator seeded by (training seed, i)): a new head always, clones of some frozen
components, perhaps a layer inserted or removed, an adapter, a stepped learning rate. Only the child's own
components train, so every earlier task's route runs bitwise as it did at the end of its stage
(tests/agent/models/test_munet.py). Scoring an earlier task switches the system onto its route by name.

Without a search the child is that one seeded mutation. With one (`ContinualSettings.search`,
evaluation/continual_search.py), muNet's evolution runs on the new task from the frozen system
(`search_options`): its routes are scored, then children of them, drawn by the 0.5 ** offspring decay, train and
are kept only where they beat their parent on quality * base ** (params / parent's); the best child, trained
its candidate steps, becomes the stage's start (`adopt`). If no child beats the routes it grew from, the
stage starts from the seeded mutation, as without a search.
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


def search_options(prev: Path, start: Path, s: Any, root: Path | None, run_dir: Path) -> dict[str, Any]:
    """The search's options: the previous system with its route named and every component frozen (written to
    `run_dir`/system), children under `run_dir`/children, the task's data under `root`, the protocol's window;
    a batch of 4 a candidate step."""
    from gatosuite.tokenization import TextModel

    from .candidate import options

    system = run_dir / "system"
    if not (system / "config.json").is_file():
        model, meta = load_model(prev)
        name_active_route(model, _trained_task(meta))
        model.freeze()
        save_checkpoint(system, model, TextModel.load(start), carried_meta(meta))
    return options(root=None if root is None else str(root), text_model=str(start), window=s.window,
                   batch_size=4, system=str(system), work=str(run_dir / "children"))


def adopt(best: dict[str, Any], prev: Path, start: Path, task: str, text_model: Any) -> dict[str, Any]:
    """Make the search's best child the stage's start, with the previous system's carried meta (its recipe and
    every earlier task's observation statistics); keep the seeded mutation if the best is one of the system's
    own routes."""
    if best.get("route") != -1:
        return {"child": None}
    model, _ = load_model(Path(best["checkpoint"]))
    _, meta = load_model(start)
    save_checkpoint(start, model, text_model, carried_meta(meta))
    return {"child": best["id"], "child_parent": best.get("parent")}


def untrained(history: list[dict[str, Any]]) -> int:
    """Candidates of a search scored without training: the system's routes, in its first generation."""
    return len(history[0]["scores"]) if history else 0
