"""The task registry: what each task is, in the style of dm_control's tagged SUITE.

Held-out tasks are marked here, in the registry itself, with the `heldout` tag; `training_tasks()` never
returns them unless they are named explicitly, so no code path can train on them by accident.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gatosuite.errors import UnknownTaskError

REFERENCE_SCORES = Path(__file__).resolve().parent / "reference_scores.json"
SPLITS = frozenset({"train", "heldout", "below-bar"})
"""Every task has exactly one: 'train' (the default training set), 'heldout' (kept out of training for
few-shot tests) or 'below-bar' (its expert misses the quality bar, measured: kept out of the default training
set so that no recipe learns from a failing expert by accident; collect or train on it by naming it)."""

Domain = Literal["classic", "mujoco", "dmc", "dmc-pixels", "metaworld", "babyai", "text", "caption"]
ObsMode = Literal["state", "pixels", "babyai", "none"]


@dataclass(frozen=True)
class TaskSpec:
    """One task of the suite."""

    id: str
    """Short unique id, e.g. 'cartpole' or 'babyai-gotolocal'; Gymnasium id is gatosuite/<id>-v0."""
    domain: Domain
    """Simulator family."""
    tags: frozenset[str]
    """Exactly one split ('train', 'heldout' or 'below-bar': see SPLITS), plus the domain and any others."""
    modalities: tuple[str, ...]
    """Observation and action modalities, e.g. ('text', 'image', 'discrete')."""
    gym_id: str | None = None
    """The raw environment's Gymnasium id (None for text and caption data)."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for gymnasium.make(gym_id)."""
    obs_mode: ObsMode = "state"
    """How the canonical wrapper forms observations: state vector, rendered pixels, BabyAI view."""
    expert: str | None = None
    """Name of the expert in gatosuite.envs.experts."""
    max_episode_steps: int | None = None
    """Override of the raw env's episode cap (None keeps the raw env's own)."""
    episode_length: int | None = None
    """The episode cap the task runs with, for listings; None where each level sets its own (BabyAI)."""
    metric: Literal["return", "success"] = "return"
    """What the reference scores and normalized scores measure."""
    bar: float | None = None
    """The expert quality bar of issue 3 (mean return, or success rate in [0, 1])."""
    max_text_tokens: int = 32
    """Token budget of a text observation."""
    why_heldout: str = ""
    """For held-out tasks: why few-shot transfer from the training mix is plausible."""
    goal_family: str | None = None
    """The goal family (hidden-parameter tasks, envs/hidden.py) this task belongs to, or None. Not a model
    family (agent/families.py)."""
    shows_parameter: bool = False
    """For a goal family's oracle tasks: the parameter stays in the observation."""
    collection_note: str = ""
    """How this task's episodes differ from its first datasets' (e.g. Meta-World goal families' object drawn per
    episode). Collection appends it to a dataset's collector name, so one collected before is not reused."""
    start_spread: tuple[float, ...] = ()
    """For MuJoCo tasks whose expert holds an equilibrium: half-widths of the uniform offsets added to the
    joint positions (then, optionally, velocities) at reset when collecting with perturbed starts
    (envs/perturb.py); () where there are none."""

    bar_note: str = ""
    """Where the expert misses its bar: its measured score and what was tried (listed by `gatosuite tasks`)."""
    sac: dict[str, Any] = field(default_factory=dict)
    """For learned experts: the hyper-parameters `gatosuite train-expert` gives Stable-Baselines3's SAC beyond
    its defaults (e.g. Swimmer's gamma 0.9999), so that every expert can be retrained from this record."""

    def __post_init__(self) -> None:
        if len(self.tags & SPLITS) != 1:
            raise ValueError(f"task '{self.id}' must be tagged exactly one of {', '.join(sorted(SPLITS))}")
        if "heldout" in self.tags and not self.why_heldout:
            raise ValueError(f"held-out task '{self.id}' must say why transfer is plausible")

    @property
    def gymnasium_id(self) -> str:
        return f"gatosuite/{self.id}-v0"

    @property
    def is_env(self) -> bool:
        return self.gym_id is not None

    @property
    def split(self) -> str:
        """'train', 'heldout' or 'below-bar'."""
        return next(iter(self.tags & SPLITS))

    @property
    def heldout(self) -> bool:
        return "heldout" in self.tags

    def reference(self) -> dict[str, Any]:
        """Measured reference scores (random and expert), or {} before they are measured. A goal
        family's oracle task plays the same goals with the same expert as its hidden sibling, and shares its scores."""
        refs = _reference_scores()
        if self.id not in refs and self.shows_parameter:
            return refs.get(self.id.replace("-oracle", ""), {})
        return refs.get(self.id, {})

    @property
    def random_score(self) -> float | None:
        return self.reference().get("random")

    @property
    def expert_score(self) -> float | None:
        return self.reference().get("expert")


class Suite:
    """A tagged collection of tasks (dm_control's `SUITE.add` idea)."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskSpec] = {}

    def add(self, task: TaskSpec) -> TaskSpec:
        if task.id in self._tasks:
            raise ValueError(f"task '{task.id}' is already registered")
        self._tasks[task.id] = task
        return task

    def __getitem__(self, task_id: str) -> TaskSpec:
        if task_id not in self._tasks:
            raise UnknownTaskError(f"unknown task '{task_id}'; known: {', '.join(sorted(self._tasks))}")
        return self._tasks[task_id]

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._tasks

    def __iter__(self):
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def ids(self) -> list[str]:
        return list(self._tasks)

    def tagged(self, tag: str) -> list[TaskSpec]:
        return [t for t in self._tasks.values() if tag in t.tags]

    def select(self, selector: str) -> list[TaskSpec]:
        """Comma-separated items, each 'all', a tag (train, heldout, a domain) or a task id."""
        tags = {tag for t in self._tasks.values() for tag in t.tags}
        out: dict[str, TaskSpec] = {}
        for item in (s.strip() for s in selector.split(",")):
            if item == "all":
                out.update(self._tasks)
            elif item in tags:
                out.update((t.id, t) for t in self.tagged(item))
            elif item:
                out[item] = self[item]
        return list(out.values())

    def sample_per_domain(self, k: int, seed: int = 0, tasks: Iterable[TaskSpec] | None = None) -> list[TaskSpec]:
        """Up to `k` tasks of each domain (all of a domain with at most k), drawn with a fixed seed, in suite
        order: a smoke test or a quick run over the suite's breadth without running every task."""
        import random

        pool = list(self._tasks.values() if tasks is None else tasks)
        keep: set[str] = set()
        for domain in dict.fromkeys(t.domain for t in pool):
            ids = [t.id for t in pool if t.domain == domain]
            keep.update(ids if len(ids) <= k else random.Random(f"{seed}/{domain}").sample(ids, k))
        return [t for t in pool if t.id in keep]

    def training_tasks(self, explicit: Iterable[str] = ()) -> list[TaskSpec]:
        """Tasks tagged 'train', plus held-out tasks only if named in `explicit`."""
        named = set(explicit)
        for name in named:
            self[name]  # unknown ids are an error here too
        return [t for t in self._tasks.values() if "train" in t.tags or t.id in named]


_REFS: dict[str, Any] | None = None


def _reference_scores() -> dict[str, Any]:
    global _REFS
    if _REFS is None:
        _REFS = json.loads(REFERENCE_SCORES.read_text()) if REFERENCE_SCORES.is_file() else {}
    return _REFS
