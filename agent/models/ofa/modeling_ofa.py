"""The OFA-style encoder-decoder (Wang et al. 2022) over the suite's unified vocabulary.

OFA casts every task as sequence to sequence: an instruction in words plus the inputs go into a pre-norm
Transformer encoder, and a pre-norm decoder emits the answer's tokens from one vocabulary of text, image
codes and location bins, its output head tied to the token table. Here:

- one `TokenInput` (agent/token_io.py) embeds both streams, so an action id means the same to the encoder
  and the decoder, and the head is `tok.weight`;
- the encoder stream is `instruct(split_streams(batch))` (agent/models/ofa/instructions.py): each
  segment's instruction, then its observations (missions, patches, values, separators), under the
  block-causal `enc_self_mask`; instruction tokens get their own position table;
- the decoder emits a timestep's action tokens: position 0 is fed BOS (OFA's decoder starts from BOS),
  position k the action k-1 (teacher forcing), under `dec_self_mask`, reading the encoder through
  `cross_mask`;
- as in OFA's configurations (`layernorm_embedding`), a LayerNorm sits on each stream's embeddings.

Acting (`start`, `next_token_logits`) re-encodes the window and decodes one field at a time through a
KVCache, the memory's cross-attention keys and values computed once per step (agent/policy_seq2seq.py
restricts each field's choice to its own ids).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn

from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.kv_cache import EncoderDecoderCache, KVCache
from gatosuite.agent.seq2seq import Seq2SeqBatch, acting_query, split_streams, start_position
from gatosuite.agent.token_io import TokenInput, nll_info, target_nll
from gatosuite.agent.transformer_blocks import DecoderBlock, EncoderBlock

from .configuration_ofa import OFAConfig
from .instructions import InstructedBatch, instruct

EMBEDDINGS = tuple(f"inp.{t}" for t in TokenInput.TABLES) + ("inst_pos",)
"""Parameter-name prefixes of embedding tables (no weight decay; not counted as non-embedding)."""


class OFAModel(nn.Module):
    """`forward(InstructedBatch) -> (logits, loss, info)` (agent/contract.py), and Seq2SeqActing."""

    can_act = True
    """Acts through Seq2SeqPolicy (agent/policy_seq2seq.py)."""

    def __init__(self, cfg: OFAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.n_embd
        self.inp = TokenInput(cfg)  # initialises itself (N(0, 0.02), sinusoidal value rows)
        self.inst_pos = nn.Embedding(cfg.max_instruction_tokens, d)
        self.ln_enc_emb, self.ln_dec_emb = nn.LayerNorm(d), nn.LayerNorm(d)
        self.enc_blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.n_layer))
        self.dec_blocks = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.n_dec_layer))
        self.ln_enc, self.ln_dec = nn.LayerNorm(d), nn.LayerNorm(d)
        self.bos = cfg.vocab_size - 3  # Vocabulary's specials: separator, bos, eos, pad (the last four ids)
        for name, mod in self.named_modules():
            if name.startswith(("enc_blocks", "dec_blocks")) and isinstance(mod, nn.Linear):  # GPT-2 init
                nn.init.normal_(mod.weight, mean=0.0, std=0.02)
                nn.init.zeros_(mod.bias)
        nn.init.normal_(self.inst_pos.weight, mean=0.0, std=0.02)
        for name, p in self.named_parameters():  # residual projections scaled by each stack's residual count
            if name.endswith(("attn.proj.weight", "cross.proj.weight", "ffn.out.weight")):
                branches = 2 * cfg.n_layer if name.startswith("enc_blocks") else 3 * cfg.n_dec_layer
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(branches))

    # --- costs and optimizer ------------------------------------------------------------------------------
    def _is_embedding(self, name: str) -> bool:
        return name.startswith(tuple(e + "." for e in EMBEDDINGS))

    def num_parameters(self, non_embedding: bool = True) -> int:
        return sum(p.numel() for n, p in self.named_parameters() if not (non_embedding and self._is_embedding(n)))

    def active_parameters(self, non_embedding: bool = True) -> int:
        """Dense: every parameter is active (a token passes only one of the two stacks, see flops_per_token)."""
        return self.num_parameters(non_embedding)

    def stack_parameters(self) -> tuple[int, int]:
        """Non-embedding parameters of the encoder stack and of the decoder stack (final norms included)."""
        enc = sum(p.numel() for n, p in self.named_parameters() if n.startswith(("enc_blocks.", "ln_enc.")))
        dec = sum(p.numel() for n, p in self.named_parameters() if n.startswith(("dec_blocks.", "ln_dec.")))
        return enc, dec

    def flops_per_token(self, window: int) -> float:
        """Training FLOPs per token, an upper bound of our own: a token passes one stack, so it is priced as
        a decoder token (the costlier stack, with its cross-attention): 6 x the decoder's parameters plus
        12 L D T for its self- and cross-attention over a window of T. Most tokens are encoder context and
        cost less; the patch ResNet is left out, as agent/contract.py's estimate leaves it out for Gato."""
        _, dec = self.stack_parameters()
        return 6.0 * dec + 12.0 * self.cfg.n_dec_layer * self.cfg.n_embd * window

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups: decay on matrices, none on norms, biases and embedding tables."""
        decays = {n: p.ndim >= 2 and not self._is_embedding(n) for n, p in self.named_parameters()}
        return [{"params": [p for n, p in self.named_parameters() if decays[n]], "weight_decay": weight_decay},
                {"params": [p for n, p in self.named_parameters() if not decays[n]], "weight_decay": 0.0}]

    # --- the two stacks -------------------------------------------------------------------------------------
    def encode(self, s: InstructedBatch) -> torch.Tensor:
        """(B, S, D) encoder states: the instruction block (token table + instruction positions) and the
        context stream (the shared TokenInput), under the block-causal mask."""
        p = s.instruction_slots
        inst = self.inp.tok(s.enc.ids[:, :p]) + self.inst_pos(s.enc.positions[:, :p].clamp(min=0))  # (B, P, D)
        x = torch.cat([self.inp.drop(inst), self.inp(s.context_stream())], dim=1)  # (B, S, D)
        x = self.ln_enc_emb(x)
        mask = s.enc_self_mask()  # (B, 1, S, S)
        for blk in self.enc_blocks:
            x = blk(x, mask)
        return self.ln_enc(x)

    def _dec_input(self, dec: TokenBatch, first: torch.Tensor) -> torch.Tensor:
        """(B, U, D) decoder input embeddings: BOS where a chunk starts, the fed tokens elsewhere."""
        ids = torch.where(first, torch.full_like(dec.ids, self.bos), dec.ids)  # (B, U)
        return self.ln_dec_emb(self.inp(dataclasses.replace(dec, ids=ids)))

    def forward(self, inputs: Seq2SeqBatch) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """Logits (M, V) at the decoder's M targets in row-major order, their mean NLL, and info. A plain
        Seq2SeqBatch (the shared adapter's) gets the instructions here, so it means the same."""
        s = inputs if isinstance(inputs, InstructedBatch) else instruct(inputs, self.cfg)
        memory = self.encode(s)  # (B, S, D)
        y = self._dec_input(s.dec, s.dec_first)  # (B, U, D)
        self_mask, cross_mask = s.dec_self_mask(), s.cross_mask()  # (B, 1, U, U), (B, 1, U, S)
        for blk in self.dec_blocks:
            y = blk(y, memory, cross_mask, self_mask)
        h = self.ln_dec(y)  # (B, U, D)
        mask = s.dec.target_mask  # (B, U)
        logits = h[mask] @ self.inp.tok.weight.T  # (M, V)
        if logits.shape[0] == 0:
            return logits, None, {"n_targets": 0}
        kinds = s.target_kinds[mask]  # (M,)
        per_token = target_nll(logits, s.dec.targets[mask], kinds, self.cfg, self.inp.cont_lo)  # (M,)
        return logits, per_token.mean(), nll_info(per_token, kinds)

    # --- acting (Seq2SeqActing) -----------------------------------------------------------------------------
    def start(self, context: TokenBatch) -> tuple[torch.Tensor, EncoderDecoderCache]:
        """Encode each row's window (its instruction first) and decode the first action token; (N, V)."""
        split = split_streams(context)
        chunk, segment, task = acting_query(split)  # (N,) of the action to decode
        s = instruct(split, self.cfg)
        memory = self.encode(s)  # (N, S, D)
        mem_mask = s.enc_real & (s.enc_segment == segment[:, None]) & (s.enc_chunk <= chunk[:, None])  # (N, S)
        n = memory.shape[0]
        cache = EncoderDecoderCache(memory, mem_mask, KVCache(self.cfg.n_dec_layer, n), task)
        for i, blk in enumerate(self.dec_blocks):  # the memory's keys and values, once per step
            cache.state[f"k{i}"], cache.state[f"v{i}"] = blk.cross.memory_kv(memory)
        dev = memory.device
        first = start_position(context, self.bos)
        return self._step(first, torch.ones((n, 1), dtype=torch.bool, device=dev), cache), cache

    def next_token_logits(self, batch: TokenBatch, cache: EncoderDecoderCache) -> torch.Tensor:
        """Feed each row's chosen token (N, 1) at decoder position `cache.decoder.length`; (N, V) logits."""
        return self._step(batch, torch.zeros_like(batch.ids, dtype=torch.bool), cache)

    def _step(self, tokens: TokenBatch, first: torch.Tensor, cache: EncoderDecoderCache) -> torch.Tensor:
        """One decoder position for every row, through the caches; (N, V) logits of the next token."""
        n = tokens.ids.shape[0]
        pos = torch.full((n, 1), cache.decoder.length, dtype=torch.long, device=tokens.ids.device)
        y = self._dec_input(dataclasses.replace(tokens, positions=pos), first)  # (N, 1, D)
        cross = cache.memory_mask[:, None, None, :]  # (N, 1, 1, S)
        for i, blk in enumerate(self.dec_blocks):
            y = blk(y, (cache.state[f"k{i}"], cache.state[f"v{i}"]), cross, cache=cache.decoder, layer=i)
        cache.decoder.advance(1)
        return self.ln_dec(y)[:, -1] @ self.inp.tok.weight.T  # (N, V)
