"""A family's own evolution at the start of a later task of the continual protocol (evaluation/continual_run.py).

With `ContinualSettings.search` > 0, a family with an `evolution` binding and the continual hooks
`search_options` and `adopt` (PathNet's and muNet's `continual.py`) evolves its structure for the arriving
task before the task's stage trains: PathNet a population of paths through the frozen and fresh modules, by
binary tournaments; muNet children of the system's frozen routes, kept only where they beat their parent.
Candidates train `search_steps` steps each on the new task's data and are scored on fixed validation windows
(agent/candidate_training.py), through the same driver as a population on its own (evaluation/population.py),
here on one worker inside the stage's job: the protocol's jobs are what run in parallel. The winner becomes the
stage's start, which then trains the stage's `steps` as without a search, so the search's candidate steps come
on top of the per-task budget; the stage's record says how many there were.

The first task and the from-scratch reference runs do not search: with nothing frozen, every PathNet path is
an equivalent draw of fresh modules, and a muNet system has one route to grow from.

The search's state is written after every generation in `run_dir`: a stage killed during its search goes on
from the last finished generation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gatosuite.agent.families import get_family
from gatosuite.evaluation.population import EvolveSettings, evolve

PARALLEL = 2
"""Contests a generation: PathNet's tournaments (two candidates each), muNet's children."""


def searches(model: str) -> bool:
    """Whether family `model` can evolve its structure between tasks."""
    family = get_family(model)
    hooks = getattr(family, "continual", None)
    return getattr(family, "evolution", None) is not None and hasattr(hooks, "search_options")


def search_seed(train_seed: int, stage: int) -> int:
    """The search's run seed for one stage of one training seed."""
    return int(np.random.SeedSequence([train_seed, stage, 1]).generate_state(1)[0])


def search_stage(s: Any, prev: Path, start: Path, task: str, stage: int, root: Path, run_dir: Path,
                 text_model: Any) -> dict[str, Any] | None:
    """Evolve family `s.model`'s structure for `task` from the stage's start checkpoint `start` (written by the
    family's `stage_init` from `prev`), and make the winner the start. Returns what the stage records: the
    generations, candidates and their steps, the best score and what the family adopted; None with no search."""
    if s.search < 1 or not searches(s.model):
        return None
    family = get_family(s.model)
    hooks = family.continual
    seed = search_seed(s.train_seed, stage)
    options = hooks.search_options(prev, start, s, root, run_dir)
    strategy = family.evolution.strategy(options, s.search_size, PARALLEL, seed)
    settings = EvolveSettings(task=task, generations=s.search, steps=s.search_steps, seed=seed, options=options)
    result = evolve(strategy, family.evolution.run_candidate, settings, run_dir, resume=True, progress=False)
    best = result.best
    adopted = hooks.adopt(best, prev, start, task, text_model)
    trained = sum(1 for h in result.history for _ in h["scores"]) - hooks.untrained(result.history)
    return {"generations": result.generation, "candidates_trained": trained,
            "candidate_steps": trained * s.search_steps, "best_score": best.get("score"),
            "scores": [h["scores"] for h in result.history], **adopted}
