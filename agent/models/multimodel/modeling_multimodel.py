"""MultiModel (Kaiser et al. 2017, One Model To Learn Them All) as an encoder-decoder of the zoo.

The paper's parts, at small scale, over the encoder and decoder streams of agent/seq2seq.py:

- **Modality nets**: the shared tokenizer's embeddings, one `TokenInput` (token table, ResNet patch net,
  positions, value input) for both streams; the output head is the token table (tied, as in Gato).
- **Encoder**: n_layer conv blocks (blocks.py: ReLU, separable conv, layer norm, residual; dilated),
  causal within a segment, with a sparsely gated MoE layer (noisy top-k) after the middle block, then an
  attention block: self-attention under the block-causal `enc_self_mask`.
- **I/O mixer**: cross-attention of the decoder positions over the encoded inputs, then a conv block over
  the outputs so far, causal within the decoder chunk (a timestep's action fields).
- **Decoder**: n_layer layers of self-attention (causal within the chunk), cross-attention and an FFN,
  the `dec_moe_layer`-th of them an MoE (t2t's layout: LN(x + self + cross), then LN(x + ffn)).
- **Task token**: decoding starts from a learned embedding of the task (the paper's target-space
  embedding), one row per task of `cfg.tasks` and one shared row for an unknown task (index -1).

Acting re-encodes the window (agent/policy_seq2seq.py) and, because the mixer's convolution needs the
outputs so far, re-runs the decoder over the chunk's tokens so far at each `next_token_logits` (kept in
`cache.state`); a timestep has a few action tokens, so that is a few short passes. MoE capacity applies
in training only: evaluation and acting serve every token, which makes them agree exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from gatosuite.agent.attention import CrossAttention, SelfAttention
from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.contract import transformer_flops_per_token
from gatosuite.agent.kv_cache import EncoderDecoderCache, KVCache
from gatosuite.agent.models.moe.layer import MoELayer
from gatosuite.agent.seq2seq import Seq2SeqBatch, acting_cross_mask, acting_query, split_streams
from gatosuite.agent.token_io import TokenInput, nll_info, target_nll
from gatosuite.tokenization import TokenKind

from .blocks import ConvBlock, DenseFFN, chunk_groups
from .configuration_multimodel import MultiModelConfig

ROUTER = ("w_gate", "w_noise")
"""Parameter name endings of the MoE routers: no weight decay (a decayed router drifts to the uniform gate)."""


class DecoderLayer(nn.Module):
    """Self-attention and cross-attention summed into one residual, then an FFN or an MoE (t2t's layer)."""

    def __init__(self, cfg: MultiModelConfig, moe: bool, out_std: float) -> None:
        super().__init__()
        self.attn = SelfAttention(cfg)
        self.cross = CrossAttention(cfg)
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.ffn: MoELayer | DenseFFN = MoELayer(cfg.moe_config(out_std)) if moe else DenseFFN(
            cfg.n_embd, cfg.ffn, cfg.dropout)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor], self_mask: torch.Tensor,
                cross_mask: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        y = self.attn(x, mask=self_mask)  # (B, U, D)
        z = self.cross(y, memory, cross_mask)  # (B, U, D) the attended outputs query the inputs
        x = self.ln1(x + self.drop(y) + self.drop(z))  # (B, U, D)
        if isinstance(self.ffn, MoELayer):
            f, aux = self.ffn(x, real, use_capacity=self.training)  # (B, U, D)
        else:
            f, aux = self.ffn(x), {}  # (B, U, D)
        return self.ln2(x + f), aux  # (B, U, D)


