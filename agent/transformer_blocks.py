"""The pre-norm transformer blocks the encoder-decoder families share: an FFN, an encoder block (self-attention
under a mask, then the FFN) and a decoder block (causal self-attention, under a mask in training or through a
KVCache when acting; cross-attention over an encoder's memory; then the FFN). `cfg` gives n_embd, n_head, ffn
and dropout."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .attention import CrossAttention, SelfAttention
from .kv_cache import KVCache


class FFN(nn.Module):
    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, cfg.ffn)
        self.out = nn.Linear(cfg.ffn, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.gelu(self.fc(x)))  # (B, T, D)


class EncoderBlock(nn.Module):
    """Pre-norm: self-attention under a mask, then the FFN."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(cfg.n_embd), SelfAttention(cfg)
        self.ln2, self.ffn = nn.LayerNorm(cfg.n_embd), FFN(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), mask=mask))  # (B, S, D)
        return x + self.drop(self.ffn(self.ln2(x)))  # (B, S, D)


class DecoderBlock(nn.Module):
    """Pre-norm: causal self-attention (under a mask in training, through a KVCache when acting),
    cross-attention over the encoder's memory, then the FFN."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(cfg.n_embd), SelfAttention(cfg)
        self.ln2, self.cross = nn.LayerNorm(cfg.n_embd), CrossAttention(cfg)
        self.ln3, self.ffn = nn.LayerNorm(cfg.n_embd), FFN(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                cross_mask: torch.Tensor, self_mask: torch.Tensor | None = None, cache: KVCache | None = None,
                layer: int = 0) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x), cache, layer, self_mask))  # (B, U, D)
        x = x + self.drop(self.cross(self.ln2(x), memory, cross_mask))  # (B, U, D)
        return x + self.drop(self.ffn(self.ln3(x)))  # (B, U, D)
