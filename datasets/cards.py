"""Dataset cards: what a collected dataset holds and how good its episodes are, written beside it.

Every collection writes `card.json` into the Minari dataset's folder (`<root>/minari/gatosuite/<task>/
expert-v0/card.json`) when it builds the dataset: the episodes and steps, the dataset's own success rate (tasks
that define success) or mean return, the expert's and a random policy's reference scores (envs/
reference_scores.json), the task's bar, the collector (expert, noise, perturbed starts), the gatosuite version
and the size on disk. A failing expert's episodes are kept, not dropped, and the card says how often it failed.
`gatosuite datasets --root data` lists the cards; a dataset collected before cards existed gets its card then.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from gatosuite import __version__

from .minari_store import dataset_dir, minari_root
from .staging import CorruptDataError

CARD = "card.json"


def card_path(root: Path, task_id: str) -> Path:
    return dataset_dir(root, task_id) / CARD


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file() and f.name != CARD)


def make_card(task, returns: list[float], lengths: list[int], successes: list[bool | None], seeds: list[int],
              algorithm: str, size_bytes: int) -> dict[str, Any]:
    """The card of a dataset of these episodes (`task` is its TaskSpec)."""
    succ = [s for s in successes if s is not None]
    ref = task.reference()
    return {
        "task": task.id, "domain": task.domain, "split": task.split, "metric": task.metric,
        "episodes": len(returns), "steps": int(sum(lengths)), "seeds": [min(seeds), max(seeds)],
        "success_rate": float(np.mean(succ)) if succ else None,
        "mean_return": float(np.mean(returns)), "return_std": float(np.std(returns)),
        "expert_reference": ref.get("expert"), "random_reference": ref.get("random"), "bar": task.bar,
        "bar_met_by_expert": ref.get("bar_met"),
        "collector": algorithm, "gatosuite_version": __version__,
        "collected": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "size_bytes": size_bytes,
    }


def write_card(root: Path, card: dict[str, Any]) -> Path:
    """Write a card atomically beside its dataset."""
    path = card_path(root, card["task"])
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def card_from_dataset(root: Path, task_id: str) -> dict[str, Any]:
    """Make the card of a dataset that has none (collected before cards existed) from its episodes."""
    from gatosuite.envs import SUITE

    from . import minari_store

    eps = list(minari_store.iter_episodes(root, task_id))
    made_by = minari_store.load(root, task_id).storage.metadata.get("algorithm_name", "unknown")
    return make_card(SUITE[task_id], [e.ret for e in eps], [len(e) for e in eps], [e.success for e in eps],
                     [e.seed for e in eps], made_by, folder_bytes(dataset_dir(root, task_id)))


def read_cards(root: Path) -> list[dict[str, Any]]:
    """Every dataset's card under `root`, in task order; missing cards are made (and written) first."""
    base = minari_root(root) / "gatosuite"
    out = []
    for task_dir in sorted(base.glob("*")) if base.is_dir() else []:
        path = task_dir / "expert-v0" / CARD
        if not (task_dir / "expert-v0" / "data").is_dir():
            continue  # not a dataset (a half-moved folder, or something else)
        if path.is_file():
            try:
                out.append(json.loads(path.read_text()))
                continue
            except json.JSONDecodeError as e:
                raise CorruptDataError(f"dataset card '{path}' is corrupt ({e}); delete it and rerun `gatosuite "
                                       f"datasets --root {root}`, which makes it again from the dataset") from None
        card = card_from_dataset(root, task_dir.name)
        write_card(root, card)
        out.append(card)
    return out
