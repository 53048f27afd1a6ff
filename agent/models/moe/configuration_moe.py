"""Config of the `moe` family: Gato's embeddings and attention with Mixture-of-Experts FFNs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.errors import ConfigError

from .layer import GATES, MoEConfig


@dataclass(frozen=True)
class MoETransformerConfig(GatoConfig):
    """Gato's embeddings and attention, with Mixture-of-Experts FFNs (agent/models/moe/layer.py) in every
    `moe_every`-th block. `ffn` stays the width of the dense FFNs left in the other blocks."""

    architecture: ClassVar[str] = "moe"
    n_experts: int = 8
    """Experts per MoE layer."""
    top_k: int = 2
    """Experts per token (1 with gate='switch')."""
    expert_ffn: int = 256
    """Hidden width of each expert. top_k * expert_ffn = ffn keeps the FFN FLOPs and the active parameters
    of a token those of the dense model."""
    gate: str = "noisy-top-k"
    """'noisy-top-k' (Shazeer et al. 2017) or 'switch' (Fedus et al. 2021)."""
    moe_every: int = 1
    """Blocks moe_every-1, 2*moe_every-1, ... get an MoE FFN: 1 = every block, 2 = every other one."""
    capacity_factor: float | None = 1.25
    """Expert capacity in training and validation (tokens past it are dropped, the residual carries them);
    incremental decoding serves every token."""
    w_importance: float = 0.1
    """Weight of the importance loss (noisy-top-k)."""
    w_load: float = 0.1
    """Weight of the load loss (noisy-top-k)."""
    switch_alpha: float = 0.01
    """Weight of the Switch balance loss."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.moe_every < 1 or self.moe_every > self.n_layer:
            raise ConfigError(f"moe_every must be in [1, n_layer={self.n_layer}], got {self.moe_every}")
        if self.gate not in GATES:
            raise ConfigError(f"gate must be one of {', '.join(GATES)}; got {self.gate!r}")
        self.layer_config(0)  # the MoE layer validates the rest (top_k, capacity, weights)

    def is_moe(self, block: int) -> bool:
        return (block + 1) % self.moe_every == 0

    def layer_config(self, n_layer_scale: int) -> MoEConfig:
        """The MoE layer's config; its output projections start like Gato's residual ones (GPT-2 scaling)."""
        std = 0.02 / (2 * n_layer_scale) ** 0.5 if n_layer_scale else 0.02
        return MoEConfig(n_embd=self.n_embd, ffn=self.expert_ffn, n_experts=self.n_experts, top_k=self.top_k,
                         gate=self.gate, capacity_factor=self.capacity_factor, w_importance=self.w_importance,
                         w_load=self.w_load, switch_alpha=self.switch_alpha, dropout=self.dropout, out_std=std)


MOE_PRESETS = {
    # Gato's shapes; the experts of a token add up to Gato's FFN width, so active parameters match.
    "nano": dict(n_layer=4, n_head=4, n_embd=128, ffn=512, context=512, n_experts=8, top_k=2, expert_ffn=256),
    "tiny": dict(n_layer=6, n_head=8, n_embd=256, ffn=1024, context=512, n_experts=8, top_k=2, expert_ffn=512),
    "small": dict(n_layer=8, n_head=8, n_embd=512, ffn=2048, context=1024, n_experts=8, top_k=2, expert_ffn=1024),
}
