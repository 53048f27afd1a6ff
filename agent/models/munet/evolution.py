"""muNet's evolution of a new task's model (Gesmundo & Dean 2022), over the system of modeling_munet.py.

A child is built from a parent route by mutations, each drawn independently:
- **clone**: each of the parent's frozen components (another task's) is, with probability `clone`, replaced by a
  trainable copy of itself, to be trained for the new task; a new task always gets its own head;
- **insert** a layer (a fresh block at a uniform position, its residual projections zero so that it starts as the
  identity), or **remove** one (not the last one left);
- **adapter**: a fresh adapter after a uniformly drawn layer that has none;
- **lr**: the learning rate steps one notch up or down the grid `LR_GRID`.
The child trains only its own components: what it cloned or added, and what its parent had trained for the
same task (each candidate has its own checkpoint, so those are its own copies). Every other component stays
frozen and shared, so a finished task's outputs never change.

Parents are drawn as the paper draws them: the task's population in order of score, each accepted with
probability 0.5 ** (its offspring so far), the best one when none is. A child joins the population only if its
score beats its parent's; the score trades quality against size, quality * base ** (params_added / reference),
with quality = exp(-validation NLL) (the geometric mean of the targets' likelihoods) and reference the
parameters of the parent's whole route.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.errors import ConfigError

from .configuration_munet import KINDS, Route
from .modeling_munet import MuNetModel

LR_GRID = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3)
"""The learning rates a mutation steps between."""


@dataclass(frozen=True)
class MutationRates:
    """The probability of each mutation in one child."""

    clone: float = 0.25
    """Per frozen component of the parent: replace it by a trainable copy."""
    insert: float = 0.15
    remove: float = 0.1
    adapter: float = 0.15
    lr: float = 0.25

    def __post_init__(self) -> None:
        if not all(0.0 <= v <= 1.0 for v in dataclasses.astuple(self)):
            raise ConfigError(f"mutation probabilities must lie in [0, 1], got {self}")


def sample_mutations(model: MuNetModel, parent: int, rng: np.random.Generator,
                     rates: MutationRates = MutationRates()) -> list[dict[str, Any]]:
    """The mutations of one child of route `parent`, as plain data (applied in order by `build_child`)."""
    route = model.routes[parent]
    ops: list[dict[str, Any]] = []
    for kind, i in route.components():
        if model.is_frozen(kind, i) and (kind == "head" or rng.random() < rates.clone):
            ops.append({"op": "clone", "kind": kind, "index": i})
    n = len(route.layers)
    if n > 1 and rng.random() < rates.remove:
        ops.append({"op": "remove", "at": int(rng.integers(n))})
        n -= 1
    if rng.random() < rates.insert:
        ops.append({"op": "insert", "at": int(rng.integers(n + 1))})
        n += 1
    if rng.random() < rates.adapter:
        ops.append({"op": "adapter", "at": int(rng.integers(n))})
    if rng.random() < rates.lr:
        k = LR_GRID.index(min(LR_GRID, key=lambda x: abs(math.log(x / route.lr))))
        k = int(np.clip(k + (1 if rng.random() < 0.5 else -1), 0, len(LR_GRID) - 1))
        ops.append({"op": "lr", "to": LR_GRID[k]})
    return ops


Slot = tuple[str, str, int]
"""A child's component before it has an index: ('keep', kind, i) shares (or, if trainable, takes over) the
parent's, ('copy', kind, i) is a trainable copy of it, ('new', kind, -1) a fresh one."""


