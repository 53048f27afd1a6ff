"""Config of the `pathnet` family: Gato's embeddings under a grid of L layers x M small transformer modules, of
which a path switches on N per layer (Fernando et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.errors import ConfigError


@dataclass(frozen=True)
class PathNetConfig(GatoConfig):
    """`n_layer` is PathNet's L and `ffn` the hidden width of each module's MLP (a module is one pre-norm
    transformer block of width `n_embd`: attention and MLP)."""

    architecture: ClassVar[str] = "pathnet"
    modules_per_layer: int = 8
    """M: the modules of each layer (the paper used 10 for its supervised tasks and 10-20 in RL)."""
    active: int = 2
    """N: the modules a path switches on per layer (the paper: at most 3 or 4); their outputs are averaged."""
    task_paths: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...] = ()
    """(task, path) of every finished task (the continual protocol records them): a policy for one of these
    tasks runs its path."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.modules_per_layer < 1 or not 1 <= self.active <= self.modules_per_layer:
            raise ConfigError(f"PathNet needs 1 <= active ({self.active}) <= modules_per_layer "
                              f"({self.modules_per_layer})")


PATHNET_PRESETS: dict[str, dict[str, Any]] = {
    # 3 layers x 8 modules, 2 active: 6 blocks a token, near Gato nano's 4 at half the MLP width
    "nano": dict(n_layer=3, n_head=4, n_embd=128, ffn=256, context=512, modules_per_layer=8, active=2),
    "tiny": dict(n_layer=4, n_head=8, n_embd=256, ffn=512, context=512, modules_per_layer=10, active=3),
}
