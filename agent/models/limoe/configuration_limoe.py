"""Config of the `limoe` family: one modality-agnostic encoder with MoE FFNs, trained contrastively."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from gatosuite.agent.models.config_base import ConfigBase
from gatosuite.agent.models.moe.layer import GATES, PRIORITIES, MoEConfig
from gatosuite.errors import ConfigError


@dataclass(frozen=True)
class LIMoEConfig(ConfigBase):
    """Shape and losses of a LIMoE encoder (Mustafa et al. 2022) at the suite's scale.

    The loss weights and the entropy threshold are this suite's choices for its nano scale, not values
    copied from the paper; the README's LIMoE section measures what they do.
    """

    architecture: ClassVar[str] = "limoe"
    vocab_size: int
    """Rows of the text token table: the suite's Vocabulary.size (text ids are the first rows)."""
    n_layer: int = 4
    """Encoder blocks."""
    n_head: int = 4
    """Attention heads; must divide n_embd."""
    n_embd: int = 128
    """Model width."""
    ffn: int = 512
    """Hidden width of the dense FFNs and of each expert (top-1 routing: a token's active FFN is one
    expert, as wide as a dense FFN)."""
    context: int = 512
    """Longest TokenBatch row it reads pairs from (the trainer's --window)."""
    max_tokens: int = 64
    """Longest image (patches) or text (ids) of one pair; longer texts are cut to it."""
    embed_dim: int = 128
    """Width of the shared image-text embedding space."""
    patch_channels: int = 32
    """Channels of the ResNet-v2 patch embedding (Gato's)."""
    position_bins: int = 128
    """Bins of the patch row/column position encodings (Gato's)."""
    n_experts: int = 8
    """Experts per MoE layer."""
    moe_every: int = 2
    """Blocks moe_every-1, 2*moe_every-1, ... get an MoE FFN (LIMoE: every other block)."""
    gate: str = "switch"
    """The router: 'switch' (top-1 softmax, as LIMoE's K=1 models) or 'noisy-top-k'."""
    top_k: int = 1
    """Experts per token."""
    capacity_factor: float | None = 1.0
    """Expert capacity in training; with priority='batch' the tokens the router is surest of keep their slot."""
    priority: str = "batch"
    """'batch' (batch-priority routing, as LIMoE) or 'token' (first come first served)."""
    switch_alpha: float = 0.01
    """Weight of the Switch balance loss (computed over both modalities together)."""
    w_local: float = 0.01
    """Weight of the per-modality local entropy loss, mean over a modality's tokens of H(p(experts | x)),
    minimised: each token commits to an expert. 0 turns it off."""
    w_global: float = 0.1
    """Weight of the per-modality global entropy loss max(0, tau - H(mean over the modality's tokens of
    p(experts | x))), so that a modality spreads over at least exp(tau) experts. 0 turns it off."""
    global_experts: float = 4.0
    """tau = log(global_experts): the number of experts each modality's average routing should cover."""
    temperature_init: float = 10.0
    """Initial inverse temperature of the contrastive logits (learned, capped at 100 as in CLIP)."""
    dropout: float = 0.0
    """Dropout on attention and FFN outputs."""

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "ffn", "context", "max_tokens", "embed_dim",
                     "patch_channels", "position_bins", "n_experts", "moe_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"LIMoEConfig.{name} must be positive, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")
        if self.moe_every > self.n_layer:
            raise ConfigError(f"moe_every must be in [1, n_layer={self.n_layer}], got {self.moe_every}")
        if self.gate not in GATES or self.priority not in PRIORITIES:
            raise ConfigError(f"gate must be one of {', '.join(GATES)} and priority one of {', '.join(PRIORITIES)};"
                              f" got {self.gate!r}, {self.priority!r}")
        for name in ("w_local", "w_global"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"LIMoEConfig.{name} must be >= 0 (0 turns that loss off), got {getattr(self, name)}")
        if not 1 <= self.global_experts <= self.n_experts:
            raise ConfigError(f"global_experts must be in [1, n_experts={self.n_experts}], got {self.global_experts}")
        if not self.temperature_init > 0:
            raise ConfigError(f"temperature_init must be positive, got {self.temperature_init}")
        self.layer_config()  # the MoE layer validates the rest

    @property
    def tau(self) -> float:
        """The global entropy threshold, in nats."""
        return math.log(self.global_experts)

    def is_moe(self, block: int) -> bool:
        return (block + 1) % self.moe_every == 0

    def layer_config(self) -> MoEConfig:
        std = 0.02 / (2 * self.n_layer) ** 0.5
        return MoEConfig(n_embd=self.n_embd, ffn=self.ffn, n_experts=self.n_experts, top_k=self.top_k,
                         gate=self.gate, capacity_factor=self.capacity_factor, priority=self.priority,
                         switch_alpha=self.switch_alpha, dropout=self.dropout, out_std=std)


LIMOE_PRESETS = {
    "nano": dict(n_layer=4, n_head=4, n_embd=128, ffn=512, embed_dim=128, n_experts=8),
    "tiny": dict(n_layer=6, n_head=8, n_embd=256, ffn=1024, embed_dim=256, n_experts=8),
    "small": dict(n_layer=8, n_head=8, n_embd=512, ffn=2048, embed_dim=512, n_experts=16),
}