def _child_slots(route: Route, ops: Sequence[dict[str, Any]]) -> tuple[dict[str, Slot], list[list[Slot | None]], float]:
    """The child's embed/patch/head slots, its (block, adapter) slots per layer, and its lr."""
    cloned = {(o["kind"], o["index"]) for o in ops if o["op"] == "clone"}

    def slot(kind: str, i: int) -> Slot:
        return ("copy" if (kind, i) in cloned else "keep", kind, i)

    fixed = {k: slot(k, getattr(route, k)) for k in ("embed", "patch", "head")}
    layers: list[list[Slot | None]] = [[slot("block", b), slot("adapter", a) if a >= 0 else None]
                                       for b, a in route.layers]
    lr = route.lr
    for o in ops:
        if o["op"] == "remove":
            del layers[o["at"]]
        elif o["op"] == "insert":
            layers.insert(o["at"], [("new", "block", -1), None])
        elif o["op"] == "adapter" and layers[o["at"]][1] is None:
            layers[o["at"]][1] = ("new", "adapter", -1)
        elif o["op"] == "lr":
            lr = float(o["to"])
    return fixed, layers, lr


def build_child(system: MuNetModel, parent: int, ops: Sequence[dict[str, Any]], task: str) -> MuNetModel:
    """The system with a mutated child of route `parent` for `task` (the last route, active).

    The other tasks' routes (the parent's too, if it serves another task) and their components are kept as they
    are; a route of `task` itself is replaced by the child (a task has one route). Components no route uses any
    more are dropped, and the banks renumbered. New components are drawn from torch's generator: seed it first
    for a reproducible child.
    """
    route = system.routes[parent]
    others = [r for r in system.routes if r.task != task]  # a route of `task` (the parent, or none) is replaced
    fixed, layers, lr = _child_slots(route, ops)
    index: dict[str, dict[int, int]] = {k: {} for k in KINDS}  # old index -> new, for kept components
    sources: dict[str, list[tuple[str, int]]] = {k: [] for k in KINDS}  # per new index: (how, old index)

    def place(kind: str, how: str, old: int) -> int:
        if how == "keep":
            if old not in index[kind]:
                index[kind][old] = len(sources[kind])
                sources[kind].append(("keep", old))
            return index[kind][old]
        sources[kind].append((how, old))
        return len(sources[kind]) - 1

    for r in others:  # finished tasks first, in their order: their components keep their relative order
        for kind, i in sorted(r.components(), key=lambda c: (KINDS.index(c[0]), c[1])):
            place(kind, "keep", i)
    new_others = [Route(r.task, index["embed"][r.embed], index["patch"][r.patch],
                        tuple((index["block"][b], index["adapter"][a] if a >= 0 else -1) for b, a in r.layers),
                        index["head"][r.head], r.lr) for r in others]
    copies: dict[tuple[str, int], int] = {}

    def put(s: Slot) -> int:
        how, kind, old = s
        if how == "copy":  # one copy per cloned component, however often the route runs it
            if (kind, old) not in copies:
                copies[(kind, old)] = place(kind, "copy", old)
            return copies[(kind, old)]
        return place(kind, how, old)

    child = Route(task, put(fixed["embed"]), put(fixed["patch"]),
                  tuple((put(b), put(a) if a is not None else -1) for b, a in layers), put(fixed["head"]), lr)
    cfg = dataclasses.replace(system.cfg, routes=tuple(r.to_tuple() for r in [*new_others, child]), active=-1)
    model = MuNetModel(cfg)
    with torch.no_grad():
        for kind in KINDS:
            for new, (how, old) in enumerate(sources[kind]):
                if how == "new":  # an inserted block starts as the identity (an adapter does so by itself)
                    if kind == "block":
                        blk = model.component(kind, new)
                        blk.attn.proj.weight.zero_()
                        blk.out.weight.zero_()
                    continue
                model.component(kind, new).load_state_dict(system.component(kind, old).state_dict())
                getattr(model, f"frozen_{kind}")[new] = how == "keep" and system.is_frozen(kind, old)
    model._apply_freezing()
    return model


def params_added(model: MuNetModel) -> int:
    """The parameters of the active route's own (trainable) components: what its task adds to the system."""
    return model.component_parameters([c for c in model.route.components() if not model.is_frozen(*c)])


def score(quality: float, added: int, reference: int, base: float) -> float:
    """quality * base ** (added / reference): the paper's trade of quality against size."""
    return float(quality * base ** (added / max(1, reference)))


