"""The Gato-style decoder-only transformer.

Embeddings (Gato section 2.2): a token table for text, discrete, continuous and special ids; a ResNet-v2
block for image patches; learned local-observation position encodings (all action tokens share one row);
patch row and column encodings; and a learned position within the context window. Blocks are pre-norm
with causal SDPA attention and a GELU MLP. The output head is tied to the token table, and logits are
computed only at the positions whose next token is a loss target.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gatosuite.agent.attention import SelfAttention
from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.contract import transformer_flops_per_token
from gatosuite.agent.kv_cache import KVCache, window_start
from gatosuite.agent.token_io import (
    add_input_tables,
    continuous_values,
    embed_tokens,
    init_value_rows,
    nll_info,
    target_nll,
)

from .configuration_gato import GatoConfig


class Block(nn.Module):
    def __init__(self, cfg: GatoConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.fc = nn.Linear(cfg.n_embd, cfg.ffn)
        self.out = nn.Linear(cfg.ffn, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                mask: torch.Tensor | None = None) -> torch.Tensor:  # (B, T, D)
        x = x + self.drop(self.attn(self.ln1(x), cache, layer, mask))  # (B, T, D)
        return x + self.drop(self.out(F.gelu(self.fc(self.ln2(x)))))  # (B, T, D)


EMBEDDINGS = ("tok", "pos", "local", "row", "col", "value")
"""Top-level parameter names that are embedding tables (no weight decay; not counted as non-embedding)."""


class GatoModel(nn.Module):
    """`forward(batch) -> (logits, loss, info)`: the contract every model of the suite follows."""

    can_act = True
    """This model can drive a policy (autoregressive over action tokens)."""

    def __init__(self, cfg: GatoConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.n_embd
        add_input_tables(self, cfg)  # agent/token_io.py: the same tables, names and order as TokenInput's
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("attn.proj.weight", "out.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))
        if cfg.value_init == "sinusoidal":
            init_value_rows(self.tok, cfg.vocab_size, d)

    @staticmethod
    def _init(m: nn.Module) -> None:
        """GPT-2 init (std 0.02). PyTorch's N(0, 1) embedding init, tied to the head, drove the backward
        pass into denormals on a 2-core CPU: 9.7 s per step instead of 1.1 s, measured on a plain GPT of
        width 128 with a 33k vocabulary."""
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def num_parameters(self, non_embedding: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= sum(p.numel() for name, p in self.named_parameters() if name.split(".")[0] in EMBEDDINGS)
        return n

    def active_parameters(self, non_embedding: bool = True) -> int:
        """Parameters that act on each token: all of them in a dense model (a sparse family counts only the
        experts a token is routed to)."""
        return self.num_parameters(non_embedding)

    def flops_per_token(self, window: int) -> float:
        """Training FLOPs per token over a window of `window` tokens (agent/contract.py's estimate)."""
        return transformer_flops_per_token(self.active_parameters(), self.cfg.n_layer, self.cfg.n_embd, window)

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups: weight decay where `_decays` says, none elsewhere."""
        decay = [p for n, p in self.named_parameters() if self._decays(n, p)]
        keep = [p for n, p in self.named_parameters() if not self._decays(n, p)]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]

    def _decays(self, name: str, p: torch.nn.Parameter) -> bool:
        """Weight decay on matrices, not on norms, biases or embedding tables."""
        return p.ndim >= 2 and name.split(".")[0] not in EMBEDDINGS

    def continuous_values(self, ids: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
        """What a continuous token's value feeds into the model (agent/token_io.py:continuous_values)."""
        return continuous_values(ids, kinds, self.cont_lo, self.cfg.value_transform)

    def embed(self, batch: TokenBatch, start: int | torch.Tensor = 0) -> torch.Tensor:
        """(B, T, D) input embeddings of a batch whose first token sits at window position `start`
        (an int, or a (B,) tensor of per-row positions); agent/token_io.py:embed_tokens."""
        return embed_tokens(self, batch, start)

    def hidden(self, batch: TokenBatch, cache: KVCache | None = None) -> torch.Tensor:
        """(B, T, D) final hidden states. With a cache, `batch` holds only new tokens, which continue
        the cached ones; the cache is extended in place."""
        start = window_start(cache, batch.shape[0])
        x = self.embed(batch, start)
        mask = batch.attention_mask() if cache is None else None
        for i, blk in enumerate(self.blocks):
            x = blk(x, cache, i, mask)
        if cache is not None:
            cache.advance(batch.shape[1])
        return self.ln_f(x)

    def new_cache(self, batch: int = 1) -> KVCache:
        return KVCache(self.cfg.n_layer, batch)

    def next_token_logits(self, batch: TokenBatch, cache: KVCache) -> torch.Tensor:
        """Feed new tokens through the cache; (B, V) logits for the token after the last one."""
        h = self.hidden(batch, cache)  # (B, T, D)
        return h[:, -1] @ self.tok.weight.T  # (B, V)

    def forward(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """Logits (M, V) at the M target positions, the masked NLL, and per-target losses in info.

        Computing the head only where the loss is taken (text and action targets, ~25% of tokens) is the
        largest single gain over a plain GPT on a CPU: `benchmarks/bench_train.py` measures it.
        """
        h = self.hidden(batch)  # (B, T, D)
        mask = batch.target_mask  # (B, T)
        logits = h[mask] @ self.tok.weight.T  # (M, V)
        if logits.shape[0] == 0:
            return logits, None, {"n_targets": 0}
        targets = batch.targets[mask]  # (M,)
        next_kinds = torch.cat([batch.kinds[:, 1:], batch.kinds[:, :1]], dim=1)[mask]  # (M,)
        per_token = target_nll(logits, targets, next_kinds, self.cfg, self.cont_lo)  # (M,)
        return logits, per_token.mean(), nll_info(per_token, next_kinds)
