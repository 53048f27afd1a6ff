"""The model zoo's registry: model families by the `architecture` name recorded in checkpoints.

Every family lives in its own folder, `agent/models/<name>/` (LeRobot's layout: `configuration_*.py` and
`modeling_*.py`), and registers itself here when that folder is imported. The trainer, checkpoints, the
policy factory and the sampler only ever go through this registry, so adding a family touches nothing
shared. The contract a family's model follows is `agent/contract.py`.

    family = get_family("gato-moe")
    cfg = family.build("nano", vocab_size=6144, context=240)
    model = family.model(cfg)
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from gatosuite.errors import ConfigError, UnknownNameError

from .contract import BatchAdapter, Objective, next_token_batch


@dataclass(frozen=True)
class ModelFamily:
    """One family of the zoo, with what the comparison table says about it."""

    name: str
    """The `architecture` name: --model NAME, and config.json's field."""
    config: type
    """Its config dataclass (with `to_dict`, `from_dict` and `diff`)."""
    model: type
    """Its nn.Module, built from a config; it follows agent/contract.py."""
    presets: dict[str, dict[str, Any]]
    """Named shapes; `nano` of every family runs on a 2-core CPU."""
    modules: str
    """What it is made of, for the comparison table (e.g. 'decoder-only transformer, MoE FFN')."""
    year: int
    """Year of the paper."""
    paper: str
    """The paper, as 'Authors Year, Title'."""
    unseen: str
    """How it handles an unseen task (prompting, fine-tuning, ...), for the comparison table."""
    title: str = ""
    """Its name in tables ('Gato-MoE'); the registry name when empty."""
    policy: Any | None = None
    """Its own policy class: built as `(checkpoint, task_id, **kw)`, or around a model in memory with
    `.from_model(model, text_model, task_id, rt, **kw)`; None: a decoder-only family acts through the
    batched KV-cache DecoderPolicy."""
    can_act: bool = True
    """False for a family that cannot drive a policy (a contrastive encoder): it says so, not a rollout."""
    objective: Objective = Objective.NEXT_TOKEN
    """What it is trained on (agent/contract.py): the trainer's and compare's per-domain and per-modality
    NLL splits are on for NEXT_TOKEN only."""
    adapter: BatchAdapter = next_token_batch
    """(batch, cfg) -> what its forward consumes; the identity for a decoder-only family."""
    continual: Any | None = None
    """A module with the family's own steps between tasks of the continual protocol (evaluation/continual_run.py):
    `stage_init(prev, out, stage, seed, text_model) -> dict` writes a task's starting checkpoint,
    `stage_end(checkpoint) -> dict` records what the task trained (with `params_added`), and
    `select(model, record)` switches a model onto a recorded task. None: plain fine-tuning, task after task."""
    optimizer: Callable[[Any, Any], Any] | None = None
    """(model, train_args) -> torch.optim.Optimizer, for a family that does not train with the shared
    AdamW over `param_groups`; the shared loop (schedule, clipping, checkpoints, resume) stays."""
    evolution: Any | None = None
    """A module binding the family to the population driver (evaluation/population.py):
    `options(**fields) -> dict`, the jobs' options as plain JSON; `strategy(options, size, parallel, seed)`,
    the starting population with `parallel` contests a generation; and `run_candidate(job) -> dict`, a
    top-level function a Ray worker imports by name. None: the family's structure is not evolved."""

    @property
    def display(self) -> str:
        return self.title or self.name

    def adapt(self, batch: Any, cfg: Any) -> Any:
        """The batch as this family's model consumes it."""
        return self.adapter(batch, cfg)

    def prepare(self, cfg: Any, tasks: list[str] | tuple[str, ...], text_model: Any) -> Any:
        """The config of a new run, given the run's task vocabulary and text model: a config with a `tasks`
        field (task-specific parameters) gets the vocabulary, and a config class with a
        `prepared(text_model)` method fills the rest (OFA's instructions). A config whose tasks are
        already set (a model being fine-tuned) keeps them."""
        names = {f.name for f in dataclasses.fields(cfg)}
        if "tasks" in names and not cfg.tasks:
            cfg = replace(cfg, tasks=tuple(tasks))
        if hasattr(cfg, "prepared"):
            cfg = cfg.prepared(text_model)
        return cfg

    def build(self, preset: str, vocab_size: int, **overrides: Any) -> Any:
        """The config of a named preset for a vocabulary size, with field overrides."""
        if preset not in self.presets:
            raise UnknownNameError(f"family '{self.name}' has no preset '{preset}'; known: "
                                   f"{', '.join(self.presets)}")
        names = {f.name for f in dataclasses.fields(self.config)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"{self.config.__name__} has no field {', '.join(unknown)}; its fields: "
                              f"{', '.join(sorted(names))}")
        return replace(self.config(vocab_size=vocab_size, **self.presets[preset]), **overrides)


@dataclass(frozen=True)
class PlannedFamily:
    """A multi-purpose model of the project's seed table that is not built yet (listed here, once)."""

    title: str
    modules: str
    year: int
    paper: str
    unseen: str


PLANNED: tuple[PlannedFamily, ...] = ()
"""The seed table's families that are planned, not built (none now): the comparison table lists them as 'not yet'."""

_FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    if family.name in _FAMILIES and _FAMILIES[family.name] is not family:
        raise ValueError(f"model family '{family.name}' is already registered")
    _FAMILIES[family.name] = family
    return family


def _load_all() -> None:
    """Import every folder under agent/models so that each family registers itself."""
    from . import models

    for mod in pkgutil.iter_modules(models.__path__):
        if mod.ispkg:
            importlib.import_module(f"{models.__name__}.{mod.name}")


def get_family(name: str) -> ModelFamily:
    if name not in _FAMILIES:
        _load_all()
    if name not in _FAMILIES:
        raise UnknownNameError(f"unknown model family '{name}'; known: {', '.join(family_names())}")
    return _FAMILIES[name]


def family_names() -> list[str]:
    _load_all()
    return sorted(_FAMILIES)


def family_of_config(cfg: Any) -> ModelFamily:
    """The family whose config class `cfg` is (its `architecture` class attribute names it)."""
    return get_family(type(cfg).architecture)
