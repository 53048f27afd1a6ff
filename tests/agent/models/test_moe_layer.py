"""MoELayer: gate maths checked against numbers worked out by hand, the balance losses' gradients, balancing
against collapse in a short training run, capacity drops, padding, and bf16 autocast.

The hand-checked cases use D=2, E=3 and two tokens x1 = (1, 0), x2 = (0, 1), so x W picks out a row of W.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from gatosuite.agent.models.moe import MoEConfig, MoELayer, cv_squared
from gatosuite.errors import ConfigError

W_G = [[1.0, 0.5, 0.0], [0.0, 1.0, 2.0]]  # clean logits: x1 -> (1, 0.5, 0), x2 -> (0, 1, 2)
W_NOISE = [[0.0, 1.0, -1.0], [0.5, 0.0, 0.0]]  # noise logits: x1 -> (0, 1, -1), x2 -> (0.5, 0, 0)
X2 = [[1.0, 0.0], [0.0, 1.0]]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _softplus(z: float) -> float:
    return math.log1p(math.exp(z))


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _cv2(v: list[float]) -> float:
    """Population variance over mean squared, written out independently of the layer."""
    mean = sum(v) / len(v)
    return sum((a - mean) ** 2 for a in v) / len(v) / mean**2


def _tiny_noisy(**overrides) -> MoELayer:
    cfg = MoEConfig(n_embd=2, ffn=4, n_experts=3, top_k=2, gate="noisy-top-k", w_importance=1.0, w_load=1.0)
    layer = MoELayer(replace(cfg, **overrides))
    with torch.no_grad():
        layer.w_gate.copy_(torch.tensor(W_G))
        layer.w_noise.copy_(torch.tensor(W_NOISE))
    return layer


def _expert(layer: MoELayer, i: int, x: torch.Tensor) -> torch.Tensor:
    """Expert i on (M, D) tokens, written as a plain MLP: the reference the batched dispatch must match."""
    return F.gelu(x @ layer.w_in[i] + layer.b_in[i]) @ layer.w_out[i] + layer.b_out[i]  # (M, D)


def test_noisy_top_k_gates_and_importance_loss_by_hand():
    layer = _tiny_noisy().eval()
    x = torch.tensor(X2)
    gates = layer.route(x).gates
    # x1 keeps experts 0 and 1 (logits 1, 0.5): softmax of the pair is sigmoid(0.5), sigmoid(-0.5).
    # x2 keeps experts 2 and 1 (logits 2, 1): sigmoid(1) on expert 2, sigmoid(-1) on expert 1.
    expected = torch.tensor([[_sigmoid(0.5), _sigmoid(-0.5), 0.0], [0.0, _sigmoid(-1.0), _sigmoid(1.0)]])
    assert torch.allclose(gates, expected, atol=1e-6)
    assert gates[0, 2] == 0 and gates[1, 0] == 0  # outside the top k: exactly zero
    assert torch.allclose(gates, torch.tensor([[0.622459, 0.377541, 0.0], [0.0, 0.268941, 0.731059]]), atol=1e-6)

    y, aux = layer(x)
    importance = [0.622459 + 0.0, 0.377541 + 0.268941, 0.0 + 0.731059]
    assert aux["importance_loss"] == pytest.approx(_cv2(importance), abs=1e-6)
    assert aux["importance_loss"] == pytest.approx(0.0048810, abs=1e-6)
    # Eval mode: the load is the count of assignments, (1, 2, 1): CV^2 = (2/9) / (16/9) = 0.125.
    assert aux["load_loss"] == pytest.approx(0.125, abs=1e-6)
    assert aux["expert_load"] == [1, 2, 1]
    assert aux["aux_loss"].item() == pytest.approx(0.0048810 + 0.125, abs=1e-6)
    # The output mixes the two kept experts with those gates.
    with torch.no_grad():
        ref = torch.stack([expected[0, 0] * _expert(layer, 0, x[:1])[0] + expected[0, 1] * _expert(layer, 1, x[:1])[0],
                           expected[1, 1] * _expert(layer, 1, x[1:])[0] + expected[1, 2] * _expert(layer, 2, x[1:])[0]])
    assert torch.allclose(y, ref, atol=1e-6)


def test_cv_squared_is_population_variance_over_mean_squared():
    assert float(cv_squared(torch.tensor([1.0, 2.0, 1.0]))) == pytest.approx(0.125, abs=1e-6)
    assert float(cv_squared(torch.tensor([3.0, 3.0, 3.0]))) == 0.0
    assert float(cv_squared(torch.tensor([5.0]))) == 0.0  # one expert: 0, not NaN


def test_load_loss_by_hand_with_the_normal_cdf(monkeypatch):
    layer = _tiny_noisy(w_importance=0.0).train()
    monkeypatch.setattr(layer, "sample_noise", lambda like: torch.zeros_like(like))
    _, aux = layer(torch.tensor(X2))
    # Zero noise sample, so H = clean logits. x1: H = (1, 0.5, 0), k-th = 0.5, (k+1)-th = 0; noise std =
    # softplus(0, 1, -1). x2: H = (0, 1, 2), k-th = 1, (k+1)-th = 0; noise std = softplus(0.5, 0, 0).
    p1 = [_phi((1 - 0) / _softplus(0)), _phi((0.5 - 0) / _softplus(1)), _phi((0 - 0.5) / _softplus(-1))]
    p2 = [_phi((0 - 1) / _softplus(0.5)), _phi((1 - 0) / _softplus(0)), _phi((2 - 0) / _softplus(0))]
    assert p1 == pytest.approx([0.925447, 0.648299, 0.055232], abs=1e-6)
    load = [a + b for a, b in zip(p1, p2)]
    assert aux["load_loss"] == pytest.approx(_cv2(load), abs=1e-6)
    assert aux["load_loss"] == pytest.approx(0.0377039, abs=1e-6)
    assert aux["importance_loss"] == 0.0
    assert aux["aux_loss"].item() == pytest.approx(0.0377039, abs=1e-6)

    # With a zero noise sample H does not depend on W_noise, so W_noise's gradient can only come through the
    # softplus under Phi. Check one entry against a finite difference of the hand formula: W_noise[0][1] is
    # x1's noise logit for expert 1, which only moves p1[1] = Phi(0.5 / softplus(w)).
    aux["aux_loss"].backward()

    def hand_loss(w: float) -> float:
        return _cv2([p1[0] + p2[0], _phi(0.5 / _softplus(w)) + p2[1], p1[2] + p2[2]])

    eps = 1e-5
    numeric = (hand_loss(1.0 + eps) - hand_loss(1.0 - eps)) / (2 * eps)
    assert abs(numeric) > 1e-3
    assert layer.w_noise.grad[0, 1].item() == pytest.approx(numeric, rel=1e-3)
    assert layer.w_gate.grad.abs().sum() > 0


def test_load_loss_gradient_reaches_the_noise_and_gate_weights():
    torch.manual_seed(0)
    cfg = MoEConfig(n_embd=4, ffn=8, n_experts=4, top_k=2, w_importance=0.0, w_load=1.0)
    layer = MoELayer(cfg).train()  # the paper's zero gate init: the noise alone must get learning started
    _, aux = layer(torch.randn(16, 4))
    aux["aux_loss"].backward()
    assert layer.w_noise.grad is not None and layer.w_noise.grad.abs().sum() > 0
    assert layer.w_gate.grad is not None and layer.w_gate.grad.abs().sum() > 0
    assert layer.w_in.grad is None  # the load loss depends on the gate only

    layer.zero_grad(set_to_none=True)
    _, aux = layer.eval()(torch.randn(16, 4))  # eval: the load is a count, with no gradient
    if aux["aux_loss"].requires_grad:
        aux["aux_loss"].backward()
    assert layer.w_noise.grad is None or layer.w_noise.grad.abs().sum() == 0


def _train_router(gate: str, balance: bool, seed: int = 2, steps: int = 200) -> list[float]:
    """Train on 4 clusters, each with its own linear target map, from a gate pushed toward collapse (a
    constant input feature gives the first k experts a +3 logit for every token). Returns each expert's
    share of the assignments on fresh data, in eval mode."""
    d, n_experts, n_clusters = 8, 4, 4
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    centers = 2 * torch.randn(n_clusters, d - 1, generator=gen)  # (C, D-1)
    maps = torch.randn(n_clusters, d, d, generator=gen) / d**0.5  # (C, D, D)

    def batch(per_cluster: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = torch.arange(n_clusters).repeat_interleave(per_cluster)  # (N,)
        feats = centers[c] + 0.3 * torch.randn(len(c), d - 1, generator=gen)  # (N, D-1)
        x = torch.cat([feats, torch.ones(len(c), 1)], dim=1)  # (N, D): last feature is constant
        return x, torch.einsum("nij,nj->ni", maps[c], x)  # (N, D), (N, D)

    k = 2 if gate == "noisy-top-k" else 1
    w = 1.0 if balance else 0.0
    cfg = MoEConfig(n_embd=d, ffn=16, n_experts=n_experts, top_k=k, gate=gate, w_importance=w, w_load=w,
                    switch_alpha=w)
    layer = MoELayer(cfg)
    with torch.no_grad():
        layer.w_gate[-1, :k] = 3.0
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    for _ in range(steps):
        x, target = batch(16)
        y, aux = layer(x)
        loss = F.mse_loss(y, target) + aux["aux_loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        _, aux = layer.eval()(batch(64)[0])
    load = torch.tensor(aux["expert_load"], dtype=torch.float)  # (E,)
    return (load / load.sum()).tolist()


@pytest.mark.slow
@pytest.mark.parametrize("gate", ["noisy-top-k", "switch"])
def test_balance_losses_prevent_collapse(gate):
    # Seeds 0-9 of both gates pass these checks: balanced, the smallest share was 0.139 (uniform is 0.25);
    # unbalanced, some expert always got no assignment and the switch router sent every token to one expert.
    # Seed 2, fixed in _train_router, is far from every threshold.
    balanced = _train_router(gate, balance=True)
    collapsed = _train_router(gate, balance=False)
    assert min(balanced) > 0.10, balanced
    assert min(collapsed) < 0.02, collapsed
    assert _cv2(collapsed) > 3 * _cv2(balanced), (collapsed, balanced)
    if gate == "switch":
        assert max(collapsed) > 0.9, collapsed


def _switch_to_expert_0(n_embd: int = 4, capacity_factor: float = 1.0, priority: str = "token") -> MoELayer:
    cfg = MoEConfig(n_embd=n_embd, ffn=8, n_experts=4, top_k=1, gate="switch", capacity_factor=capacity_factor,
                    priority=priority)
    layer = MoELayer(cfg).eval()
    with torch.no_grad():
        layer.w_gate.zero_()
        layer.w_gate[:, 0] = 5.0  # positive inputs: expert 0 wins every token
    return layer


def test_capacity_keeps_the_first_tokens_and_drops_the_rest():
    torch.manual_seed(0)
    layer = _switch_to_expert_0()  # C = ceil(1.0 * 8 tokens * k=1 / 4 experts) = 2
    assert layer.cfg.capacity(8) == 2
    x = torch.rand(8, 4) + 0.5
    y, aux = layer(x)
    with torch.no_grad():
        p0 = torch.softmax(x @ layer.w_gate, dim=-1)[:, 0]  # (8,)
        ref = p0[:2, None] * _expert(layer, 0, x[:2])  # (2, D)
    assert torch.allclose(y[:2], ref, atol=1e-6)
    assert torch.all(y[2:] == 0)
    assert aux["dropped"] == 6 and aux["dropped_frac"] == pytest.approx(0.75)
    assert aux["expert_load"] == [8, 0, 0, 0]  # what the router asked for, before the drops


def test_capacity_priority_is_flattened_token_order_and_padding_uses_no_slot():
    torch.manual_seed(0)
    layer = _switch_to_expert_0()
    x = torch.rand(2, 4, 4) + 0.5  # (B, T, D)
    mask = torch.tensor([[False, True, False, True], [True, True, True, True]])  # 6 real tokens: C = 2
    y, aux = layer(x, mask)
    served = (y != 0).any(-1)  # (B, T)
    assert served.tolist() == [[False, True, False, True], [False, False, False, False]]
    assert aux["dropped"] == 4 and aux["expert_load"] == [6, 0, 0, 0]


def test_batch_priority_routing_keeps_the_tokens_the_router_is_surest_of():
    """Batch-priority routing (LIMoE, V-MoE): the C = 2 slots of expert 0 go to the two tokens with the
    largest gate, wherever they stand; token priority would keep the first two."""
    torch.manual_seed(0)
    scale = torch.tensor([0.1, 0.2, 0.9, 0.3, 1.0, 0.4, 0.5, 0.6])  # token 4, then 2, route most surely
    x = torch.full((8, 4), 0.5) * scale[:, None]  # (8, D): expert 0's probability grows with the scale
    batch_layer = _switch_to_expert_0(priority="batch")
    y, aux = batch_layer(x)
    assert (y != 0).any(-1).nonzero().squeeze(1).tolist() == [2, 4]
    assert aux["dropped"] == 6
    token_layer = _switch_to_expert_0()
    token_layer.load_state_dict(batch_layer.state_dict())
    y_token, _ = token_layer(x)
    assert (y_token != 0).any(-1).nonzero().squeeze(1).tolist() == [0, 1]
    with torch.no_grad():
        torch.testing.assert_close(y[4], _gate0(batch_layer, x)[4] * _expert(batch_layer, 0, x[4:5])[0])


def _gate0(layer: MoELayer, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.softmax(x @ layer.w_gate, dim=-1)[:, 0]  # (N,)


def test_capacity_with_top_2_ranks_tokens_not_slots():
    """k=2 of E=2: both experts take every token; C = ceil(0.5 * 6 * 2 / 2) = 3, so tokens 0-2 get both
    experts and tokens 3-5 get nothing, whatever rank each expert had in a token's top 2."""
    torch.manual_seed(0)
    layer = MoELayer(MoEConfig(n_embd=4, ffn=8, n_experts=2, top_k=2, capacity_factor=0.5)).eval()
    with torch.no_grad():
        layer.w_gate.normal_()
    x = torch.randn(6, 4)
    y, aux = layer(x)
    gates = layer.route(x).gates
    with torch.no_grad():
        ref = gates[:3, :1] * _expert(layer, 0, x[:3]) + gates[:3, 1:] * _expert(layer, 1, x[:3])  # (3, D)
    assert torch.allclose(y[:3], ref, atol=1e-6)
    assert torch.all(y[3:] == 0)
    assert aux["dropped"] == 6 and aux["dropped_frac"] == pytest.approx(0.5)


