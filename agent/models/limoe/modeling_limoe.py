"""LIMoE (Mustafa et al. 2022, "Multimodal Contrastive Learning with LIMoE"): one encoder for images and
text, with Mixture-of-Experts FFNs, trained by a contrastive loss.

Both modalities go through the same transformer in one call (their own input embeddings: Gato's ResNet
patch block for frames, the token table for text), so their tokens compete for the same experts. Each
side is mean-pooled over its real tokens and projected into a shared space; the loss is CLIP's symmetric
InfoNCE, where every pair of the batch with the same text or the same frame counts as a positive.

On top of the router's Switch balance loss, LIMoE's two entropy losses act per modality m, on p(x), the
router's softmax over experts for token x:
- local: mean over m's tokens of H(p(x)), minimised, so that each token commits to an expert;
- global: max(0, tau - H(mean over m's tokens of p(x))), so that m as a whole spreads over at least
  exp(tau) experts instead of collapsing onto one or two (the fate of the minority modality without it).
With batch-priority routing, the tokens the router is surest of keep their expert when it overflows.

It cannot act: `can_act = False`, and make_policy refuses it.
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
from gatosuite.agent.embeddings import PatchEmbedding, position_bins
from gatosuite.agent.models.moe.layer import MoELayer
from gatosuite.agent.pairs import Pairs, extract_pairs

from .configuration_limoe import LIMoEConfig


def pairs_adapter(batch: TokenBatch, cfg: LIMoEConfig) -> Pairs:
    """LIMoE's batch adapter (agent/contract.py): the (image, text) pairs of a TokenBatch."""
    return extract_pairs(batch, cfg.max_tokens)

MODALITIES = ("image", "text")
EMBEDDINGS = ("tok.", "pos.", "row.", "col.", "modality.")
"""Name prefixes of the input embedding tables (no weight decay; left out of non-embedding counts)."""
USED_SHARE = 0.02
"""An expert counts as used by a modality when it receives at least this share of the modality's tokens."""


class EncoderBlock(nn.Module):
    """Pre-norm bidirectional attention over each sequence's real tokens, then a dense or MoE FFN."""

    def __init__(self, cfg: LIMoEConfig, moe: bool) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.moe = MoELayer(cfg.layer_config()) if moe else None
        if self.moe is None:
            self.fc, self.out = nn.Linear(cfg.n_embd, cfg.ffn), nn.Linear(cfg.ffn, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, dict[str, Any]]:
        """x (N, L, D), real (N, L) bool -> (N, L, D) and the MoE layer's aux ({} for a dense block)."""
        x = x + self.drop(self.attn(self.ln1(x), mask=real[:, None, None, :]))  # (N, L, D)
        if self.moe is None:
            return x + self.drop(self.out(F.gelu(self.fc(self.ln2(x))))), {}
        # capacity in training (batch priority decides who is dropped); at inference every token is served
        y, aux = self.moe(self.ln2(x), real, use_capacity=self.training)  # (N, L, D)
        return x + y, aux


