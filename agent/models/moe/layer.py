"""A Mixture-of-Experts feed-forward layer that any model family can use in place of its MLP.

Two gates:
- 'noisy-top-k' (Shazeer et al. 2017, "Outrageously Large Neural Networks"): each token goes to the k experts
  with the largest noisy logits H(x) and mixes them with a softmax over those k. Two balance losses keep every
  expert in use: the importance loss (the gates' sums per expert should be equal) and the load loss (the
  expected number of tokens per expert, made differentiable through the normal CDF, should be equal).
- 'switch' (Fedus et al. 2021, Switch Transformer): each token goes to its single most probable expert,
  scaled by that probability, with the balance loss alpha * E * sum_i f_i * P_i.

Without a balance loss a router collapses: the experts that win early get all the gradient and win more.

Conventions (the tests check each one):
- CV^2 is the population variance over the mean squared, var(v) / (mean(v)^2 + 1e-10) with var = mean((v -
  mean(v))^2): the paper's reference code (tensor2tensor `cv_squared`) does the same, and it stays 0, not
  NaN, with a single expert.
- Capacity: an expert takes at most C = ceil(capacity_factor * M * k / E) tokens, M being the real (unmasked)
  tokens of the call. With priority='token', first come first served in token order: the flattened (B, T)
  order, row by row, and for k > 1 a token's priority is its position whatever rank the expert has among its
  k. With priority='batch' (batch-priority routing, Riquelme et al. 2021, used by LIMoE), tokens are served
  in decreasing order of their largest gate value, ties in token order, so the tokens the router is surest
  of are the last to be dropped. An assignment past
  C is dropped: that expert adds nothing to that token (the others in its top k still do, and their gates
  are not renormalized), and the caller's residual connection carries the token through.
- Noise is drawn by `sample_noise` with `torch.randn_like`, only in training mode and only for real tokens,
  so `torch.manual_seed` reproduces it and a test can replace the method.
- Under torchrun (DDP), the balance losses are computed from routing statistics summed over every process
  (a differentiable all-reduce of E numbers per layer), so they are the losses of the global batch, as
  with one process; capacity stays per process (each device's experts have their own slots).
- Routing runs in float32 even under autocast: Fedus et al. found bfloat16 routers unstable, and top-k, the
  softmax and the normal CDF all need the precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gatosuite.errors import ConfigError

GATES = ("noisy-top-k", "switch")
"""The gates MoEConfig.gate accepts."""
PRIORITIES = ("token", "batch")
"""The capacity orders MoEConfig.priority accepts."""


@dataclass(frozen=True)
class MoEConfig:
    """Shape, gate and balance losses of a Mixture-of-Experts feed-forward layer."""

    n_embd: int = 128
    """Model width: the size of each token's input and output vector."""
    ffn: int = 512
    """Hidden width of each expert's GELU MLP."""
    n_experts: int = 8
    """Number of experts E."""
    top_k: int = 2
    """Experts per token k, in [1, n_experts]. Must be 1 with gate='switch'. With 'noisy-top-k' and k=1 the
    gate value is always 1, so the router learns only through the load loss: the paper uses k >= 2."""
    gate: str = "noisy-top-k"
    """'noisy-top-k' (Shazeer et al. 2017) or 'switch' (Fedus et al. 2021, top-1)."""
    capacity_factor: float | None = None
    """Expert capacity C = ceil(capacity_factor * tokens * top_k / n_experts); assignments past C are dropped
    (first come first served in token order). 0 or None: no limit, nothing is dropped."""
    priority: str = "token"
    """Who keeps a slot when an expert overflows: 'token' (first come first served in token order) or 'batch'
    (batch-priority routing: the tokens with the largest gate value first)."""
    w_importance: float = 0.1
    """Weight of the importance loss CV(Importance)^2 ('noisy-top-k'; the paper uses 0.1)."""
    w_load: float = 0.1
    """Weight of the load loss CV(Load)^2 ('noisy-top-k'; the paper uses 0.1)."""
    switch_alpha: float = 0.01
    """alpha of the Switch balance loss alpha * E * sum_i f_i * P_i ('switch'; Fedus et al. use 0.01)."""
    dropout: float = 0.0
    """Dropout on the layer's output, as on a GPT-2 MLP's output."""
    out_std: float = 0.02
    """Init std of the experts' output projections: GPT-2 callers pass 0.02 / sqrt(2 * n_layer)."""

    def __post_init__(self) -> None:
        for name in ("n_embd", "ffn", "n_experts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"MoEConfig.{name} must be positive, got {getattr(self, name)}")
        if self.gate not in GATES:
            raise ConfigError(f"MoEConfig.gate must be one of {', '.join(GATES)}; got {self.gate!r}")
        if self.priority not in PRIORITIES:
            raise ConfigError(f"MoEConfig.priority must be one of {', '.join(PRIORITIES)}; got {self.priority!r}")
        if not 1 <= self.top_k <= self.n_experts:
            raise ConfigError(f"MoEConfig.top_k must be in [1, n_experts={self.n_experts}], got {self.top_k}")
        if self.gate == "switch" and self.top_k != 1:
            raise ConfigError(f"gate='switch' sends each token to one expert: set top_k=1 (got {self.top_k}), "
                              "or use gate='noisy-top-k' for k > 1")
        if self.capacity_factor is not None and not self.capacity_factor >= 0:
            raise ConfigError(f"MoEConfig.capacity_factor must be >= 0 (0 or None: no limit), got "
                              f"{self.capacity_factor}")
        for name in ("w_importance", "w_load", "switch_alpha"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"MoEConfig.{name} must be >= 0 (0 turns that loss off), got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"MoEConfig.dropout must be in [0, 1), got {self.dropout}")
        if not self.out_std > 0:
            raise ConfigError(f"MoEConfig.out_std must be positive, got {self.out_std}")

    def capacity(self, n_tokens: int) -> int | None:
        """Token slots per expert for a call with `n_tokens` real tokens; None when there is no limit."""
        if not self.capacity_factor:
            return None
        return math.ceil(self.capacity_factor * n_tokens * self.top_k / self.n_experts)


def global_sum(v: torch.Tensor) -> torch.Tensor:
    """`v` summed over the processes of a distributed run, with gradient (the identity in one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return v
    import warnings

    from torch.distributed.nn.functional import all_reduce

    # Deprecated in favour of torch.distributed._functional_collectives.all_reduce. This one's backward
    # all-reduces the gradient, which tests/agent/test_distributed.py checks across 2 processes; the
    # replacement's backward has not been checked that way here, so the switch waits for that test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return all_reduce(v)


def cv_squared(v: torch.Tensor) -> torch.Tensor:
    """Squared coefficient of variation of a (E,) vector: population variance / mean^2 (0 when all equal)."""
    v = v.float()  # (E,)
    return v.var(unbiased=False) / (v.mean() ** 2 + 1e-10)  # ()


@dataclass
class Routing:
    """What a gate decided for M real tokens, before capacity is applied."""

    gates: torch.Tensor
    """(M, E) float32: each token's weight on each expert, zero outside its top k."""
    chosen: torch.Tensor
    """(M, E) bool: the experts each token is sent to (top k)."""
    logits: torch.Tensor
    """(M, E) float32: the logits the routing used (H(x) for 'noisy-top-k'), for the entropy statistic."""
    losses: dict[str, torch.Tensor]
    """Weighted balance losses, each a float32 scalar: importance_loss and load_loss, or switch_loss."""


class MoELayer(nn.Module):
    """`forward(x, mask) -> (y, aux)`: E GELU experts behind a noisy top-k or Switch gate.

    The experts are stored as batched weights, (E, D, F) in and (E, F, D) out, so dispatch is one scatter
    into per-expert slots, two batched matmuls and one gather back, with no Python loop over tokens or experts.
    """

    def __init__(self, cfg: MoEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        e, d, f = cfg.n_experts, cfg.n_embd, cfg.ffn
        self.w_in = nn.Parameter(torch.empty(e, d, f))  # (E, D, F)
        self.b_in = nn.Parameter(torch.zeros(e, f))  # (E, F)
        self.w_out = nn.Parameter(torch.empty(e, f, d))  # (E, F, D)
        self.b_out = nn.Parameter(torch.zeros(e, d))  # (E, D)
        # Plain Parameters, not nn.Linear: a model's generic `apply(init)` over its Linears must not overwrite
        # the zero gate init below.
        self.w_gate = nn.Parameter(torch.zeros(d, e))  # (D, E): W_g, or W_r for 'switch'
        self.w_noise = nn.Parameter(torch.zeros(d, e)) if cfg.gate == "noisy-top-k" else None  # (D, E)
        self.drop = nn.Dropout(cfg.dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2 init for the experts. The noisy top-k gate starts at zero, as in the paper, so every expert
        starts equal and the noise alone spreads the first tokens. A zero Switch router would tie every logit
        and argmax would send every token to expert 0, so it starts at N(0, 0.02), close to Fedus et al.'s
        truncated normal of std sqrt(0.1 / n_embd) at the widths used here."""
        nn.init.normal_(self.w_in, std=0.02)
        nn.init.normal_(self.w_out, std=self.cfg.out_std)
        nn.init.zeros_(self.b_in)
        nn.init.zeros_(self.b_out)
        if self.cfg.gate == "switch":
            nn.init.normal_(self.w_gate, std=0.02)
        else:
            nn.init.zeros_(self.w_gate)
            nn.init.zeros_(self.w_noise)

    def sample_noise(self, like: torch.Tensor) -> torch.Tensor:
        """The StandardNormal() sample of H(x), shaped like the (M, E) logits; replace it to fix the noise."""
        return torch.randn_like(like)  # (M, E)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                use_capacity: bool = True) -> tuple[torch.Tensor, dict[str, Any]]:
        """Route each real token to its experts and mix their outputs.

        x: (N, D) or (B, T, D). mask: optional bool of x's leading shape, True at real tokens: padding is not
        routed, gets zeros, uses no capacity and counts in no statistic. `use_capacity=False` serves every
        assignment whatever the capacity factor (incremental decoding, where a call holds a few tokens).
        Returns y with x's shape and dtype, zero where no expert took the token (padding, dropped), and aux:
        - "aux_loss": float32 scalar tensor, the sum of the weighted balance losses; add it to the task loss.
        - "importance_loss", "load_loss" ('noisy-top-k') or "switch_loss" ('switch'): floats, weighted.
        - "dropped": int, token-expert assignments past capacity; "dropped_frac": their share of all M * k.
        - "router_entropy": float, mean entropy (nats) of the softmax over the routing logits, before top-k.
        - "expert_load": list of E ints, assignments the router made to each expert, before capacity drops.
        - "router_probs": (M, E) float32 tensor with gradient, the softmax over the routing logits of each real
          token (in x's flattened order), for losses on the routing distribution (LIMoE's entropy losses).
        In eval mode there is no noise, and the load is the plain count of assignments (not differentiable).
        """
        self._check_inputs(x, mask)
        d = self.cfg.n_embd
        flat = x.reshape(-1, d)  # (N, D)
        real = None if mask is None else mask.reshape(-1).nonzero().squeeze(1)  # (M,) indices of real tokens
        xs = flat if real is None else flat[real]  # (M, D)
        if xs.shape[0] == 0:
            return torch.zeros_like(x), self._empty_aux(x.device)
        routing = self.route(xs)
        keep, slot = self._apply_capacity(routing, use_capacity)  # (M, E), (M, E)
        ys = self._experts(xs, routing.gates, keep, slot)  # (M, D)
        y = ys if real is None else torch.zeros_like(flat).index_copy(0, real, ys)  # (N, D)
        y = self.drop(y.reshape(x.shape))  # (..., D)
        return y, self._aux(routing, keep)

    def _check_inputs(self, x: torch.Tensor, mask: torch.Tensor | None) -> None:
        if x.dim() not in (2, 3) or x.shape[-1] != self.cfg.n_embd:
            raise ValueError(f"MoELayer expects x of shape (N, {self.cfg.n_embd}) or (B, T, {self.cfg.n_embd}), "
                             f"got {tuple(x.shape)}; reshape it or set MoEConfig.n_embd to its last dimension")
        if mask is not None and (mask.dtype != torch.bool or mask.shape != x.shape[:-1]):
            raise ValueError(f"MoELayer mask must be a bool tensor of shape {tuple(x.shape[:-1])} (True at real "
                             f"tokens), got {mask.dtype} of shape {tuple(mask.shape)}")

    def route(self, xs: torch.Tensor) -> Routing:
        """The gate's decision for (M, D) real tokens, in float32 whatever autocast says (see the module
        docstring). Public so that analysis code and tests can read G(x) directly."""
        with torch.autocast(device_type=xs.device.type, enabled=False):
            xf = xs.float()  # (M, D)
            if self.cfg.gate == "switch":
                return self._switch(xf)
            return self._noisy_top_k(xf)

    def _noisy_top_k(self, xf: torch.Tensor) -> Routing:
        """H(x) = x W_g + StandardNormal() * softplus(x W_noise); G(x) = softmax(KeepTopK(H(x), k))."""
        cfg, k = self.cfg, self.cfg.top_k
        clean = xf @ self.w_gate.float()  # (M, E)
        noise_std = F.softplus(xf @ self.w_noise.float())  # (M, E)
        logits = clean + self.sample_noise(clean) * noise_std if self.training else clean  # (M, E)
        top_vals, top_idx = logits.topk(min(k + 1, cfg.n_experts), dim=-1)  # (M, k+1), or (M, k) when k = E
        kept = torch.softmax(top_vals[:, :k], dim=-1)  # (M, k)
        gates = torch.zeros_like(logits).scatter(1, top_idx[:, :k], kept)  # (M, E)
        chosen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, top_idx[:, :k], True)  # (M, E)
        importance = gates.sum(0)  # (E,)
        if self.training:
            load = self._smooth_load(clean, noise_std, top_vals, chosen)  # (E,)
            # the global batch's, under DDP: one all-reduce of both
            importance, load = global_sum(torch.cat([importance, load])).split(cfg.n_experts)
        else:
            load = chosen.float().sum(0)  # (E,)
        losses = {"importance_loss": cfg.w_importance * cv_squared(importance),
                  "load_loss": cfg.w_load * cv_squared(load)}
        return Routing(gates, chosen, logits, losses)

    def _smooth_load(self, clean: torch.Tensor, noise_std: torch.Tensor, top_vals: torch.Tensor,
                     chosen: torch.Tensor) -> torch.Tensor:
        """Load(X)_i = sum_x P(x, i), the expected number of tokens sent to expert i when only its own noise is
        redrawn: P(x, i) = Phi(((x W_g)_i - kth_excluding(H(x), k, i)) / softplus((x W_noise)_i)). Expert i
        stays in the top k if its H beats the k-th largest of the others: the (k+1)-th largest of all when i
        is in the top k, else the k-th largest. Gradients reach W_g and W_noise through Phi."""
        k = self.cfg.top_k
        if k == self.cfg.n_experts:  # every expert is always chosen: P = 1
            return torch.full_like(clean[0], float(clean.shape[0]))  # (E,)
        if_in = top_vals[:, k:k + 1]  # (M, 1) the (k+1)-th largest H
        if_out = top_vals[:, k - 1:k]  # (M, 1) the k-th largest H
        threshold = torch.where(chosen, if_in, if_out)  # (M, E)
        # The floor only guards a softplus that underflowed to 0 (x W_noise < about -100).
        prob = torch.special.ndtr((clean - threshold) / noise_std.clamp_min(1e-6))  # (M, E)
        return prob.sum(0)  # (E,)

    def _switch(self, xf: torch.Tensor) -> Routing:
        """p = softmax(x W_r); each token goes to argmax p, scaled by its p. Balance loss alpha * E * sum_i
        f_i * P_i, with f_i the share of tokens the router sends to expert i (before capacity drops, as in
        Fedus et al.'s code) and P_i the mean router probability of expert i."""
        cfg = self.cfg
        logits = xf @ self.w_gate.float()  # (M, E)
        probs = torch.softmax(logits, dim=-1)  # (M, E)
        top_p, top_i = probs.max(dim=-1)  # (M,), (M,)
        gates = torch.zeros_like(probs).scatter(1, top_i[:, None], top_p[:, None])  # (M, E)
        chosen = torch.zeros_like(probs, dtype=torch.bool).scatter(1, top_i[:, None], True)  # (M, E)
        if self.training:  # the global batch's shares under DDP, from one all-reduce of counts, sums and M
            e = cfg.n_experts
            total = global_sum(torch.cat([chosen.float().sum(0), probs.sum(0), xf.new_tensor([xf.shape[0]])]))
            f, p_mean = total[:e] / total[-1], total[e:2 * e] / total[-1]  # (E,), (E,)
        else:
            f, p_mean = chosen.float().mean(0), probs.mean(0)  # (E,), (E,)
        loss = cfg.switch_alpha * cfg.n_experts * (f * p_mean).sum()  # ()
        return Routing(gates, chosen, logits, {"switch_loss": loss})

    def _apply_capacity(self, routing: Routing, use_capacity: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(keep, slot), both (M, E): slot is a token's arrival order at each expert (token order, or by
        decreasing largest gate with priority='batch'), and keep drops the assignments past the capacity."""
        chosen = routing.chosen
        if self.cfg.priority == "batch":
            order = routing.gates.detach().max(dim=-1).values.argsort(descending=True, stable=True)  # (M,)
            slot = torch.empty_like(chosen, dtype=torch.long)
            slot[order] = chosen[order].long().cumsum(0) - 1  # (M, E) arrival order in priority order
        else:
            slot = chosen.long().cumsum(0) - 1  # (M, E), -1 .. count-1; meaningful where chosen
        cap = self.cfg.capacity(chosen.shape[0]) if use_capacity else None
        keep = chosen if cap is None else chosen & (slot < cap)  # (M, E)
        return keep, slot

    def _experts(self, xs: torch.Tensor, gates: torch.Tensor, keep: torch.Tensor, slot: torch.Tensor) -> torch.Tensor:
        """Scatter the kept assignments into (E, S, D) expert slots, run every expert at once with two batched
        matmuls, and gather each output back to its token, weighted by its gate. S is the fullest expert's
        count: at most the capacity, and up to M without one."""
        e, d = self.cfg.n_experts, self.cfg.n_embd
        tok, exp = keep.nonzero(as_tuple=True)  # (A,), (A,): the kept token-expert assignments
        n_slots = max(int(keep.sum(0).max()), 1)
        where = exp * n_slots + slot[tok, exp]  # (A,) row of each assignment in the flattened slots
        buf = xs.new_zeros(e * n_slots, d).index_copy(0, where, xs[tok])  # (E*S, D); unused slots stay zero
        h = F.gelu(torch.baddbmm(self.b_in[:, None, :], buf.view(e, n_slots, d), self.w_in))  # (E, S, F)
        out = torch.baddbmm(self.b_out[:, None, :], h, self.w_out)  # (E, S, D)
        picked = out.reshape(e * n_slots, d)[where] * gates[tok, exp, None]  # (A, D)
        return torch.zeros_like(xs).index_add(0, tok, picked.to(xs.dtype))  # (M, D)

    def _aux(self, routing: Routing, keep: torch.Tensor) -> dict[str, Any]:
        """The balance loss to train on, and detached plain-Python statistics to log."""
        aux_loss = sum(routing.losses.values(), torch.zeros((), device=keep.device))  # ()
        probs = torch.softmax(routing.logits, dim=-1)  # (M, E), with gradient for callers' routing losses
        with torch.no_grad():
            n_assigned = int(routing.chosen.sum())
            dropped = n_assigned - int(keep.sum())
            entropy = torch.special.entr(probs).sum(-1).mean()  # ()
            aux: dict[str, Any] = {"aux_loss": aux_loss, "router_probs": probs}
            aux.update({name: loss.item() for name, loss in routing.losses.items()})
            aux.update(dropped=dropped, dropped_frac=dropped / n_assigned, router_entropy=float(entropy),
                       expert_load=routing.chosen.sum(0).tolist())
        return aux

    def _empty_aux(self, device: torch.device) -> dict[str, Any]:
        """aux for a call with no real token (all padding): no loss, nothing routed."""
        names = ("switch_loss",) if self.cfg.gate == "switch" else ("importance_loss", "load_loss")
        aux: dict[str, Any] = {"aux_loss": torch.zeros((), device=device)}
        aux.update({name: 0.0 for name in names})
        aux.update(dropped=0, dropped_frac=0.0, router_entropy=0.0, expert_load=[0] * self.cfg.n_experts,
                   router_probs=torch.zeros(0, self.cfg.n_experts, device=device))
        return aux