@pytest.mark.parametrize("gate,k", [("noisy-top-k", 2), ("switch", 1)])
def test_padding_is_not_routed_and_does_not_change_the_losses(gate, k):
    torch.manual_seed(0)
    cfg = MoEConfig(n_embd=4, ffn=8, n_experts=3, top_k=k, gate=gate, w_importance=1.0, w_load=1.0,
                    switch_alpha=1.0)
    layer = MoELayer(cfg).eval()
    with torch.no_grad():
        layer.w_gate.normal_()
        if layer.w_noise is not None:
            layer.w_noise.normal_(std=0.5)
    x = torch.randn(2, 5, 4)
    mask = torch.tensor([[True, True, True, False, False], [True, False, True, True, False]])
    y, aux = layer(x, mask)
    y_real, aux_real = layer(x[mask])  # only the 6 real tokens, as (N, D)
    assert torch.all(y[~mask] == 0)
    assert torch.allclose(y[mask], y_real, atol=1e-6)
    for key in ("importance_loss", "load_loss", "switch_loss", "router_entropy", "expert_load", "dropped"):
        if key in aux_real:
            assert aux[key] == pytest.approx(aux_real[key]), key
    assert sum(aux["expert_load"]) == 6 * k

    layer.train()  # with noise: garbage in the padding changes nothing either
    junk = torch.where(mask[..., None], x, 100 * torch.randn_like(x))
    torch.manual_seed(1)
    y_a, aux_a = layer(x, mask)
    torch.manual_seed(1)
    y_b, aux_b = layer(junk, mask)
    assert torch.equal(y_a, y_b)
    assert aux_a["aux_loss"].item() == aux_b["aux_loss"].item()

    y_none, aux_none = layer(x, torch.zeros(2, 5, dtype=torch.bool))  # all padding
    assert torch.all(y_none == 0) and aux_none["aux_loss"].item() == 0.0 and aux_none["expert_load"] == [0, 0, 0]


