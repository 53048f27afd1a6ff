"""The contract every model family of the zoo follows, in one place.

Training (`agent/train.py`) and checkpoints (`agent/checkpoint.py`) only use what is below; acting goes
through `agent/factory.py:make_policy`. A family's folder (`agent/models/<name>/`) registers a model class
that satisfies `ZooModel` (checked structurally: a Protocol, not a base class to inherit).

forward(batch) -> (logits, loss, info)
    `batch` is the one TokenBatch every family consumes. `logits` (M, V) at the M target positions, `loss`
    the masked NLL of the targets (None when the batch has none), and `info`:

    - "token_loss": (M,) per-target NLL, detached: the trainer splits it by domain and modality;
    - "target_kinds": (M,) TokenKind of each target;
    - "n_targets": int;
      (a family trained otherwise than by next-token NLL, such as the contrastive LIMoE, omits these three:
      its `logits` and `loss` are its own, e.g. (S, S) image-text similarities and InfoNCE);
    - "aux_loss": optional scalar tensor with gradient (routing balance losses): the trainer adds it to
      the loss it optimises and logs it apart, as `aux_loss`;
    - any other int or float (router entropy, dropped tokens, per-expert load as "expert_load/<i>") is
      logged by the trainer under its own name, averaged over the log interval.

param_groups(weight_decay) -> AdamW parameter groups (decay on matrices only).
num_parameters(non_embedding=True), active_parameters(non_embedding=True) -> parameters in all, and those
    that act on one token (fewer than all in a sparse family).

To act through the batched KV-cache policy (`GatoPolicy`), a decoder-only family also offers
`can_act = True`, `cfg.context`, `cfg.vocab_size`, `cfg.continuous_decoding`, `new_cache(batch)` and
`next_token_logits(batch, cache) -> (B, V)`. A family that acts otherwise (an encoder-decoder) registers
its own policy class with its family; one that cannot act sets `can_act = False`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

from .batch import TokenBatch
from .kv_cache import KVCache


@runtime_checkable
class ZooModel(Protocol):
    """What training and checkpoints need from a model of any family."""

    cfg: Any
    can_act: bool

    def forward(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]: ...

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]: ...

    def num_parameters(self, non_embedding: bool = True) -> int: ...

    def active_parameters(self, non_embedding: bool = True) -> int: ...


@runtime_checkable
class ActingModel(ZooModel, Protocol):
    """What the batched KV-cache policy needs on top: incremental decoding."""

    def new_cache(self, batch: int = 1) -> KVCache: ...

    def next_token_logits(self, batch: TokenBatch, cache: KVCache) -> torch.Tensor: ...


STANDARD_INFO = frozenset({"token_loss", "target_kinds", "n_targets", "aux_loss"})
"""info keys with a meaning of their own; every other scalar in info is logged as is."""