@dataclass
class Member:
    """One model of the new task's population: where its checkpoint is and how it has fared."""

    id: str
    checkpoint: str
    route: int
    """Its route's index in its checkpoint (-1: the last, a candidate's)."""
    score: float | None = None
    offspring: int = 0
    parent: str | None = None


@dataclass
class MuNetSearch:
    """The evolution strategy of evaluation/population.py for one new task.

    Generation 1 scores the seed members (the system's routes, untrained on the task); every later one proposes
    `parallel` children, each of a parent drawn by the 0.5 ** offspring decay, and keeps those that beat their
    parents. Candidates are plain data: {"kind": "score" | "child", "id", "parent": {"checkpoint", "route"},
    "out"}; a child's mutations are drawn in its job from the job's seed, so a run is reproducible anywhere.
    """

    members: list[Member]
    work: str
    """Folder where each child writes its checkpoint (`<work>/<id>/checkpoint`); rejected ones are removed."""
    parallel: int = 2
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    generation: int = 0

    @classmethod
    def seeded(cls, system: str | Path, routes: int, work: str | Path, parallel: int, seed: int) -> MuNetSearch:
        """Seed members: every route of the system checkpoint, to be scored on the new task first."""
        if parallel < 1:
            raise ConfigError(f"a muNet search needs at least 1 child a generation, got {parallel}")
        members = [Member(f"route{i}", str(system), i) for i in range(routes)]
        return cls(members, str(work), parallel, np.random.default_rng(seed))

    def _member(self, id_: str) -> Member:
        return next(m for m in self.members if m.id == id_)

    def draw_parent(self) -> Member:
        """Members by score, best first; each taken with probability 0.5 ** offspring; else the best."""
        ranked = sorted((m for m in self.members if m.score is not None), key=lambda m: -m.score)
        for m in ranked:
            if self.rng.random() < 0.5 ** m.offspring:
                return m
        return ranked[0]

    def propose(self) -> list[dict[str, Any]]:
        unscored = [m for m in self.members if m.score is None]
        if unscored:
            return [{"kind": "score", "id": m.id, "parent": {"checkpoint": m.checkpoint, "route": m.route}}
                    for m in unscored]
        out = []
        for k in range(self.parallel):
            parent = self.draw_parent()
            parent.offspring += 1
            cid = f"g{self.generation + 1}-{k}"
            out.append({"kind": "child", "id": cid, "parent_id": parent.id,
                        "parent": {"checkpoint": parent.checkpoint, "route": parent.route},
                        "out": str(Path(self.work) / cid)})
        return out

    def apply(self, candidates: Sequence[dict[str, Any]], scores: Sequence[float]) -> dict[str, Any]:
        accepted, rejected = [], []
        for c, s in zip(candidates, scores):
            if c["kind"] == "score":
                self._member(c["id"]).score = float(s)
                continue
            parent = self._member(c["parent_id"])
            if s > parent.score:
                self.members.append(Member(c["id"], str(Path(c["out"]) / "checkpoint"), -1, float(s),
                                           parent=parent.id))
                accepted.append(c["id"])
            else:
                shutil.rmtree(c["out"], ignore_errors=True)
                rejected.append(c["id"])
        self.generation += 1
        return {"accepted": accepted, "rejected": rejected}

    def best(self) -> dict[str, Any]:
        m = max((m for m in self.members if m.score is not None), key=lambda m: m.score, default=None)
        return {} if m is None else dataclasses.asdict(m)

    def to_dict(self) -> dict[str, Any]:
        return {"members": [dataclasses.asdict(m) for m in self.members], "work": self.work,
                "parallel": self.parallel, "generation": self.generation, "rng": self.rng.bit_generator.state}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MuNetSearch:
        rng = np.random.default_rng()
        rng.bit_generator.state = d["rng"]
        return cls([Member(**m) for m in d["members"]], d["work"], int(d["parallel"]), rng, int(d["generation"]))
