"""Config of the `gato-moe` family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gatosuite.agent.models.moe.configuration_moe import MoETransformerConfig


@dataclass(frozen=True)
class GatoMoEConfig(MoETransformerConfig):
    """Gato with an MoE FFN in every other block (blocks 1, 3, ...); the others keep Gato's dense FFN."""

    architecture: ClassVar[str] = "gato-moe"
    moe_every: int = 2
    """Every other block, as GShard and Switch place their MoE layers."""
