"""The contract every model family of the zoo follows, written down whole, in one place.

Training (`agent/train.py`), checkpoints (`agent/checkpoint.py`), `gatosuite compare` and acting
(`agent/factory.py:make_policy`) use only what is below. A family's folder (`agent/models/<name>/`)
registers a `ModelFamily` (agent/families.py) whose model class satisfies `ZooModel` (checked
structurally: Protocols, not base classes to inherit).

The pieces:

- **Config** (`ModelConfig`): a frozen dataclass with `architecture` (the family's name, recorded in
  config.json), `vocab_size` and `context`. A config that keeps task-specific parameters (task tokens,
  queries, heads, instructions) declares a `tasks` field: the trainer fills it with the run's task
  vocabulary through the family's `prepare` hook, and it is stored in the checkpoint with the config.
- **Batch adapter** (`ModelFamily.adapter`): turns the one shared `TokenBatch` into what the family's
  model consumes, for example encoder and decoder streams with their masks (agent/seq2seq.py). The
  default is the identity: today's next-token batch. The trainer, validation and `compare` all call
  `family.adapt(batch, cfg)` before the model, so a family never splits its inputs inside `forward`.
- **forward(inputs) -> (logits, loss, info)**, where `inputs` is what the adapter returned:
  - `logits` (M, V) at the M targets of the batch, in `TokenBatch.target_mask` order, and `loss` the mean
    NLL of the targets (None when the batch has none), for a family whose objective is `NEXT_TOKEN`;
  - `info`: "token_loss" (M,) per-target NLL, detached, and "target_kinds" (M,) TokenKind of each
    target, both in target_mask order (the trainer and compare split them by domain and modality);
    "n_targets"; "aux_loss", an optional scalar with gradient (routing balance losses) that the trainer
    adds to the loss it optimises and logs apart; any other int or float is logged under its name;
  - a family whose objective is `CONTRASTIVE` (LIMoE) returns its own logits and loss and no per-target
    entries: the per-domain and per-modality splits are switched off by the declaration, not by looking
    for keys.
- **Objective** (`ModelFamily.objective`): `NEXT_TOKEN` or `CONTRASTIVE`.
- **Costs**: `num_parameters`, `active_parameters` (fewer than all in a sparse family) and
  `flops_per_token(window)`, the training FLOPs per token that `compare` reports.
- **Optimizer**: `param_groups(weight_decay)` feeds the shared AdamW loop. A family may register an
  `optimizer` hook (`ModelFamily.optimizer(model, args) -> torch.optim.Optimizer`) to train otherwise;
  the shared loop (schedule, clipping, checkpoints, resume) stays the same.
- **Acting** (`can_act`): a decoder-only family (`DecoderActing`) offers `new_cache(batch)` and
  `next_token_logits(batch, cache)` and acts through the shared batched KV-cache `DecoderPolicy`. An
  encoder-decoder family (`Seq2SeqActing`) offers `start(context) -> (logits, EncoderDecoderCache)` and
  `next_token_logits(tokens, cache)`, and acts through `Seq2SeqPolicy`. A family that cannot act sets
  `can_act = False` on its model and family, and `make_policy` refuses it before any env is made.
- **Per-task structure** (optional): a model whose tasks run different parts of it (muNet's routes) offers
  `select_task(task_id) -> bool`; a policy made from a checkpoint calls it for its task before acting (one
  around a model in memory, being trained, runs that model as it stands).
- **Policy** (`Policy`): `reset`, `reset_envs`, `act`, `set_episode_seeds`, and what the CLI and the
  few-shot code read from a policy: `tok` (the task's tokenizer), `L` (tokens per timestep) and
  `capacity` (timesteps that fit its context).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:  # the contract imports no torch: the registry (and so `gatosuite --help`) reads it
    import numpy as np
    import torch

    from .batch import TokenBatch
    from .kv_cache import EncoderDecoderCache, KVCache


class Objective(str, Enum):
    """What a family is trained to do; switches the trainer's and compare's NLL splits on or off."""

    NEXT_TOKEN = "next-token"
    """Masked NLL of the text and action targets: per-target losses, split by domain and modality."""
    CONTRASTIVE = "contrastive"
    """Its own objective over pairs (LIMoE's InfoNCE): no per-target NLL to split."""


@runtime_checkable
class ModelConfig(Protocol):
    """What every family's config offers (a frozen dataclass with ConfigBase's to_dict/from_dict/diff)."""

    architecture: ClassVar[str]
    vocab_size: int
    context: int

    def to_dict(self) -> dict[str, Any]: ...

    def diff(self, other: Any) -> dict[str, tuple[Any, Any]]: ...


@runtime_checkable
class ZooModel(Protocol):
    """What training, checkpoints and compare need from a model of any family."""

    cfg: Any
    can_act: bool

    def forward(self, inputs: Any) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]: ...

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]: ...

    def num_parameters(self, non_embedding: bool = True) -> int: ...

    def active_parameters(self, non_embedding: bool = True) -> int: ...

    def flops_per_token(self, window: int) -> float: ...


