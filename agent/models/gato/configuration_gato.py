"""GatoConfig: the transformer's shape, as a validated dataclass, with named presets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from gatosuite.agent.models.config_base import ConfigBase
from gatosuite.errors import ConfigError, UnknownNameError

LEGACY: dict[str, Any] = {"value_input": "token", "action_targets": "onehot", "continuous_decoding": "argmax",
                          "action_inputs": "tokens"}
"""What a checkpoint written before a field existed was trained with: filled in when it is missing from
its config.json, so an old checkpoint keeps its behaviour when a default changes."""


@dataclass(frozen=True)
class GatoConfig(ConfigBase):
    """Shape of a Gato-style decoder-only transformer."""

    architecture: ClassVar[str] = "gato"
    """The model family (agent/families.py) this config builds; recorded in checkpoints."""
    legacy: ClassVar[dict[str, Any]] = LEGACY
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

    value_input: str = "token"
    """How a continuous value enters the model: 'token' (Gato: its bin's embedding alone) or 'token+value'
    (the bin's embedding plus the value itself times a learned vector per local position, so neighbouring
    bins are neighbours to the model from the first step; observations enter as symlog of their raw value,
    see GatoModel.continuous_values)."""
    action_targets: str = "onehot"
    """Targets of continuous action tokens: 'onehot' (Gato: cross-entropy on the bin) or 'hl-gauss'
    (cross-entropy against a Gaussian over neighbouring bins, the histogram loss of Imani & White 2018 and
    Farebrother et al. 2024): still an NLL, but bin 511 is no longer unrelated to bin 512."""
    target_sigma: float = 2.0
    """Standard deviation, in bins, of the 'hl-gauss' targets."""
    value_transform: str = "symlog"
    """With 'token+value': what an observation token's value enters as: 'symlog' of its raw value, or
    'mu-law', its companded bin centre in [-1, 1] (about 10x the raw value near zero)."""
    action_inputs: str = "tokens"
    """What an action token feeds into the model as an input: 'tokens' (Gato: its id's embedding) or
    'masked' (one learned embedding for every action, so a policy cannot copy its previous action and must
    act from what it observes; the actions are still predicted)."""
    continuous_decoding: str = "argmax"
    """How a policy picks a continuous action bin from the predicted distribution: 'argmax' (its mode),
    'mean' (its expectation, rounded to a bin), which moves smoothly with the state but falls between the
    modes of a two-mode distribution (a bang-bang expert pushing left or right), or 'mode-mean' (the
    expectation near the mode: smooth, and on one mode)."""

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "ffn", "context", "max_local_positions",
                     "patch_channels", "position_bins"):
            if getattr(self, name) < 1:
                raise ConfigError(f"GatoConfig.{name} must be positive, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd {self.n_embd} is not divisible by n_head {self.n_head}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        for name, allowed in (("value_init", ("sinusoidal", "normal")), ("value_input", ("token", "token+value")),
                              ("action_targets", ("onehot", "hl-gauss")),
                              ("continuous_decoding", ("argmax", "mean", "mode-mean")),
                              ("action_inputs", ("tokens", "masked")),
                              ("value_transform", ("symlog", "mu-law"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"GatoConfig.{name} must be one of {', '.join(allowed)}; got "
                                  f"{getattr(self, name)!r}")
        if self.target_sigma <= 0:
            raise ConfigError(f"GatoConfig.target_sigma must be positive, got {self.target_sigma}")


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
