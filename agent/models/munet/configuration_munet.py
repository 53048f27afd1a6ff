"""Config of the `munet` family (Gesmundo & Dean 2022): a system of components shared between per-task models.

A *route* is one task's model: which input tables (token embedding and its position tables), which patch
encoder, which transformer blocks in which order (each optionally followed by an adapter), which head, and the
learning rate its task trains with. The component banks hold as many of each kind as the routes name, so the
routes alone fix the model's shape, and a checkpoint's config.json holds the whole system.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.errors import ConfigError

KINDS = ("embed", "patch", "block", "adapter", "head")
"""The component kinds, in the order of their banks."""


@dataclass(frozen=True)
class Route:
    """One task's model over the component banks."""

    task: str
    """The task it serves ('' while its task is not named yet: a run's model before its stage ends)."""
    embed: int
    """Index of its input tables (token embedding, local, row, column, window position)."""
    patch: int
    """Index of its image patch encoder."""
    layers: tuple[tuple[int, int], ...]
    """(block, adapter) per layer, in order; adapter -1: none."""
    head: int
    """Index of its head (final norm and readout; the output is tied to its token embedding)."""
    lr: float = 1e-3
    """The learning rate its task trains with (a hyper-parameter a mutation steps)."""

    def components(self) -> list[tuple[str, int]]:
        """(kind, index) of every component it runs, each once."""
        out = [("embed", self.embed), ("patch", self.patch)]
        for b, a in self.layers:
            out.append(("block", b))
            if a >= 0:
                out.append(("adapter", a))
        return out + [("head", self.head)]

    def to_tuple(self) -> tuple[Any, ...]:
        return (self.task, self.embed, self.patch, tuple(tuple(x) for x in self.layers), self.head, self.lr)

    @classmethod
    def from_tuple(cls, t: Any) -> Route:
        task, embed, patch, layers, head, lr = t
        return cls(str(task), int(embed), int(patch), tuple((int(b), int(a)) for b, a in layers), int(head), float(lr))


def default_route(n_layer: int, lr: float = 1e-3) -> Route:
    """A fresh system's one route: component 0 of each kind and blocks 0..n_layer-1, no adapters."""
    return Route("", 0, 0, tuple((i, -1) for i in range(n_layer)), 0, lr)


@dataclass(frozen=True)
class MuNetConfig(GatoConfig):
    """`n_layer`, `n_embd`, `ffn`, ... shape every block (as Gato's); `routes` say which blocks each task runs."""

    architecture: ClassVar[str] = "munet"
    routes: tuple[tuple[Any, ...], ...] = field(default=())
    """Every route as Route.to_tuple(); () is one fresh route over n_layer blocks."""
    active: int = -1
    """Index of the route a forward pass runs (a policy switches to its task's route); -1: the last."""
    adapter_dim: int = 16
    """Bottleneck width of an adapter (a residual MLP added after a block, its output initialised to 0)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        routes = self.route_list()
        names = [r.task for r in routes if r.task]
        if len(names) != len(set(names)):
            raise ConfigError(f"muNet routes must serve distinct tasks, got {names}")
        if not -len(routes) <= self.active < len(routes):
            raise ConfigError(f"active route {self.active} out of range for {len(routes)} routes")
        if any(not r.layers for r in routes) or self.adapter_dim < 1:
            raise ConfigError("every muNet route needs at least one layer, and adapter_dim >= 1")

    def route_list(self) -> list[Route]:
        return [Route.from_tuple(t) for t in self.routes] or [default_route(self.n_layer)]

    def bank_sizes(self) -> dict[str, int]:
        """Components of each kind: one more than the largest index any route names."""
        sizes = dict.fromkeys(KINDS, 0)
        for r in self.route_list():
            for kind, i in r.components():
                sizes[kind] = max(sizes[kind], i + 1)
        return sizes


MUNET_PRESETS: dict[str, dict[str, Any]] = {
    "nano": dict(n_layer=4, n_head=4, n_embd=128, ffn=512, context=512),  # Gato nano's shape, one route
    "tiny": dict(n_layer=6, n_head=8, n_embd=256, ffn=1024, context=512),
}