@runtime_checkable
class DecoderActing(ZooModel, Protocol):
    """What the batched KV-cache DecoderPolicy needs on top: incremental decoding of one stream."""

    def new_cache(self, batch: int = 1) -> KVCache: ...

    def next_token_logits(self, batch: TokenBatch, cache: KVCache) -> torch.Tensor: ...


ActingModel = DecoderActing
"""The name part 1 of the zoo gave the decoder-only acting protocol."""


@runtime_checkable
class Seq2SeqActing(ZooModel, Protocol):
    """What Seq2SeqPolicy needs from an encoder-decoder family.

    `start(context)`: `context` is one row per env: its window of whole timesteps, ending with the current
    observation and separator, collated as a TokenBatch (with task_index). The model encodes it and
    returns (N, V) logits of the first action token and the cache holding the encoder's memory. Then
    `next_token_logits(tokens, cache)` feeds each row's chosen action token, (N, 1), and returns the
    next one's (N, V) logits. Both must give exactly what `forward` gives at those targets in training
    (the contract test checks it)."""

    def start(self, context: TokenBatch) -> tuple[torch.Tensor, EncoderDecoderCache]: ...

    def next_token_logits(self, batch: TokenBatch, cache: EncoderDecoderCache) -> torch.Tensor: ...


@runtime_checkable
class Policy(Protocol):
    """A trained model acting in one task, batched over a vector env (agent/policy.py)."""

    tok: Any
    """The task's tokenizer (tokenization/task.py): the CLI tokenizes prompt demonstrations with it."""
    L: int
    """Tokens per timestep of the task."""
    capacity: int
    """Whole timesteps that fit the policy's context (a prompt must leave room)."""

    def reset(self, num_envs: int = 1, prompt: list[Any] | None = None) -> None: ...

    def reset_envs(self, mask: np.ndarray) -> None: ...

    def set_episode_seeds(self, seeds: list[int | None]) -> None: ...

    def act(self, obs: Any) -> Any: ...


BatchAdapter = Callable[["TokenBatch", Any], Any]
"""(batch, cfg) -> what the family's forward consumes."""


def next_token_batch(batch: TokenBatch, cfg: Any) -> TokenBatch:
    """The default adapter: a decoder-only family consumes the TokenBatch as it is."""
    return batch


STANDARD_INFO = frozenset({"token_loss", "target_kinds", "n_targets", "aux_loss"})
"""info keys with a meaning of their own; every other scalar in info is logged as is."""


def transformer_flops_per_token(active_non_embedding: int, n_layer: int, width: int, window: int) -> float:
    """Training FLOPs per token, nanoGPT's estimate: 6 N (N active non-embedding parameters: forward and
    backward matmuls) plus 12 L D T for attention over a window of T."""
    return 6.0 * active_non_embedding + 12.0 * n_layer * width * window