def test_switch_balance_loss_by_hand():
    cfg = MoEConfig(n_embd=2, ffn=4, n_experts=3, top_k=1, gate="switch", switch_alpha=0.01)
    layer = MoELayer(cfg).eval()
    with torch.no_grad():
        layer.w_gate.copy_(torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [-1.0, 0.5]])  # logits (1,0,-1) (0,1,0) (2,0,-2) (-1,.5,1)
    _, aux = layer(x)

    def softmax(v: list[float]) -> list[float]:
        e = [math.exp(a) for a in v]
        return [a / sum(e) for a in e]

    p = [softmax(v) for v in ([1, 0, -1], [0, 1, 0], [2, 0, -2], [-1, 0.5, 1])]
    f = [2 / 4, 1 / 4, 1 / 4]  # argmax: experts 0, 1, 0, 2
    p_mean = [sum(row[i] for row in p) / 4 for i in range(3)]
    assert aux["expert_load"] == [2, 1, 1]
    assert aux["switch_loss"] == pytest.approx(0.01 * 3 * sum(a * b for a, b in zip(f, p_mean)), abs=1e-7)
    assert aux["switch_loss"] == pytest.approx(0.0109157, abs=1e-7)
    assert aux["aux_loss"].item() == pytest.approx(0.0109157, abs=1e-7)
    entropy = sum(-sum(q * math.log(q) for q in row) for row in p) / 4
    assert aux["router_entropy"] == pytest.approx(entropy, abs=1e-6)


