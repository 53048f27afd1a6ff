"""PathNet: the mutation operator and the tournament follow their definitions, a resumed evolution equals an
uninterrupted one, and frozen modules take no gradient, never change, and keep an earlier path's outputs."""

import json

import numpy as np
import pytest
import torch

from gatosuite.agent.families import get_family
from gatosuite.agent.models.pathnet.evolution import Population, mutate, random_path

L, N, M = 4, 3, 10


def test_mutation_follows_its_definition():
    rng = np.random.default_rng(0)
    path = random_path(rng, L, N, M)
    draws = np.stack([mutate(path, rng, M) for _ in range(20_000)])  # (draws, L, N)
    delta = (draws - path[None]) % M  # offsets modulo M
    changed = delta != 0
    # an entry is hit with probability 1/(N*L) and then moved by an offset in {-2..2}: 4 of 5 offsets move it
    assert changed.mean() == pytest.approx((1 / (N * L)) * 4 / 5, rel=0.05)
    assert set(np.unique(delta[changed])) == {1, 2, M - 2, M - 1}  # +-1 and +-2, wrapped around the layer
    assert draws.min() >= 0 and draws.max() < M


def test_mutation_wraps_at_the_layer_edges():
    rng = np.random.default_rng(1)
    edge = np.zeros((L, N), dtype=np.int64)
    draws = np.stack([mutate(edge, rng, M) for _ in range(5000)])
    assert {M - 2, M - 1, 1, 2} <= set(np.unique(draws)) <= {0, 1, 2, M - 2, M - 1}


def test_random_paths_pick_distinct_modules_per_layer():
    p = random_path(np.random.default_rng(2), L, N, M)
    assert p.shape == (L, N) and all(len(set(row)) == N for row in p.tolist())


def test_the_tournament_keeps_the_winner_and_overwrites_the_loser():
    pop = Population.random(8, L, N, M, seed=3)
    for _ in range(50):
        a, b = pop.pair()
        assert a != b
        before = [p.copy() for p in pop.paths]
        fa, fb = float(pop.rng.random()), float(pop.rng.random())
        winner, loser = pop.settle(a, b, fa, fb)
        assert winner == (a if fa >= fb else b) and {winner, loser} == {a, b}
        np.testing.assert_array_equal(pop.paths[winner], before[winner])  # kept as it was
        step = (pop.paths[loser] - before[winner]) % M  # the loser: the winner's copy, mutated
        assert np.isin(step, [0, 1, 2, M - 2, M - 1]).all()
        assert pop.fitness[loser] is None and pop.fitness[winner] == max(fa, fb)
        assert all(np.array_equal(pop.paths[i], before[i]) for i in range(8) if i not in (a, b))
    assert pop.generation == 50 and pop.fitness[pop.best()] == max(f for f in pop.fitness if f is not None)


def _evolve(pop, generations):
    for _ in range(generations):
        a, b = pop.pair()
        pop.settle(a, b, float(pop.paths[a].sum()), float(pop.paths[b].sum()))  # any deterministic fitness
    return pop


def test_a_resumed_evolution_equals_an_uninterrupted_one():
    whole = _evolve(Population.random(6, L, N, M, seed=4), 40)
    half = _evolve(Population.random(6, L, N, M, seed=4), 25)
    resumed = _evolve(Population.from_dict(json.loads(json.dumps(half.to_dict()))), 15)
    assert resumed.generation == whole.generation == 40
    assert all(np.array_equal(p, q) for p, q in zip(resumed.paths, whole.paths))
    assert resumed.fitness == whole.fitness


@pytest.fixture
def small(pathnet_small):
    return pathnet_small


def test_frozen_modules_take_no_gradient_and_keep_an_earlier_paths_outputs(small):
    model, batch = small
    first = torch.tensor([[0, 1], [0, 1]])
    model.set_path(first)
    model.eval()
    with torch.no_grad():
        before = model(batch)[0].clone()
    model.freeze_path()
    model.freeze_shared()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(n.startswith(("grid.0.0.", "grid.0.1.", "grid.1.0.", "grid.1.1.", "tok", "pos",
                                        "local", "row", "col", "value", "patch", "ln_f")) for n in frozen)
    model.reinit_unfrozen(torch.Generator().manual_seed(1))
    model.set_path(torch.tensor([[1, 2], [0, 3]]))  # the next task's path reuses frozen modules 1 and 0
    model.train()
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        model(batch)[1].backward()
        assert all(p.grad is None for n, p in model.named_parameters() if n in frozen)
        assert model.grid[0][2].fc.weight.grad is not None  # a live module on the path learns
        opt.step()
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)
    model.set_path(first)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(batch)[0], before)  # bitwise: the first task's outputs are unchanged


def test_freezing_survives_a_state_dict_round_trip(small):
    model, _ = small
    model.freeze_path(torch.tensor([[2, 3], [1, 0]]))
    fresh = get_family("pathnet").model(model.cfg)
    fresh.load_state_dict(model.state_dict())
    assert not any(p.requires_grad for p in fresh.grid[0][2].parameters())
    assert all(p.requires_grad for p in fresh.grid[0][0].parameters())


def test_a_bad_path_is_refused(small):
    model, _ = small
    with pytest.raises(ValueError, match=r"\(2, 2\) matrix of module indices in \[0, 4\)"):
        model.set_path(torch.tensor([[0, 4], [0, 1]]))


def test_freezing_the_shared_parameters_freezes_everything_outside_the_grid(small):
    model, _ = small
    model.freeze_shared()
    outside = {n: p.requires_grad for n, p in model.named_parameters() if not n.startswith("grid.")}
    assert any(n.startswith("patch.") for n in outside)  # the image patch encoder is shared by every path
    assert not any(outside.values())
