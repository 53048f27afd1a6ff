"""UniT (Hu & Singh 2021, UniT: Multimodal Multitask Learning with a Unified Transformer) as an
encoder-decoder of the zoo.

The paper's parts, at small scale, over the encoder and decoder streams of agent/seq2seq.py:

- **Modality encoders** (encoders.py, `ModalityEncoders`): the shared `TokenInput` embeds every token
  (token table, patch ResNet, positions, value input); then each modality (image patches, text,
  values) has its own transformer encoder over its own tokens, under the block-causal mask.
- **Concatenated memory** (`UniTModel.encode`): the encoders' outputs back in stream order, each plus a
  learned modality embedding, form the memory the decoder reads (UniT concatenates the image and text
  encoders' hidden states).
- **Shared decoder with task queries** (encoders.py, `Decoder`; `UniTModel.decoder_input`): decoder
  position k of a chunk is query `q[task, min(k, n_queries - 1)]`; the queries attend to each other,
  causally within the chunk, and to the memory through cross-attention. With `shared_decoder=False`
  each task has its own decoder (the paper's ablation).
- **Per-task heads** (encoders.py, `TaskHeads`): a residual D x D map per task before the output
  projection, which is tied to the token table.

Departure from UniT: UniT's decoder is fed its queries only. This suite's targets include text (captions,
language modelling) and multi-field actions decoded field by field, so each query position also adds
the embedding of the chunk's token fed at that position (teacher forcing, `dec.ids`); the first position
of a chunk is the query alone. Under the default recipe (masked action inputs) every fed action enters as
the same learned PAD embedding, so for actions the decoder is query-only, as in UniT.

Acting (`start`, `next_token_logits`) re-encodes the window (agent/policy_seq2seq.py) and decodes one
field at a time through a KVCache, with each decoder's cross-attention keys and values computed once.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn

from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.kv_cache import EncoderDecoderCache, KVCache
from gatosuite.agent.seq2seq import (
    Seq2SeqBatch,
    acting_cross_mask,
    acting_query,
    select_positions,
    split_streams,
    start_position,
)
from gatosuite.agent.token_io import TokenInput, nll_info, target_nll

from .configuration_unit import MODALITIES, UniTConfig
from .encoders import Decoder, ModalityEncoders, TaskHeads

EMBEDDINGS = tuple(f"inputs.{t}." for t in TokenInput.TABLES) + ("queries.", "modality.")
"""Parameter-name prefixes of embedding tables (no weight decay; not counted as non-embedding)."""


class UniTModel(nn.Module):
    """`forward(Seq2SeqBatch) -> (logits, loss, info)` (agent/contract.py), and Seq2SeqActing."""

    can_act = True
    """Acts through Seq2SeqPolicy (agent/policy_seq2seq.py)."""

    def __init__(self, cfg: UniTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, rows = cfg.n_embd, cfg.n_task_rows
        self.inputs = TokenInput(cfg)  # initialises itself (N(0, 0.02), sinusoidal value rows)
        self.encoders = ModalityEncoders(cfg)
        self.modality = nn.Embedding(len(MODALITIES), d)
        self.queries = nn.Embedding(rows * cfg.n_queries, d)  # row r * n_queries + k: task row r, query k
        self.decoders = nn.ModuleList(Decoder(cfg) for _ in range(1 if cfg.shared_decoder else rows))
        dec_std = 0.02 / math.sqrt(3 * cfg.n_layer)  # GPT-2: residual projections scaled by depth
        for name, mod in self.named_modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)) and not name.startswith("inputs."):
                nn.init.normal_(mod.weight, mean=0.0, std=0.02)
                if isinstance(mod, nn.Linear) and mod.bias is not None:
                    nn.init.zeros_(mod.bias)
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "cross.proj.weight", "ffn.out.weight")):
                std = dec_std if name.startswith("decoders.") else 0.02 / math.sqrt(2 * cfg.enc_layers)
                nn.init.normal_(p, mean=0.0, std=std)
        self.heads = TaskHeads(cfg, dec_std)  # a residual branch too

    # --- the stages ----------------------------------------------------------------------------------------
    def encode(self, s: Seq2SeqBatch) -> torch.Tensor:
        """(B, S, D) memory: each modality's encoder outputs in stream order plus its modality embedding."""
        states, mod = self.modality_states(s)  # (B, S, D), (B, S)
        return states + self.modality(mod).to(states.dtype)  # (B, S, D)

    def modality_states(self, s: Seq2SeqBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, S, D) each encoder token's state from its own modality's encoder (before the concatenation's
        modality embedding), and (B, S) the modality of each token."""
        return self.encoders(self.inputs(s.enc), s)

    def task_rows(self, task: torch.Tensor) -> torch.Tensor:
        """Rows of the per-task tables: i + 1 for a task of the vocabulary, 0 for -1 or anything outside it."""
        known = (task >= 0) & (task < len(self.cfg.tasks))
        return torch.where(known, task + 1, torch.zeros_like(task))

    def decoder_input(self, dec: TokenBatch, first: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """(B, U, D): query q[row, min(k, n_queries - 1)] at chunk position k (`dec.positions`), plus the fed
        token's embedding where the position is not a chunk's first (see the module docstring)."""
        k = dec.positions.clamp(max=self.cfg.n_queries - 1)  # (B, U)
        q = self.queries(rows * self.cfg.n_queries + k)  # (B, U, D)
        fed = self.inputs(dec)  # (B, U, D)
        return q.to(fed.dtype) + torch.where(first[..., None], torch.zeros_like(fed), fed)  # (B, U, D)

    def decoders_for(self, rows: torch.Tensor) -> list[int]:
        """The decoders the given task rows use: the shared one, or each present task's own."""
        return [0] if self.cfg.shared_decoder else sorted(rows.unique().tolist())

    def decode(self, x: torch.Tensor, rows: torch.Tensor, real: torch.Tensor, memory: Any,
               cross_mask: torch.Tensor, self_mask: torch.Tensor | None = None,
               cache: KVCache | None = None) -> torch.Tensor:
        """(B, U, D) decoder states: each position through its task's decoder (the shared one, or its
        own); `memory` maps a decoder index to its layers' memory keys and values."""
        used = self.decoders_for(rows[real] if real.any() else rows[:0])
        if not used:
            return torch.zeros_like(x)
        if len(used) > 1 and cache is None and self_mask is not None:
            return self._decode_gathered(x, rows, real, memory, cross_mask, self_mask, used)
        h = None
        for r in used:
            y = self.decoders[r](x, memory[r], cross_mask, self_mask, cache, r * self.cfg.n_layer)  # (B, U, D)
            h = y if h is None else torch.where((rows == r)[..., None], y, h)
        return h

    def _decode_gathered(self, x: torch.Tensor, rows: torch.Tensor, real: torch.Tensor, memory: Any,
                         cross_mask: torch.Tensor, self_mask: torch.Tensor, used: list[int]) -> torch.Tensor:
        """Separate decoders in training: each decoder runs over its own task's positions only, gathered
        out of the stream with their masks (a chunk is one task's, so nothing it may read is left out)."""
        b, u, d = x.shape
        h = torch.zeros_like(x)  # (B, U, D)
        for r in used:
            order, valid, _ = select_positions((rows == r) & real)  # (B, N)
            n = order.shape[1]
            xr = x.gather(1, order[..., None].expand(b, n, d))  # (B, N, D)
            sm = self_mask[:, 0].gather(1, order[:, :, None].expand(b, n, u))  # (B, N, U)
            sm = sm.gather(2, order[:, None, :].expand(b, n, n))  # (B, N, N)
            sm = (sm & valid[:, None, :] & valid[:, :, None]) | torch.eye(n, dtype=torch.bool, device=x.device)
            cm = cross_mask[:, 0].gather(1, order[:, :, None].expand(b, n, cross_mask.shape[-1])).clone()  # (B, N, S)
            cm[:, :, 0] |= ~valid  # filler slots: one harmless key, as seq2seq.cross_mask gives padding
            y = self.decoders[r](xr, memory[r], cm[:, None], sm[:, None])  # (B, N, D)
            idx = torch.arange(b, device=x.device)[:, None].expand(b, n)
            h = h.index_put((idx[valid], order[valid]), y[valid].to(h.dtype))  # back to their stream positions
        return h

    # --- training ------------------------------------------------------------------------------------------
    def forward(self, inputs: Seq2SeqBatch) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """Logits (M, V) at the decoder's M targets in row-major order, their mean NLL, and info."""
        s = inputs
        memory = self.encode(s)  # (B, S, D)
        rows = self.task_rows(s.dec_task())  # (B, U)
        x = self.decoder_input(s.dec, s.dec_first, rows)  # (B, U, D)
        kv = {r: self.decoders[r].memory_kv(memory) for r in self.decoders_for(rows[s.dec_real])}
        h = self.decode(x, rows, s.dec_real, kv, s.cross_mask(), s.dec_self_mask())  # (B, U, D)
        mask = s.dec.target_mask  # (B, U)
        z = self.heads(h[mask], rows[mask])  # (M, D)
        logits = z @ self.inputs.tok.weight.T.to(z.dtype)  # (M, V)
        if logits.shape[0] == 0:
            return logits, None, {"n_targets": 0}
        kinds = s.target_kinds[mask]  # (M,)
        per_token = target_nll(logits, s.dec.targets[mask], kinds, self.cfg, self.inputs.cont_lo)  # (M,)
        return logits, per_token.mean(), nll_info(per_token, kinds)

    # --- acting (Seq2SeqActing) ----------------------------------------------------------------------------
    def start(self, context: TokenBatch) -> tuple[torch.Tensor, EncoderDecoderCache]:
        """Encode each row's window and decode the first action token from the task's first query; (N, V)."""
        s = split_streams(context)
        memory = self.encode(s)  # (N, S, D)
        _, _, task = acting_query(s)  # (N,)
        n, dev = memory.shape[0], memory.device
        rows = self.task_rows(task)  # (N,)
        cache = EncoderDecoderCache(memory, acting_cross_mask(s), KVCache(self.cfg.n_layer * len(self.decoders), n),
                                    task)
        cache.state["rows"] = rows
        for r in self.decoders_for(rows):  # the memory's keys and values, once per step
            for i, (k, v) in enumerate(self.decoders[r].memory_kv(memory)):
                cache.state[f"k{r}_{i}"], cache.state[f"v{r}_{i}"] = k, v
        first = start_position(context)
        return self._step(first, torch.ones((n, 1), dtype=torch.bool, device=dev), cache), cache

    def next_token_logits(self, batch: TokenBatch, cache: EncoderDecoderCache) -> torch.Tensor:
        """Feed each row's chosen token (N, 1) at decoder position `cache.decoder.length`; (N, V) logits."""
        return self._step(batch, torch.zeros_like(batch.ids, dtype=torch.bool), cache)

    def _step(self, tokens: TokenBatch, first: torch.Tensor, cache: EncoderDecoderCache) -> torch.Tensor:
        """One decoder position for every row, through the caches; (N, V) logits of the next token."""
        n = tokens.ids.shape[0]
        rows = cache.state["rows"]  # (N,)
        pos = torch.full((n, 1), cache.decoder.length, dtype=torch.long, device=tokens.ids.device)
        x = self.decoder_input(dataclasses.replace(tokens, positions=pos), first, rows[:, None])  # (N, 1, D)
        kv = {r: [(cache.state[f"k{r}_{i}"], cache.state[f"v{r}_{i}"]) for i in range(self.cfg.n_layer)]
              for r in self.decoders_for(rows)}
        h = self.decode(x, rows[:, None], torch.ones_like(first), kv, cache.memory_mask[:, None, None, :],
                        cache=cache.decoder)  # (N, 1, D)
        cache.decoder.advance(1)
        z = self.heads(h[:, -1], rows)  # (N, D)
        return z @ self.inputs.tok.weight.T.to(z.dtype)  # (N, V)

    # --- costs and optimizer -------------------------------------------------------------------------------
    def _is_embedding(self, name: str) -> bool:
        return name.startswith(EMBEDDINGS)

    def num_parameters(self, non_embedding: bool = True) -> int:
        return sum(p.numel() for n, p in self.named_parameters() if not (non_embedding and self._is_embedding(n)))

    def decoder_parameters(self) -> int:
        """Parameters of one decoder (its blocks and final norm)."""
        return sum(p.numel() for p in self.decoders[0].parameters())

    def encoder_parameters(self) -> int:
        """Parameters of one modality encoder."""
        return sum(p.numel() for p in next(iter(self.encoders.encoders.values())).parameters())

    def head_parameters(self) -> int:
        """Parameters of one task's head."""
        return self.cfg.n_embd * self.cfg.n_embd + self.cfg.n_embd

    def active_parameters(self, non_embedding: bool = True) -> int:
        """Parameters one task's window uses: everything but the other task rows' heads (and, without a
        shared decoder, their decoders); the patch ResNet counts, as in every family."""
        others = self.cfg.n_task_rows - 1
        unused = others * self.head_parameters()
        if not self.cfg.shared_decoder:
            unused += others * self.decoder_parameters()
        return self.num_parameters(non_embedding) - unused

    def flops_per_token(self, window: int) -> float:
        """Training FLOPs per token, an upper bound of our own: priced as if every token passed one modality
        encoder and then the decoder and a head: 6 x those parameters, plus 12 L D T over a window of T with
        L the encoder's self-attention layers and two per decoder layer (self and cross). In fact an encoder
        token passes only its encoder and a decoder token only the decoder; the patch ResNet is left out, as
        agent/contract.py's estimate leaves it out for Gato."""
        n = self.encoder_parameters() + self.decoder_parameters() + self.head_parameters()
        n_attn = self.cfg.enc_layers + 2 * self.cfg.n_layer
        return 6.0 * n + 12.0 * n_attn * self.cfg.n_embd * window

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups: decay on matrices (the heads' included), none on norms, biases (the heads' (R, D)
        ones too), embedding tables and the task queries."""
        decays = {n: p.ndim >= 2 and not self._is_embedding(n) and not n.endswith("bias")
                  for n, p in self.named_parameters()}
        return [{"params": [p for n, p in self.named_parameters() if decays[n]], "weight_decay": weight_decay},
                {"params": [p for n, p in self.named_parameters() if not decays[n]], "weight_decay": 0.0}]
