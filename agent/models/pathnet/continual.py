"""PathNet in the continual protocol (evaluation/continual_run.py): between tasks, what the paper does.

When task i arrives, the previous stage's model has its path (task i-1's) frozen for good, and after the
first task the shared embeddings, patch encoder and final norm too; every module off a frozen path is
re-initialised, and task i gets a path of its own, with which it trains. Its path is recorded in the
protocol's record, so scoring an earlier task switches the model back onto that task's path: its modules are
frozen, so its outputs on fixed inputs are bitwise those it had at the end of its own stage
(tests/agent/models/test_pathnet_continual.py). The finished task's path is also written into the config
(`task_paths`), so a policy for that task (`make_policy`) runs it.

Task i's path is drawn at random from a generator seeded by (training seed, i); with a search
(`ContinualSettings.search`, evaluation/continual_search.py) a population of paths then evolves by binary
tournaments on the new task (`search_options`: each candidate trains its path from this start, frozen modules
and all, and is scored on validation NLL), and the fittest path replaces the drawn one (`adopt`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.agent.checkpoint import carried_meta, load_model, save_checkpoint

from .evolution import random_path


def _module_params(model: Any) -> int:
    return sum(p.numel() for p in model.grid[0][0].parameters())


def stage_init(prev: Path, out: Path, stage: int, seed: int, text_model: Any) -> dict[str, Any]:
    """Write task `stage`'s starting checkpoint to `out` from the previous stage's checkpoint `prev` (the first
    task starts from the trainer's fresh model, on its default path, and needs none). Returns the path drawn."""
    rng = np.random.default_rng([seed, stage])
    model, meta = load_model(prev)
    tasks = meta.get("tasks") or []
    if len(tasks) == 1:  # the previous task's path, recorded so that a policy for that task runs it
        model.cfg = dataclasses.replace(model.cfg, task_paths=(*model.cfg.task_paths, (tasks[0], tuple(
            tuple(row) for row in model.path.tolist()))))
    model.freeze_path()  # the previous task's path, for good
    model.freeze_shared()
    model.reinit_unfrozen(torch.Generator().manual_seed(int(rng.integers(2**31))))
    path = random_path(rng, model.cfg.n_layer, model.cfg.active, model.cfg.modules_per_layer)
    model.set_path(path)
    save_checkpoint(out, model, text_model, carried_meta(meta))
    return {"path": path.tolist()}


def stage_end(checkpoint: Path) -> dict[str, Any]:
    """After a task's training: its path as trained, and the parameters it adds to the network (the modules on
    its path that no earlier task froze, plus the shared ones for the first task)."""
    model, _ = load_model(checkpoint)
    path = model.path.tolist()
    new = {(layer, k) for layer, row in enumerate(path) for k in row if not bool(model.frozen[layer, k])}
    per_module = _module_params(model)
    added = len(new) * per_module
    if not bool(model.shared_frozen):
        added += model.num_parameters(False) - per_module * model.cfg.n_layer * model.cfg.modules_per_layer
    return {"path": path, "params_added": int(added)}


def select(model: Any, record: dict[str, Any]) -> None:
    """Switch `model` onto the path recorded for a task."""
    model.set_path(record["path"])


def search_options(prev: Path, start: Path, s: Any, root: Path | None, run_dir: Path) -> dict[str, Any]:
    """The candidates' options for a search from the stage's start: its weights (frozen paths included), its
    text model, the task's data under `root`, the protocol's window; a batch of 4 a candidate step."""
    from .candidate import options

    return options(root=None if root is None else str(root), text_model=str(start), window=s.window,
                   batch_size=4, init_from=str(start), preset=s.preset, overrides={})


def adopt(best: dict[str, Any], prev: Path, start: Path, task: str, text_model: Any) -> dict[str, Any]:
    """Switch the start checkpoint onto the search's fittest path."""
    model, meta = load_model(start)
    model.set_path(best["path"])
    save_checkpoint(start, model, text_model, carried_meta(meta))
    return {"path": [list(row) for row in best["path"]]}


def untrained(history: list[dict[str, Any]]) -> int:
    """Candidates of a search scored without training: none (every path trains before it is scored)."""
    return 0