@pytest.mark.parametrize("gate,k", [("noisy-top-k", 2), ("switch", 1)])
def test_bf16_autocast_forward_and_backward_are_finite(gate, k):
    torch.manual_seed(0)
    layer = MoELayer(MoEConfig(n_embd=8, ffn=16, n_experts=4, top_k=k, gate=gate, capacity_factor=1.25)).train()
    x = torch.randn(2, 6, 8)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[1, 4:] = False
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, aux = layer(x, mask)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert torch.isfinite(y).all() and torch.isfinite(aux["aux_loss"])
    (y.float().pow(2).mean() + aux["aux_loss"]).backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)


@pytest.mark.parametrize("overrides,match", [
    (dict(top_k=0), "top_k must be in"),
    (dict(top_k=9), "top_k must be in"),
    (dict(gate="switch", top_k=2), "set top_k=1"),
    (dict(gate="expert-choice"), "gate must be one of noisy-top-k, switch"),
    (dict(capacity_factor=-1.0), "capacity_factor must be >= 0"),
    (dict(w_load=-0.1), "w_load must be >= 0"),
    (dict(dropout=1.0), "dropout must be in"),
    (dict(n_experts=0), "n_experts must be positive"),
])
def test_config_errors_say_what_to_fix(overrides, match):
    with pytest.raises(ConfigError, match=match):
        MoEConfig(**{"n_experts": 8, "top_k": 2, **overrides})


def test_no_capacity_limit_and_shape_errors():
    assert MoEConfig(capacity_factor=0).capacity(100) is None
    assert MoEConfig(capacity_factor=None).capacity(100) is None
    assert MoEConfig(n_experts=8, top_k=2, capacity_factor=1.25).capacity(100) == 32  # ceil(1.25 * 100 * 2 / 8)
    layer = MoELayer(MoEConfig(n_embd=4, ffn=8, n_experts=2, top_k=1))
    with pytest.raises(ValueError, match=r"\(N, 4\) or \(B, T, 4\)"):
        layer(torch.randn(3, 5))
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        layer(torch.randn(2, 3, 4), torch.ones(2, 3))
