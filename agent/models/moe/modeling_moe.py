"""A decoder-only transformer whose FFNs are (in part) Mixtures of Experts, on Gato's embeddings.

It is GatoModel with MoE blocks swapped in: the same TokenBatch in, the same KV cache, so it acts through
the same policy. Each MoE block routes the real (non-padding) tokens of the batch; the blocks' balance
losses add up to info['aux_loss'], and their routing statistics are logged by the trainer (info keys
`moe/...`, with the per-expert load as `moe/load/<i>`, the share of routed assignments per expert).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from gatosuite.agent.attention import SelfAttention
from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.kv_cache import KVCache
from gatosuite.agent.models.gato.modeling_gato import GatoModel
from gatosuite.tokenization import TokenKind

from .configuration_moe import MoETransformerConfig
from .layer import MoELayer


class MoEBlock(nn.Module):
    """Pre-norm attention, then an MoE FFN; `real` (B, T) marks the tokens to route (set per batch)."""

    def __init__(self, cfg: MoETransformerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.moe = MoELayer(cfg.layer_config(cfg.n_layer))
        self.drop = nn.Dropout(cfg.dropout)
        self.real: torch.Tensor | None = None
        self.aux: dict[str, Any] = {}

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0,
                mask: torch.Tensor | None = None) -> torch.Tensor:  # (B, T, D)
        x = x + self.drop(self.attn(self.ln1(x), cache, layer, mask))  # (B, T, D)
        y, self.aux = self.moe(self.ln2(x), self.real, use_capacity=cache is None)  # (B, T, D)
        return x + y  # (B, T, D)


class MoETransformer(GatoModel):
    """`forward(batch) -> (logits, loss, info)` with info['aux_loss'] the blocks' summed balance losses."""

    def __init__(self, cfg: MoETransformerConfig) -> None:
        super().__init__(cfg)
        for i in range(cfg.n_layer):
            if cfg.is_moe(i):
                blk = MoEBlock(cfg)  # the MoE layer initializes itself (zero gate, scaled expert outputs)
                blk.attn.apply(self._init)
                nn.init.normal_(blk.attn.proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))
                self.blocks[i] = blk

    def _moe_blocks(self) -> list[MoEBlock]:
        return [b for b in self.blocks if isinstance(b, MoEBlock)]

    def hidden(self, batch: TokenBatch, cache: KVCache | None = None) -> torch.Tensor:
        real = batch.kinds != TokenKind.PAD  # (B, T): padding is not routed
        for blk in self._moe_blocks():
            blk.real = real
        return super().hidden(batch, cache)

    def forward(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        logits, loss, info = super().forward(batch)
        blocks = self._moe_blocks()
        auxes = [b.aux for b in blocks if b.aux]
        if not auxes:
            return logits, loss, info
        info["aux_loss"] = sum(a["aux_loss"] for a in auxes)
        for key in ("router_entropy", "dropped_frac", "importance_loss", "load_loss", "switch_loss"):
            vals = [a[key] for a in auxes if key in a]
            if vals:
                info[f"moe/{key}"] = sum(vals) / len(vals)
        load = torch.tensor([a["expert_load"] for a in auxes], dtype=torch.float64).sum(0)  # (E,)
        for i, share in enumerate((load / load.sum().clamp_min(1)).tolist()):
            info[f"moe/load/{i}"] = share
        return logits, loss, info

    def active_parameters(self, non_embedding: bool = True) -> int:
        """Parameters acting on one token: the MoE layers count their router and top_k of their experts."""
        n = self.num_parameters(non_embedding)
        cfg = self.cfg
        for blk in self._moe_blocks():
            per_expert = sum(p[0].numel() for p in (blk.moe.w_in, blk.moe.b_in, blk.moe.w_out, blk.moe.b_out))
            n -= (cfg.n_experts - cfg.top_k) * per_expert
        return n

    def _decays(self, name: str, p: torch.nn.Parameter) -> bool:
        """Gato's rule (experts' weights included), but not the router's: a decayed router drifts to the
        uniform gate."""
        return super()._decays(name, p) and not name.endswith(("w_gate", "w_noise"))
