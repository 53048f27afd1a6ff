"""GatoConfig: the transformer's shape, as a validated dataclass, with named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from gatosuite.errors import ConfigError, UnknownNameError


@dataclass(frozen=True)
class GatoConfig:
    """Shape of a Gato-style decoder-only transformer."""

    vocab_size: int
    """Rows of the token table: Vocabulary.size (text + 1024 discrete + 1024 continuous + specials)."""
    n_layer: int = 4
    """Transformer blocks."""
    n_head: int = 4
    """Attention heads; must divide n_embd."""
    n_embd: int = 128
    """Model width."""
    ffn: int = 512
    """Hidden width of the GELU MLP."""
    context: int = 512
    """Tokens per training window and the rollout context (Gato: 1024)."""
    max_local_positions: int = 256
    """Largest number of observation tokens in a timestep (local position table size)."""
    patch_channels: int = 32
    """Channels of the ResNet-v2 patch embedding block."""
    position_bins: int = 128
    """Bins of the patch row/column position encodings (Gato: 128)."""
    dropout: float = 0.0
    """Dropout on embeddings, attention and MLP outputs."""
    value_init: str = "sinusoidal"
    """Initial embeddings of the 1024 discrete and 1024 continuous value ids: 'sinusoidal' (neighbouring
    values start close, so a value seen in training generalizes to its neighbours) or 'normal' (GPT-2's
    N(0, 0.02), every id on its own). Measured on CartPole behaviour cloning: see README."""

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "ffn", "context", "max_local_positions",
                     "patch_channels", "position_bins"):
            if getattr(self, name) < 1:
                raise ConfigError(f"GatoConfig.{name} must be positive, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.value_init not in ("sinusoidal", "normal"):
            raise ConfigError(f"value_init must be 'sinusoidal' or 'normal', got {self.value_init!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def diff(self, other: GatoConfig) -> dict[str, tuple[Any, Any]]:
        """Fields that differ, as {name: (self, other)}: what a mismatched checkpoint error lists."""
        a, b = asdict(self), asdict(other)
        return {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}


PRESETS: dict[str, dict[str, Any]] = {
    "nano": dict(n_layer=4, n_head=4, n_embd=128, ffn=512, context=512),      # ~0.8M non-embedding
    "tiny": dict(n_layer=6, n_head=8, n_embd=256, ffn=1024, context=512),     # ~4.7M
    "small": dict(n_layer=8, n_head=8, n_embd=512, ffn=2048, context=1024),   # ~25M
    "gato-79m": dict(n_layer=8, n_head=24, n_embd=768, ffn=3072, context=1024),  # Gato's smallest shape
}


def preset(name: str, vocab_size: int, **overrides: Any) -> GatoConfig:
    """A named preset for a given vocabulary size, with optional field overrides."""
    if name not in PRESETS:
        raise UnknownNameError(f"unknown preset '{name}'; known: {', '.join(PRESETS)}")
    return replace(GatoConfig(vocab_size=vocab_size, **PRESETS[name]), **overrides)
