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
from gatosuite.agent.embeddings import PatchEmbedding, position_bins
from gatosuite.agent.kv_cache import KVCache
from gatosuite.tokenization import TokenKind
from gatosuite.tokenization.continuous import MU as MU_LAW_MU
from gatosuite.tokenization.continuous import M as MU_LAW_M
from gatosuite.tokenization.vocab import N_CONTINUOUS_BINS, N_DISCRETE, N_SPECIAL

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


def sinusoidal_values(n: int, d: int, std: float = 0.02) -> torch.Tensor:
    """(n, d) embeddings of the ordered values 0..n-1: sines and cosines at d/2 geometric frequencies,
    from one period over 1024 values up to one over 4, scaled to `std`. Neighbouring values start close
    and distant ones apart, so what the model learns for a bin it has seen carries over to its
    neighbours. With independent N(0, 0.02) rows, each of the 1024 bins must be learned from its own
    examples."""
    j = torch.arange(n, dtype=torch.float32)[:, None]  # (n, 1)
    freqs = torch.exp(torch.linspace(math.log(1 / 512), math.log(1 / 2), d // 2)) * math.pi  # (d/2,)
    emb = torch.cat([torch.sin(j * freqs), torch.cos(j * freqs)], dim=1)  # (n, d) entries of variance 1/2
    emb = torch.nn.functional.pad(emb, (0, d - emb.shape[1]))  # odd d: one zero column
    return emb * std * math.sqrt(2)


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
        self.tok = nn.Embedding(cfg.vocab_size, d)
        self.patch = PatchEmbedding(cfg.patch_channels, d)
        self.local = nn.Embedding(cfg.max_local_positions + 1, d)  # last row: separator and actions
        self.row = nn.Embedding(cfg.position_bins, d)
        self.col = nn.Embedding(cfg.position_bins, d)
        self.pos = nn.Embedding(cfg.context, d)
        text = cfg.vocab_size - N_DISCRETE - N_CONTINUOUS_BINS - N_SPECIAL
        self.cont_lo = text + N_DISCRETE  # first continuous-bin id
        if cfg.value_input == "token+value":
            self.value = nn.Embedding(cfg.max_local_positions + 1, d)  # per local position: value -> direction
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(d)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("attn.proj.weight", "out.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))
        if cfg.value_init == "sinusoidal":
            with torch.no_grad():
                self.tok.weight[text:text + N_DISCRETE] = sinusoidal_values(N_DISCRETE, d)
                self.tok.weight[self.cont_lo:self.cont_lo + N_CONTINUOUS_BINS] = sinusoidal_values(N_CONTINUOUS_BINS, d)

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

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups: weight decay where `_decays` says, none elsewhere."""
        decay = [p for n, p in self.named_parameters() if self._decays(n, p)]
        keep = [p for n, p in self.named_parameters() if not self._decays(n, p)]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]

    def _decays(self, name: str, p: torch.nn.Parameter) -> bool:
        """Weight decay on matrices, not on norms, biases or embedding tables."""
        return p.ndim >= 2 and name.split(".")[0] not in EMBEDDINGS

    def continuous_values(self, ids: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
        """What a continuous token's value feeds into the model, 0 for other tokens; same shape as ids.

        An action token's value is its bin centre in [-1, 1], linear in the action. An observation token's
        bin centre is mu-law companded; its raw value is recovered (inverse mu-law) and passed through
        symlog, sign(x) log(1 + |x|) (DreamerV3's input transform): linear near zero, where most physical
        states lie and where controllers such as LQR are linear in them, and logarithmic beyond, so no
        task's scale can swamp the embedding."""
        b = ids - self.cont_lo
        centre = (b.float() + 0.5) * (2.0 / N_CONTINUOUS_BINS) - 1.0  # (B, T) in [-1, 1]
        if self.cfg.value_transform == "mu-law":
            obs_value = centre
        else:
            raw = torch.sign(centre) * torch.expm1(centre.abs() * math.log1p(MU_LAW_M * MU_LAW_MU)) / MU_LAW_MU
            obs_value = torch.sign(raw) * torch.log1p(raw.abs())
        zero = torch.zeros((), device=ids.device)
        return torch.where(kinds == TokenKind.CONTINUOUS, obs_value,
                           torch.where(kinds == TokenKind.ACTION_CONTINUOUS, centre, zero))

    def embed(self, batch: TokenBatch, start: int | torch.Tensor = 0) -> torch.Tensor:
        """(B, T, D) input embeddings of a batch whose first token sits at window position `start`
        (an int, or a (B,) tensor of per-row positions)."""
        b, t = batch.shape
        end = int(start.max()) + t if isinstance(start, torch.Tensor) else start + t
        if end > self.cfg.context:
            raise ValueError(f"batch has {end} tokens per window; the model's context is {self.cfg.context}")
        local = batch.local_pos.clamp(max=self.cfg.max_local_positions - 1)
        local = torch.where(local < 0, torch.full_like(local, self.cfg.max_local_positions), local)  # (B, T)
        if batch.positions is not None:  # packed segments: positions restart in each
            pos = self.pos(batch.positions)  # (B, T, D)
        elif isinstance(start, torch.Tensor):
            pos = self.pos(start.to(batch.ids.device)[:, None] + torch.arange(t, device=batch.ids.device))  # (B, T, D)
        else:
            pos = self.pos.weight[start:start + t]  # (T, D)
        ids, kinds = batch.ids, batch.kinds
        if self.cfg.action_inputs == "masked":  # every action enters as the same (learned) PAD embedding
            is_action = (kinds == TokenKind.ACTION_CONTINUOUS) | (kinds == TokenKind.ACTION_DISCRETE)
            ids = torch.where(is_action, torch.full_like(ids, self.cfg.vocab_size - 1), ids)
            kinds = torch.where(is_action, torch.full_like(kinds, TokenKind.PAD), kinds)
        x = self.tok(ids) + self.local(local) + pos  # (B, T, D)
        if self.cfg.value_input == "token+value":
            x = x + self.continuous_values(ids, kinds)[..., None] * self.value(local)  # (B, T, D)
        if batch.patches.shape[0]:
            img = self.patch(batch.patches.to(x.dtype))  # (N, D)
            img = img + self.row(position_bins(batch.patch_rows, self.cfg.position_bins, self.training))
            img = img + self.col(position_bins(batch.patch_cols, self.cfg.position_bins, self.training))
            flat = x.view(b * t, -1).clone()  # (B*T, D)
            flat[batch.patch_slot] = flat[batch.patch_slot] - self.tok.weight[0] + img  # pixels, not id 0
            x = flat.view(b, t, -1)
        return self.drop(x)

    def hidden(self, batch: TokenBatch, cache: KVCache | None = None) -> torch.Tensor:
        """(B, T, D) final hidden states. With a cache, `batch` holds only new tokens, which continue
        the cached ones; the cache is extended in place."""
        start: int | torch.Tensor = 0
        if cache is not None:
            if cache.batch != batch.shape[0]:
                raise ValueError(f"cache holds {cache.batch} rows but the batch has {batch.shape[0]}")
            start = cache.valid if cache.padded else cache.length
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
        if self.cfg.action_targets == "hl-gauss":
            logp = torch.log_softmax(logits.float(), dim=-1)  # (M, V)
            per_token = -logp.gather(1, targets[:, None])[:, 0]  # (M,)
            cont = next_kinds == TokenKind.ACTION_CONTINUOUS  # (M,)
            if cont.any():
                smooth = self._hl_gauss_nll(logp[cont], targets[cont] - self.cont_lo)  # (M_c,)
                per_token = per_token.masked_scatter(cont, smooth)
        else:
            per_token = F.cross_entropy(logits.float(), targets, reduction="none")  # (M,)
        info = {"n_targets": int(mask.sum()), "token_loss": per_token.detach(), "target_kinds": next_kinds}
        for name, kinds in (("text", (TokenKind.TEXT,)),
                            ("action", (TokenKind.ACTION_DISCRETE, TokenKind.ACTION_CONTINUOUS))):
            sel = torch.isin(next_kinds, torch.tensor(kinds, dtype=next_kinds.dtype, device=next_kinds.device))
            if sel.any():
                info[f"loss_{name}"] = float(per_token.detach()[sel].mean())
        return logits, per_token.mean(), info

    def _hl_gauss_nll(self, logp: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of (M, V) log-probabilities against a Gaussian of std `target_sigma` bins around
        each target bin in [0, 1024), integrated over the 1024 continuous bins (HL-Gauss); (M,)."""
        logp = logp[:, self.cont_lo:self.cont_lo + N_CONTINUOUS_BINS]  # (M, K)
        edges = torch.arange(N_CONTINUOUS_BINS + 1, device=logp.device, dtype=torch.float32)  # (K+1,)
        z = (edges[None, :] - (bins.float()[:, None] + 0.5)) / (self.cfg.target_sigma * math.sqrt(2))  # (M, K+1)
        cdf = 0.5 * (1 + torch.erf(z))
        w = cdf[:, 1:] - cdf[:, :-1]  # (M, K) mass of each bin
        w = w / w.sum(dim=1, keepdim=True)  # the tails beyond the range go to the bins inside
        return -(w * logp).sum(dim=1)
