"""What goes into and comes out of every token model of the zoo, written once.

- `embed_tokens`: a TokenBatch's input embeddings, Gato's (section 2.2): a token table for text, discrete,
  continuous and special ids; a ResNet-v2 block for image patches with row and column encodings; learned
  local-observation positions (all action tokens share one row); a learned position in the window; and,
  per the config, the continuous value itself ('token+value') and masked action inputs.
- `TokenInput`: those tables as a module of their own, for a family that embeds more than one stream
  (an encoder's and a decoder's): GatoModel keeps them as its own attributes, so its checkpoints keep
  their parameter names.
- `target_nll`: the per-target NLL of (M, V) logits, one-hot or HL-Gauss on continuous actions, and
  `nll_info`, the info entries the contract asks of a next-token family.

A config used here has Gato's input and target fields (GatoConfig's: vocab_size, n_embd, context,
max_local_positions, patch_channels, position_bins, dropout, value_init, value_input, value_transform,
action_inputs, action_targets, target_sigma).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gatosuite.tokenization import TokenKind
from gatosuite.tokenization.continuous import MU as MU_LAW_MU
from gatosuite.tokenization.continuous import M as MU_LAW_M
from gatosuite.tokenization.vocab import N_CONTINUOUS_BINS, N_DISCRETE, N_SPECIAL

from .batch import TokenBatch
from .embeddings import PatchEmbedding, position_bins


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


def first_continuous_id(vocab_size: int) -> int:
    """The id of continuous bin 0: past the text vocabulary and the 1024 discrete values."""
    return vocab_size - N_DISCRETE - N_CONTINUOUS_BINS - N_SPECIAL + N_DISCRETE


def init_value_rows(tok: nn.Embedding, vocab_size: int, d: int) -> None:
    """Sinusoidal initial rows for the discrete and continuous value ids of a token table."""
    text = vocab_size - N_DISCRETE - N_CONTINUOUS_BINS - N_SPECIAL
    cont = text + N_DISCRETE
    with torch.no_grad():
        tok.weight[text:text + N_DISCRETE] = sinusoidal_values(N_DISCRETE, d)
        tok.weight[cont:cont + N_CONTINUOUS_BINS] = sinusoidal_values(N_CONTINUOUS_BINS, d)


def continuous_values(ids: torch.Tensor, kinds: torch.Tensor, cont_lo: int, value_transform: str) -> torch.Tensor:
    """What a continuous token's value feeds into the model, 0 for other tokens; same shape as ids.

    An action token's value is its bin centre in [-1, 1], linear in the action. An observation token's
    bin centre is mu-law companded; its raw value is recovered (inverse mu-law) and passed through
    symlog, sign(x) log(1 + |x|) (DreamerV3's input transform): linear near zero, where most physical
    states lie and where controllers such as LQR are linear in them, and logarithmic beyond, so no
    task's scale can swamp the embedding."""
    b = ids - cont_lo
    centre = (b.float() + 0.5) * (2.0 / N_CONTINUOUS_BINS) - 1.0  # (B, T) in [-1, 1]
    if value_transform == "mu-law":
        obs_value = centre
    else:
        raw = torch.sign(centre) * torch.expm1(centre.abs() * math.log1p(MU_LAW_M * MU_LAW_MU)) / MU_LAW_MU
        obs_value = torch.sign(raw) * torch.log1p(raw.abs())
    zero = torch.zeros((), device=ids.device)
    return torch.where(kinds == TokenKind.CONTINUOUS, obs_value,
                       torch.where(kinds == TokenKind.ACTION_CONTINUOUS, centre, zero))


def embed_tokens(m: Any, batch: TokenBatch, start: int | torch.Tensor = 0) -> torch.Tensor:
    """(B, T, D) input embeddings of a batch whose first token sits at window position `start` (an int,
    or a (B,) tensor of per-row positions; ignored where the batch carries its own `positions`). `m`
    holds the tables (`tok`, `patch`, `local`, `row`, `col`, `pos`, `value` with 'token+value', `drop`),
    `cfg` and `cont_lo`: a GatoModel or a TokenInput."""
    cfg = m.cfg
    b, t = batch.shape
    end = int(start.max()) + t if isinstance(start, torch.Tensor) else start + t
    if end > cfg.context:
        raise ValueError(f"batch has {end} tokens per window; the model's context is {cfg.context}")
    if batch.positions is not None:  # segments (or a stream) with positions of their own
        pos = m.pos(batch.positions)  # (B, T, D)
    elif isinstance(start, torch.Tensor):
        pos = m.pos(start.to(batch.ids.device)[:, None] + torch.arange(t, device=batch.ids.device))  # (B, T, D)
    else:
        pos = m.pos.weight[start:start + t]  # (T, D)
    local = batch.local_pos.clamp(max=cfg.max_local_positions - 1)
    local = torch.where(local < 0, torch.full_like(local, cfg.max_local_positions), local)  # (B, T)
    ids, kinds = batch.ids, batch.kinds
    if cfg.action_inputs == "masked":  # every action enters as the same (learned) PAD embedding
        is_action = (kinds == TokenKind.ACTION_CONTINUOUS) | (kinds == TokenKind.ACTION_DISCRETE)
        ids = torch.where(is_action, torch.full_like(ids, cfg.vocab_size - 1), ids)
        kinds = torch.where(is_action, torch.full_like(kinds, TokenKind.PAD), kinds)
    x = m.tok(ids) + m.local(local) + pos  # (B, T, D)
    if cfg.value_input == "token+value":
        x = x + continuous_values(ids, kinds, m.cont_lo, cfg.value_transform)[..., None] * m.value(local)  # (B, T, D)
    if batch.patches.shape[0]:
        img = m.patch(batch.patches.to(x.dtype))  # (N, D)
        img = img + m.row(position_bins(batch.patch_rows, cfg.position_bins, m.training))
        img = img + m.col(position_bins(batch.patch_cols, cfg.position_bins, m.training))
        flat = x.view(b * t, -1).clone()  # (B*T, D)
        flat[batch.patch_slot] = flat[batch.patch_slot] - m.tok.weight[0] + img  # pixels, not id 0
        x = flat.view(b, t, -1)
    return m.drop(x)


def add_input_tables(m: nn.Module, cfg: Any) -> None:
    """Give `m` the input tables `embed_tokens` reads (`tok`, `patch`, `local`, `row`, `col`, `pos`, `value`
    with 'token+value', `drop`) and `cont_lo`, created in this order: GatoModel and TokenInput both call it,
    so their parameter names and initial draws stay what their checkpoints hold."""
    d = cfg.n_embd
    m.tok = nn.Embedding(cfg.vocab_size, d)
    m.patch = PatchEmbedding(cfg.patch_channels, d)
    m.local = nn.Embedding(cfg.max_local_positions + 1, d)  # last row: separator and actions
    m.row = nn.Embedding(cfg.position_bins, d)
    m.col = nn.Embedding(cfg.position_bins, d)
    m.pos = nn.Embedding(cfg.context, d)
    m.cont_lo = first_continuous_id(cfg.vocab_size)  # first continuous-bin id
    if cfg.value_input == "token+value":
        m.value = nn.Embedding(cfg.max_local_positions + 1, d)  # per local position: value -> direction
    m.drop = nn.Dropout(cfg.dropout)


class TokenInput(nn.Module):
    """Gato's input tables as one module: `forward(batch, start=0) -> (B, T, D)` (see embed_tokens).
    Initialised as GatoModel initialises its own: N(0, 0.02), sinusoidal value rows per the config."""

    TABLES = ("tok", "pos", "local", "row", "col", "value")
    """Its embedding tables (no weight decay; not counted as non-embedding parameters)."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.n_embd
        add_input_tables(self, cfg)
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                nn.init.normal_(mod.weight, mean=0.0, std=0.02)
            if isinstance(mod, nn.Linear) and mod.bias is not None:
                nn.init.zeros_(mod.bias)
        if cfg.value_init == "sinusoidal":
            init_value_rows(self.tok, cfg.vocab_size, d)

    def forward(self, batch: TokenBatch, start: int | torch.Tensor = 0) -> torch.Tensor:
        return embed_tokens(self, batch, start)


def target_nll(logits: torch.Tensor, targets: torch.Tensor, target_kinds: torch.Tensor, cfg: Any,
               cont_lo: int) -> torch.Tensor:
    """(M,) NLL of (M, V) logits against the M targets: one-hot cross-entropy, or with
    `cfg.action_targets == 'hl-gauss'` a Gaussian of `target_sigma` bins around each continuous action's
    bin (the histogram loss of Imani & White 2018 and Farebrother et al. 2024)."""
    if cfg.action_targets != "hl-gauss":
        return F.cross_entropy(logits.float(), targets, reduction="none")  # (M,)
    logp = torch.log_softmax(logits.float(), dim=-1)  # (M, V)
    per_token = -logp.gather(1, targets[:, None])[:, 0]  # (M,)
    cont = target_kinds == TokenKind.ACTION_CONTINUOUS  # (M,)
    if cont.any():
        smooth = hl_gauss_nll(logp[cont], targets[cont] - cont_lo, cont_lo, cfg.target_sigma)  # (M_c,)
        per_token = per_token.masked_scatter(cont, smooth)
    return per_token


def hl_gauss_nll(logp: torch.Tensor, bins: torch.Tensor, cont_lo: int, sigma: float) -> torch.Tensor:
    """Cross-entropy of (M, V) log-probabilities against a Gaussian of std `sigma` bins around each
    target bin in [0, 1024), integrated over the 1024 continuous bins (HL-Gauss); (M,)."""
    logp = logp[:, cont_lo:cont_lo + N_CONTINUOUS_BINS]  # (M, K)
    edges = torch.arange(N_CONTINUOUS_BINS + 1, device=logp.device, dtype=torch.float32)  # (K+1,)
    z = (edges[None, :] - (bins.float()[:, None] + 0.5)) / (sigma * math.sqrt(2))  # (M, K+1)
    cdf = 0.5 * (1 + torch.erf(z))
    w = cdf[:, 1:] - cdf[:, :-1]  # (M, K) mass of each bin
    w = w / w.sum(dim=1, keepdim=True)  # the tails beyond the range go to the bins inside
    return -(w * logp).sum(dim=1)


def nll_info(per_token: torch.Tensor, target_kinds: torch.Tensor) -> dict[str, Any]:
    """The contract's info entries of a next-token family: per-target losses and kinds, their count, and
    the mean loss on text and on action targets."""
    info: dict[str, Any] = {"n_targets": int(per_token.shape[0]), "token_loss": per_token.detach(),
                            "target_kinds": target_kinds}
    for name, kinds in (("text", (TokenKind.TEXT,)),
                        ("action", (TokenKind.ACTION_DISCRETE, TokenKind.ACTION_CONTINUOUS))):
        sel = torch.isin(target_kinds, torch.tensor(kinds, dtype=target_kinds.dtype, device=target_kinds.device))
        if sel.any():
            info[f"loss_{name}"] = float(per_token.detach()[sel].mean())
    return info