class LIMoE(nn.Module):
    """`forward(batch) -> (logits, loss, info)`: logits (S, S) image-to-text similarities of the batch's S
    pairs, the contrastive loss, and info with aux_loss (balance + entropy losses) and routing per modality."""

    can_act = False
    MODALITIES = MODALITIES
    """The token modalities it routes, in the order of its routing statistics."""
    USED_SHARE = USED_SHARE
    """The share of a modality's tokens at which an expert counts as used by it (evaluation/contrastive.py)."""

    def __init__(self, cfg: LIMoEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.n_embd
        self.tok = nn.Embedding(cfg.vocab_size, d)
        self.patch = PatchEmbedding(cfg.patch_channels, d)
        self.row = nn.Embedding(cfg.position_bins, d)
        self.col = nn.Embedding(cfg.position_bins, d)
        self.pos = nn.Embedding(cfg.max_tokens, d)
        self.modality = nn.Embedding(len(MODALITIES), d)
        self.blocks = nn.ModuleList(EncoderBlock(cfg, cfg.is_moe(i)) for i in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(cfg.temperature_init)))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for blk in self.blocks:  # GPT-2's depth scaling of the residual projections (experts do their own)
            nn.init.normal_(blk.attn.proj.weight, std=0.02 / math.sqrt(2 * cfg.n_layer))
            if blk.moe is None:  # (an MoE layer's experts are Parameters, untouched by the loop above)
                nn.init.normal_(blk.out.weight, std=0.02 / math.sqrt(2 * cfg.n_layer))

    # --- the contract (agent/contract.py) ---
    def num_parameters(self, non_embedding: bool = True) -> int:
        skip = EMBEDDINGS if non_embedding else ()
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith(skip))

    def active_parameters(self, non_embedding: bool = True) -> int:
        """Parameters acting on one token: an MoE layer counts its router and top_k of its experts."""
        n = self.num_parameters(non_embedding)
        for blk in self.blocks:
            if blk.moe is not None:
                per_expert = sum(p[0].numel() for p in (blk.moe.w_in, blk.moe.b_in, blk.moe.w_out, blk.moe.b_out))
                n -= (self.cfg.n_experts - self.cfg.top_k) * per_expert
        return n

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """Decay on matrices, not on norms, biases, embedding tables, the router or the temperature."""
        def decays(name: str, p: torch.nn.Parameter) -> bool:
            return p.ndim >= 2 and not name.startswith(EMBEDDINGS) \
                and not name.endswith(("w_gate", "w_noise"))

        named = list(self.named_parameters())
        return [{"params": [p for n, p in named if decays(n, p)], "weight_decay": weight_decay},
                {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0}]

    def flops_per_token(self, window: int) -> float:
        """Training FLOPs per token (agent/contract.py's estimate) over pairs of at most max_tokens tokens."""
        return transformer_flops_per_token(self.active_parameters(), self.cfg.n_layer, self.cfg.n_embd,
                                           min(window, self.cfg.max_tokens))

    def forward(self, pairs: Pairs) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, Any]]:
        """`pairs`: the (image, text) pairs the family's batch adapter (`pairs_adapter`) found in a batch."""
        if len(pairs) < 2:  # nothing to contrast: a loss of zero that still reaches the graph
            zero = self.logit_scale * 0.0
            return zero.new_zeros(len(pairs), len(pairs)), zero, {"n_pairs": len(pairs), "aux_loss": zero}
        return self.contrast(pairs)

    # --- LIMoE ---
    def contrast(self, pairs: Pairs) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Similarity logits (S, S), the symmetric multi-positive InfoNCE, and info."""
        img, txt, routing = self.encode(pairs)
        scale = self.logit_scale.clamp(max=math.log(100.0)).exp()
        logits = scale * img @ txt.T  # (S, S)
        pos = pairs.positives()  # (S, S)
        loss = 0.5 * (_multi_positive_nce(logits.float(), pos) + _multi_positive_nce(logits.T.float(), pos.T))
        with torch.no_grad():
            hit_i2t = pos.gather(1, logits.argmax(1)[:, None]).float().mean()
            hit_t2i = pos.T.gather(1, logits.argmax(0)[:, None]).float().mean()
        info: dict[str, Any] = {"n_pairs": len(pairs), "contrastive_loss": float(loss.detach()),
                                "i2t_top1": float(hit_i2t), "t2i_top1": float(hit_t2i),
                                "temperature": float(scale.detach())}
        info.update(self._routing_info(routing))
        return logits, loss, info

    def encode(self, pairs: Pairs) -> tuple[torch.Tensor, torch.Tensor, list[tuple[dict[str, Any], torch.Tensor]]]:
        """(S, E) unit image embeddings, (S, E) unit text embeddings, and each MoE layer's (aux, modality of
        each routed token) for the losses and statistics. Both sides go through the encoder in one call."""
        (img, txt), routing = self._tower([(self._embed_images(pairs), pairs.image_mask, 0),
                                           (self._embed_texts(pairs.text), pairs.text_mask, 1)])
        return img, txt, routing

    def encode_images(self, pairs: Pairs) -> torch.Tensor:
        """(S, E) unit embeddings of the pairs' frames alone (their texts unused)."""
        return self._tower([(self._embed_images(pairs), pairs.image_mask, 0)])[0][0]

    def encode_texts(self, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """(S, E) unit embeddings of (S, L) text ids alone (class prompts, retrieval queries)."""
        return self._tower([(self._embed_texts(text), text_mask, 1)])[0][0]

    def _tower(self, parts: list[tuple[torch.Tensor, torch.Tensor, int]]
               ) -> tuple[list[torch.Tensor], list[tuple[dict[str, Any], torch.Tensor]]]:
        """Run sequences of several modalities through the encoder together (padded to one length, so their
        tokens share the experts' capacity); each part's mean-pooled, projected, unit-norm embeddings."""
        length = max(x.shape[1] for x, _, _ in parts)
        x = torch.cat([F.pad(x, (0, 0, 0, length - x.shape[1])) for x, _, _ in parts])  # (N, L, D)
        real = torch.cat([F.pad(r, (0, length - r.shape[1])) for _, r, _ in parts])  # (N, L)
        modality = torch.cat([torch.full((r.shape[0], length), m, dtype=torch.long, device=x.device)
                              for _, r, m in parts])[real]  # (M,) modality of each routed token
        routing = []
        for blk in self.blocks:
            x, aux = blk(x, real)
            if aux:
                routing.append((aux, modality))
        h = self.ln_f(x)  # (N, L, D)
        w = real[..., None].to(h.dtype)
        pooled = (h * w).sum(1) / w.sum(1).clamp_min(1.0)  # (N, D)
        z = F.normalize(self.head(pooled).float(), dim=-1)  # (N, E)
        return list(z.split([r.shape[0] for _, r, _ in parts])), routing

    def _embed_texts(self, text: torch.Tensor) -> torch.Tensor:
        n = text.shape[1]
        return self.tok(text) + self.pos.weight[:n] + self.modality.weight[1]  # (S, L, D)

    def _embed_images(self, pairs: Pairs) -> torch.Tensor:
        s, p = pairs.image_mask.shape
        flat = pairs.patches.reshape(s * p, *pairs.patches.shape[2:])  # (S*P, 3, 16, 16)
        x = self.patch(flat.to(self.pos.weight.dtype)).view(s, p, -1)  # (S, P, D)
        rows = position_bins(pairs.patch_rows.reshape(-1, 2), self.cfg.position_bins, self.training).view(s, p)
        cols = position_bins(pairs.patch_cols.reshape(-1, 2), self.cfg.position_bins, self.training).view(s, p)
        return x + self.row(rows) + self.col(cols) + self.pos.weight[:p] + self.modality.weight[0]  # (S, P, D)

    def _routing_info(self, routing: list[tuple[dict[str, Any], torch.Tensor]]) -> dict[str, Any]:
        """aux_loss (balance + entropy losses, summed over MoE layers) and per-modality routing statistics
        averaged over the layers: local and global entropy, experts used, and the load share of each expert."""
        cfg = self.cfg
        aux_loss = sum((aux["aux_loss"] for aux, _ in routing), torch.zeros((), device=self.logit_scale.device))
        stats: dict[str, list[float]] = {}
        for aux, modality in routing:
            probs = aux["router_probs"]  # (M, E)
            for m, name in enumerate(MODALITIES):
                pm = probs[modality == m]  # (M_m, E)
                if pm.shape[0] == 0:
                    continue
                local = torch.special.entr(pm).sum(-1).mean()  # ()
                glob = torch.special.entr(pm.mean(0)).sum()  # ()
                aux_loss = aux_loss + cfg.w_local * local + cfg.w_global * F.relu(cfg.tau - glob)
                share = F.one_hot(pm.argmax(-1), cfg.n_experts).float().mean(0)  # (E,) top-1 load share
                stats.setdefault(f"limoe/local_entropy/{name}", []).append(float(local.detach()))
                stats.setdefault(f"limoe/global_entropy/{name}", []).append(float(glob.detach()))
                stats.setdefault(f"limoe/experts_used/{name}", []).append(float((share >= USED_SHARE).sum()))
                for i, v in enumerate(share.tolist()):
                    stats.setdefault(f"limoe/load/{name}/{i}", []).append(v)
            stats.setdefault("moe/dropped_frac", []).append(float(aux["dropped_frac"]))
        info: dict[str, Any] = {k: sum(v) / len(v) for k, v in stats.items()}
        info["aux_loss"] = aux_loss
        return info


def _multi_positive_nce(logits: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Mean over rows of -log(sum of the softmax over the row's positives); (S, S) logits and bool mask."""
    all_ = torch.logsumexp(logits, dim=1)  # (S,)
    hit = torch.logsumexp(logits.masked_fill(~pos, float("-inf")), dim=1)  # (S,)
    return (all_ - hit).mean()
