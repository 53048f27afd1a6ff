"""Config of the `unit` family (Hu & Singh 2021, UniT: Multimodal Multitask Learning with a Unified
Transformer), at small scale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.errors import ConfigError

MODALITIES = ("image", "text", "value")
"""The encoder stream's modalities, each with its own encoder: image patches; text (a mission); and
proprioceptive/discrete values (continuous and discrete tokens and the separator)."""


@dataclass(frozen=True)
class UniTConfig(GatoConfig):
    """UniT's shape: Gato's input tables (agent/token_io.py) feeding one transformer encoder per modality,
    whose outputs are concatenated into the memory of a transformer decoder driven by task-specific
    learned queries, with a small output head per task.

    `n_layer` is the decoder's depth (UniT's 6-layer DETR-style decoder); `enc_layers` that of each
    modality encoder. `ffn` is the hidden width of every FFN, encoders' and decoder's."""

    architecture: ClassVar[str] = "unit"
    enc_layers: int = 1
    """Layers of each modality encoder (UniT: a 6-layer DETR encoder over image features, a 12-layer BERT
    over text). Each encoder token passes only its own modality's encoder."""
    n_queries: int = 8
    """Learned queries per task. Decoder position k of a chunk gets query min(k, n_queries - 1): a
    timestep's action fields each get their own query, and a long caption's later tokens share the last
    one (they still differ by their position embedding and fed token)."""
    shared_decoder: bool = True
    """True: one decoder for every task (UniT's shared model). False: one decoder per task, plus one for
    an unknown task (the paper's ablation of a shared against separate decoders); the modality encoders
    stay shared either way."""
    tasks: tuple[str, ...] = ()
    """The task vocabulary of the task-specific queries, heads (and, without a shared decoder, decoders);
    filled by the trainer. Task index -1, or any index past it, gets the shared 'unknown task' row."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("enc_layers", "n_queries"):
            if getattr(self, name) < 1:
                raise ConfigError(f"UniTConfig.{name} must be positive, got {getattr(self, name)}")
        if isinstance(self.shared_decoder, str) and self.shared_decoder.lower() in ("true", "false"):
            # `--overrides shared_decoder=False` arrives as a string (agent/train.py types ints and floats)
            object.__setattr__(self, "shared_decoder", self.shared_decoder.lower() == "true")
        if not isinstance(self.shared_decoder, bool):
            raise ConfigError(f"UniTConfig.shared_decoder must be True or False, got {self.shared_decoder!r}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"UniTConfig.tasks holds a task twice: {self.tasks}; give each task once")

    @property
    def n_task_rows(self) -> int:
        """Rows of every per-task table: one per task of the vocabulary, plus row 0 for an unknown task."""
        return len(self.tasks) + 1


UNIT_PRESETS: dict[str, dict[str, Any]] = {
    # nano: Gato nano's width; three 1-layer modality encoders and a 2-layer decoder (each encoder token
    # passes one layer, each decoder token two layers with cross-attention)
    "nano": dict(n_layer=2, enc_layers=1, n_head=4, n_embd=128, ffn=512, context=512, n_queries=8),
    "tiny": dict(n_layer=3, enc_layers=2, n_head=8, n_embd=256, ffn=1024, context=512, n_queries=8),
}
