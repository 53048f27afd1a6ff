"""Multi-head self-attention on torch SDPA, shared by the zoo's transformers: causal with an optional KV
cache (decoder-only families), or under any boolean mask (packed segments, or an encoder's padding)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .kv_cache import KVCache


class SelfAttention(nn.Module):
    def __init__(self, cfg: Any) -> None:
        """`cfg` gives n_head, n_embd and dropout."""
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, D) -> (B, T, D). With a cache, x holds only the new tokens: they attend to every cached
        key and causally among themselves, and their keys and values are appended. `mask` (B, 1, T, T),
        for packed rows without a cache, replaces plain causal attention."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)  # 3 x (B, T, D)
        q, k, v = (z.view(b, t, self.n_head, d // self.n_head).transpose(1, 2) for z in (q, k, v))  # (B, H, T, Dh)
        drop = self.dropout if self.training else 0.0
        if mask is not None:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)  # (B, H, T, Dh)
        elif cache is None or cache.length == 0:
            if cache is not None:
                cache.append(layer, k, v)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)  # (B, H, T, Dh)
        else:
            past = cache.length
            allowed = torch.ones(t, past + t, dtype=torch.bool, device=x.device).tril(diagonal=past)  # (T, past+T)
            if cache.padded:  # rows of a vector env hold different lengths: mask each row's left padding
                real = torch.cat([~cache.key_padding(), allowed.new_ones(b, t)], dim=1)  # (B, past+T)
                allowed = allowed[None, None] & real[:, None, None, :].to(x.device)  # (B, 1, T, past+T)
            k, v = cache.append(layer, k, v)  # (B, H, past + T, Dh)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # (B, H, T, Dh)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))  # (B, T, D)


class CrossAttention(nn.Module):
    """Multi-head attention of decoder tokens (B, U, D) over an encoder's memory (B, S, D) on torch SDPA,
    under a boolean mask (B, 1, U, S) or (B, 1, 1, S) of the memory slots each query may read. The
    memory's keys and values can be computed once (`memory_kv`) and reused at every decoding step."""

    def __init__(self, cfg: Any) -> None:
        """`cfg` gives n_head, n_embd and dropout."""
        super().__init__()
        self.n_head = cfg.n_head
        self.q = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.kv = nn.Linear(cfg.n_embd, 2 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S, D) memory -> its keys and values, 2 x (B, H, S, Dh)."""
        b, s, d = memory.shape
        k, v = self.kv(memory).split(d, dim=2)  # 2 x (B, S, D)
        return tuple(z.view(b, s, self.n_head, d // self.n_head).transpose(1, 2) for z in (k, v))  # type: ignore[return-value]

    def forward(self, x: torch.Tensor, memory: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                mask: torch.Tensor) -> torch.Tensor:
        """(B, U, D) queries over `memory` ((B, S, D), or its precomputed keys and values) -> (B, U, D)."""
        b, u, d = x.shape
        k, v = self.memory_kv(memory) if isinstance(memory, torch.Tensor) else memory  # (B, H, S, Dh)
        q = self.q(x).view(b, u, self.n_head, d // self.n_head).transpose(1, 2)  # (B, H, U, Dh)
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)  # (B, H, U, Dh)
        return self.proj(y.transpose(1, 2).reshape(b, u, d))  # (B, U, D)