class MultiModel(nn.Module):
    """`forward(Seq2SeqBatch) -> (logits, loss, info)`; acts through `start` and `next_token_logits`."""

    can_act = True

    def __init__(self, cfg: MultiModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, n = cfg.n_embd, cfg.n_layer
        out_std = 0.02 / math.sqrt(2 * n)  # GPT-2: residual projections scaled by depth
        self.inputs = TokenInput(cfg)  # initialises itself (sinusoidal value rows)
        self.task = nn.Embedding(len(cfg.tasks) + 1, d)  # row 0: an unknown task; row i + 1: cfg.tasks[i]
        conv = dict(d=d, kernel=cfg.kernel_size, large_kernel=cfg.large_kernel_size, dilation=cfg.large_dilation,
                    dropout=cfg.dropout)
        self.enc_convs = nn.ModuleList(ConvBlock(**conv) for _ in range(n))
        self.enc_moe = MoELayer(cfg.moe_config(out_std))
        self.enc_moe_ln = nn.LayerNorm(d)
        self.enc_attn = SelfAttention(cfg)
        self.enc_attn_ln = nn.LayerNorm(d)
        self.mix_cross = CrossAttention(cfg)
        self.mix_ln = nn.LayerNorm(d)
        self.mix_conv = ConvBlock(**conv)
        self.dec = nn.ModuleList(DecoderLayer(cfg, i == cfg.dec_moe_layer, out_std) for i in range(n))
        self.drop = nn.Dropout(cfg.dropout)
        for name, mod in self.named_modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)) and not name.startswith("inputs."):
                nn.init.normal_(mod.weight, mean=0.0, std=0.02)
                if isinstance(mod, nn.Linear) and mod.bias is not None:
                    nn.init.zeros_(mod.bias)
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "cross.proj.weight", "ffn.out.weight")):
                nn.init.normal_(p, mean=0.0, std=out_std)

    # --- the three stages --------------------------------------------------------------------------
    def encode(self, s: Seq2SeqBatch) -> tuple[torch.Tensor, dict[str, Any]]:
        """(B, S, D) encoder memory of the encoder stream, and the MoE layer's aux."""
        x = self.inputs(s.enc)  # (B, S, D)
        group = s.enc_segment  # (B, S) a convolution reads its own segment only (-1: padding)
        aux: dict[str, Any] = {}
        for i, blk in enumerate(self.enc_convs):
            x = blk(x, group)  # (B, S, D)
            if i == self.cfg.encoder_moe:
                y, aux = self.enc_moe(x, s.enc_real, use_capacity=self.training)  # (B, S, D)
                x = self.enc_moe_ln(x + y)  # (B, S, D)
        x = self.enc_attn_ln(x + self.drop(self.enc_attn(x, mask=s.enc_self_mask())))  # (B, S, D)
        return x, aux

    def memory_kv(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The memory's keys and values for the mixer's and each decoder layer's cross-attention."""
        return [self.mix_cross.memory_kv(memory)] + [layer.cross.memory_kv(memory) for layer in self.dec]

    def decode(self, dec: TokenBatch, first: torch.Tensor, task: torch.Tensor, group: torch.Tensor,
               self_mask: torch.Tensor, kv: list[tuple[torch.Tensor, torch.Tensor]], cross_mask: torch.Tensor,
               real: torch.Tensor) -> tuple[torch.Tensor, list[dict[str, Any]]]:
        """(B, U, D) decoder states. `first` (B, U): positions fed the task token of `task` (B, U); `group`
        (B, U): one per chunk, for the mixer's convolution; masks as Seq2SeqBatch gives them."""
        x = self.inputs(dec)  # (B, U, D)
        x = torch.where(first[..., None], self.task(self.task_rows(task)).to(x.dtype), x)  # (B, U, D)
        x = self.mix_ln(x + self.drop(self.mix_cross(x, kv[0], cross_mask)))  # (B, U, D) I/O mixer
        x = self.mix_conv(x, group)  # (B, U, D) causal within the chunk
        auxes = []
        for layer, layer_kv in zip(self.dec, kv[1:]):
            x, aux = layer(x, layer_kv, self_mask, cross_mask, real)  # (B, U, D)
            if aux:
                auxes.append(aux)
        return x, auxes

    def task_rows(self, task: torch.Tensor) -> torch.Tensor:
        """Rows of the task table: i + 1 for a task of the vocabulary, 0 for -1 or anything outside it."""
        known = (task >= 0) & (task < len(self.cfg.tasks))
        return torch.where(known, task + 1, torch.zeros_like(task))

    # --- training ----------------------------------------------------------------------------------
    def forward(self, inputs: Seq2SeqBatch) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """Logits (M, V) at the decoder's targets in row-major order, their mean NLL, and info."""
        s = inputs
        memory, enc_aux = self.encode(s)  # (B, S, D)
        group = chunk_groups(s.dec_segment, s.dec_chunk)  # (B, U)
        h, dec_aux = self.decode(s.dec, s.dec_first, s.dec_task(), group, s.dec_self_mask(),
                                 self.memory_kv(memory), s.cross_mask(), s.dec_real)  # (B, U, D)
        mask = s.dec.target_mask  # (B, U)
        logits = h[mask] @ self.inputs.tok.weight.T  # (M, V)
        if logits.shape[0] == 0:
            return logits, None, {"n_targets": 0}
        kinds = s.target_kinds[mask]  # (M,)
        per_token = target_nll(logits, s.dec.targets[mask], kinds, self.cfg, self.inputs.cont_lo)  # (M,)
        info = nll_info(per_token, kinds)
        info.update(moe_info([a for a in [enc_aux, *dec_aux] if a]))
        return logits, per_token.mean(), info

    # --- acting ------------------------------------------------------------------------------------
    def start(self, context: TokenBatch) -> tuple[torch.Tensor, EncoderDecoderCache]:
        """Encode each row's window; (N, V) logits of the first action token, from the task token."""
        s = split_streams(context)
        memory, _ = self.encode(s)  # (N, S, D)
        _, _, task = acting_query(s)  # (N,)
        n = memory.shape[0]
        cache = EncoderDecoderCache(memory, acting_cross_mask(s), KVCache(len(self.dec), n), task)
        for i, (k, v) in enumerate(self.memory_kv(memory)):
            cache.state[f"k{i}"], cache.state[f"v{i}"] = k, v
        dev = memory.device
        cache.state["ids"] = torch.zeros((n, 0), dtype=torch.long, device=dev)
        cache.state["kinds"] = torch.zeros((n, 0), dtype=torch.uint8, device=dev)
        cache.state["local_pos"] = torch.zeros((n, 0), dtype=torch.long, device=dev)
        return self._decode_last(cache), cache

    def next_token_logits(self, batch: TokenBatch, cache: EncoderDecoderCache) -> torch.Tensor:
        """Feed each row's chosen token (N, 1) at decoder position `cache.decoder.length`; (N, V) logits of
        the next one, from a pass over the chunk's tokens so far."""
        st = cache.state
        for key in ("ids", "kinds", "local_pos"):
            st[key] = torch.cat([st[key], getattr(batch, key).to(st[key].device, st[key].dtype)], dim=1)
        return self._decode_last(cache)

    def _decode_last(self, cache: EncoderDecoderCache) -> torch.Tensor:
        """The decoder over [task token, fed tokens...] of each row; logits (N, V) at the last position."""
        st = cache.state
        n, k = st["ids"].shape
        u, dev = k + 1, cache.memory.device
        pad = lambda fill, like: torch.full((n, 1), fill, dtype=like.dtype, device=dev)  # noqa: E731
        empty = torch.zeros((0,), device=dev)
        dec = TokenBatch(ids=torch.cat([pad(0, st["ids"]), st["ids"]], 1),
                         kinds=torch.cat([pad(TokenKind.PAD, st["kinds"]), st["kinds"]], 1),
                         local_pos=torch.cat([pad(-1, st["local_pos"]), st["local_pos"]], 1),
                         targets=torch.zeros((n, u), dtype=torch.long, device=dev),
                         target_mask=torch.zeros((n, u), dtype=torch.bool, device=dev),
                         patches=empty.view(0, 3, 16, 16), patch_slot=empty.long(), patch_rows=empty.view(0, 2),
                         patch_cols=empty.view(0, 2),
                         positions=torch.arange(u, device=dev).expand(n, u))  # (N, U)
        first = torch.zeros((n, u), dtype=torch.bool, device=dev)
        first[:, 0] = True
        task = cache.task_index if cache.task_index is not None else torch.full((n,), -1, device=dev)
        causal = torch.ones(u, u, dtype=torch.bool, device=dev).tril()[None, None].expand(n, 1, u, u)
        kv = [(st[f"k{i}"], st[f"v{i}"]) for i in range(len(self.dec) + 1)]
        h, _ = self.decode(dec, first, task[:, None].expand(n, u), torch.zeros((n, u), dtype=torch.long, device=dev),
                           causal, kv, cache.memory_mask[:, None, None, :], torch.ones_like(first))  # (N, U, D)
        cache.decoder.advance(u - cache.decoder.length)
        return h[:, -1] @ self.inputs.tok.weight.T  # (N, V)

    # --- costs and optimizer -----------------------------------------------------------------------
    def _is_table(self, name: str) -> bool:
        """An embedding table: the token input's tables and the task tokens."""
        parts = name.split(".")
        return parts[0] == "task" or (parts[0] == "inputs" and parts[1] in TokenInput.TABLES)

    def num_parameters(self, non_embedding: bool = True) -> int:
        return sum(p.numel() for name, p in self.named_parameters() if not (non_embedding and self._is_table(name)))

    def _moe_layers(self) -> list[MoELayer]:
        return [m for m in self.modules() if isinstance(m, MoELayer)]

    def active_parameters(self, non_embedding: bool = True) -> int:
        """Parameters acting on one token: an MoE layer counts its router and top_k of its experts."""
        n = self.num_parameters(non_embedding)
        for moe in self._moe_layers():
            per_expert = sum(p[0].numel() for p in (moe.w_in, moe.b_in, moe.w_out, moe.b_out))
            n -= (moe.cfg.n_experts - moe.cfg.top_k) * per_expert
        return n

    def flops_per_token(self, window: int) -> float:
        """Training FLOPs per token, an upper bound: agent/contract.py's 6 N + 12 L D T with N every active
        parameter (each depthwise tap is one multiply-accumulate per token, as a matmul weight is) and L the
        attention layers (the encoder's, the mixer's and two per decoder layer), as if every token passed
        through encoder and decoder. In fact only target tokens (a fifth of a CartPole window) reach the
        decoder, so the true cost is lower."""
        n_attn = 2 + 2 * len(self.dec)
        return transformer_flops_per_token(self.active_parameters(), n_attn, self.cfg.n_embd, window)

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups: decay on matrices (convolution kernels and experts included), not on embedding
        tables, norms, biases or routers."""
        def decays(name: str, p: torch.nn.Parameter) -> bool:
            return p.ndim >= 2 and not self._is_table(name) and not name.endswith(ROUTER)

        decay = [p for n, p in self.named_parameters() if decays(n, p)]
        keep = [p for n, p in self.named_parameters() if not decays(n, p)]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]


def moe_info(auxes: list[dict[str, Any]]) -> dict[str, Any]:
    """info entries of the MoE layers: their summed balance losses as aux_loss, and mean statistics."""
    if not auxes:
        return {}
    info: dict[str, Any] = {"aux_loss": sum(a["aux_loss"] for a in auxes)}
    for key in ("router_entropy", "dropped_frac", "importance_loss", "load_loss", "switch_loss"):
        vals = [a[key] for a in auxes if key in a]
        if vals:
            info[f"moe/{key}"] = sum(vals) / len(vals)
    return info
