"""UniT's transformer pieces: pre-norm encoder and decoder blocks, one encoder per modality, and the
per-task output heads.

The modality encoders follow UniT (Hu & Singh 2021, section 3.1-3.2): the image and the text each get an
encoder of their own, whose outputs are concatenated into the decoder's memory. Here the encoder stream
of agent/seq2seq.py holds three modalities (MODALITIES): image patches, text, and proprioceptive or
discrete values with the separator. Each encoder runs over the tokens of its modality only, gathered out
of the stream, under the stream's block-causal mask restricted to them, and the outputs are scattered
back to their stream slots: the concatenation in stream order.
"""

from __future__ import annotations

import torch
from torch import nn

from gatosuite.agent.kv_cache import KVCache
from gatosuite.agent.seq2seq import Seq2SeqBatch, select_positions
from gatosuite.agent.transformer_blocks import DecoderBlock, EncoderBlock
from gatosuite.tokenization import TokenKind

from .configuration_unit import MODALITIES, UniTConfig


def modality_of(kinds: torch.Tensor) -> torch.Tensor:
    """(B, S) int64 modality of each encoder token, an index into MODALITIES: 0 image, 1 text, 2 value
    (continuous, discrete, separator; padding too, which no real token reads)."""
    values = torch.full_like(kinds, 2, dtype=torch.long)
    return torch.where(kinds == TokenKind.IMAGE, 0, torch.where(kinds == TokenKind.TEXT, 1, values))


class ModalityEncoder(nn.Module):
    """One modality's transformer encoder: `enc_layers` blocks and a final LayerNorm."""

    def __init__(self, cfg: UniTConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.enc_layers))
        self.ln_f = nn.LayerNorm(cfg.n_embd)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            x = blk(x, mask)  # (B, N, D)
        return self.ln_f(x)


class ModalityEncoders(nn.Module):
    """One encoder per modality over the encoder stream: `forward(x, s) -> (states (B, S, D), modality
    (B, S))`, each real token's state computed by its modality's encoder from that modality's tokens of
    its segment in its own and earlier chunks (padding slots stay zero)."""

    def __init__(self, cfg: UniTConfig) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict({m: ModalityEncoder(cfg) for m in MODALITIES})

    def forward(self, x: torch.Tensor, s: Seq2SeqBatch) -> tuple[torch.Tensor, torch.Tensor]:
        b, n_slots, d = x.shape
        mod = modality_of(s.enc.kinds)  # (B, S)
        allowed = s.enc_self_mask()[:, 0] & (mod[:, :, None] == mod[:, None, :])  # (B, S, S) same modality
        out = torch.zeros_like(x)  # (B, S, D)
        for m, enc in enumerate(self.encoders.values()):
            sel = (mod == m) & s.enc_real  # (B, S)
            if not bool(sel.any()):
                continue  # no token of this modality in the batch (its parameters get no gradient)
            order, valid, _ = select_positions(sel)  # (B, N) slots of the modality, in stream order
            n = order.shape[1]
            xm = x.gather(1, order[..., None].expand(b, n, d))  # (B, N, D)
            mm = allowed.gather(1, order[:, :, None].expand(b, n, n_slots))  # (B, N, S)
            mm = mm.gather(2, order[:, None, :].expand(b, n, n))  # (B, N, N)
            eye = torch.eye(n, dtype=torch.bool, device=x.device)  # a token always sees itself
            mm = (mm & valid[:, None, :] & valid[:, :, None]) | eye  # (B, N, N) filler slots see only themselves
            hm = enc(xm, mm[:, None])  # (B, N, D)
            rows = torch.arange(b, device=x.device)[:, None].expand(b, n)
            out = out.index_put((rows[valid], order[valid]), hm[valid].to(out.dtype))  # back to stream order
        return out, mod


class Decoder(nn.Module):
    """UniT's transformer decoder: `n_layer` blocks and a final LayerNorm. `layer_offset` places its
    layers in a KVCache shared with other decoders (separate decoders per task)."""

    def __init__(self, cfg: UniTConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)

    def memory_kv(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The memory's cross-attention keys and values of each layer, computed once per acting step."""
        return [blk.cross.memory_kv(memory) for blk in self.blocks]

    def forward(self, x: torch.Tensor, memory: list[tuple[torch.Tensor, torch.Tensor]], cross_mask: torch.Tensor,
                self_mask: torch.Tensor | None = None, cache: KVCache | None = None,
                layer_offset: int = 0) -> torch.Tensor:
        for i, (blk, kv) in enumerate(zip(self.blocks, memory)):
            x = blk(x, kv, cross_mask, self_mask, cache, layer_offset + i)  # (B, U, D)
        return self.ln_f(x)


class TaskHeads(nn.Module):
    """A residual D x D linear map per task row before the tied output projection: `h + W_t h + b_t`.

    UniT gives every task its own output head (a classifier, a box regressor). Here every task's outputs
    are ids of the one shared vocabulary (an action field's bins, text), read through the token table
    (tied, as Gato does), so a per-task head of vocabulary size would add V x D parameters a task; a
    D x D map per task lets each task reshape the decoder's state towards its own bins at D / V of that
    (1/48 at nano width over a 6144-id vocabulary)."""

    def __init__(self, cfg: UniTConfig, std: float) -> None:
        super().__init__()
        d = cfg.n_embd
        self.weight = nn.Parameter(torch.randn(cfg.n_task_rows, d, d) * std)  # (R, D, D)
        self.bias = nn.Parameter(torch.zeros(cfg.n_task_rows, d))  # (R, D)

    def forward(self, h: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """(M, D) states of M targets with their task rows (M,) -> (M, D)."""
        y = h
        for r in rows.unique().tolist():
            z = h + h @ self.weight[r].T.to(h.dtype) + self.bias[r].to(h.dtype)  # (M, D)
            y = torch.where((rows == r)[:, None], z, y)
        return y
