"""muNet (agent/models/munet): the mutations against their definitions, a child that shares frozen components and
owns its clones, structural mutations that start as the identity, frozen components that take no gradient and
keep an earlier route's outputs bitwise, the parents' 0.5 ** offspring decay, a child kept only if it beats its
parent, the continual hooks, and a policy that runs its task's route."""

import dataclasses

import numpy as np
import pytest
import torch

from gatosuite.agent.checkpoint import load_model, save_checkpoint
from gatosuite.agent.factory import make_policy
from gatosuite.agent.models.munet import continual
from gatosuite.agent.models.munet.candidate import finish, name_active_route
from gatosuite.agent.models.munet.evolution import (
    LR_GRID,
    Member,
    MuNetSearch,
    MutationRates,
    build_child,
    params_added,
    sample_mutations,
    score,
)

NONE = MutationRates(clone=0.0, insert=0.0, remove=0.0, adapter=0.0, lr=0.0)
ALL = MutationRates(clone=1.0, insert=1.0, remove=1.0, adapter=1.0, lr=1.0)


def _logits(model, batch):
    model.eval()
    with torch.no_grad():
        return model(batch)[0].clone()


@pytest.fixture
def finished(munet_small):
    """The system after task 'a': its one route named and frozen."""
    model, batch = munet_small
    name_active_route(model, "a")
    model.freeze()
    return model, batch


def test_mutations_follow_their_definitions(finished, munet_small):
    model, _ = finished
    rng = np.random.default_rng(0)
    assert sample_mutations(model, 0, rng, NONE) == [{"op": "clone", "kind": "head", "index": 0}]  # own head
    ops = sample_mutations(model, 0, rng, ALL)
    assert {(o["kind"], o["index"]) for o in ops if o["op"] == "clone"} == set(model.route.components())
    assert [o["op"] for o in ops if o["op"] != "clone"] == ["remove", "insert", "adapter", "lr"]
    for _ in range(50):  # positions within the layers as they stand; the lr one notch either side of 1e-3
        ops = sample_mutations(model, 0, rng, ALL)
        n = 2
        for o in ops:
            if o["op"] == "remove":
                assert 0 <= o["at"] < n
                n -= 1
            elif o["op"] == "insert":
                assert 0 <= o["at"] <= n
                n += 1
            elif o["op"] == "adapter":
                assert 0 <= o["at"] < n
            elif o["op"] == "lr":
                assert o["to"] in (LR_GRID[2], LR_GRID[4])
    fresh = type(model)(dataclasses.replace(model.cfg, routes=()))  # nothing frozen: nothing to clone
    assert not [o for o in sample_mutations(fresh, 0, rng, ALL) if o["op"] == "clone"]


def test_a_child_shares_frozen_components_and_trains_only_its_clones(finished):
    model, batch = finished
    child = build_child(model, 0, [{"op": "clone", "kind": "block", "index": 1},
                                   {"op": "clone", "kind": "head", "index": 0}], "b")
    a, b = child.routes
    assert (a.task, b.task, child.route.task) == ("a", "b", "b")
    assert b.embed == a.embed and b.patch == a.patch and b.layers[0] == a.layers[0]  # shared
    assert b.layers[1][0] != a.layers[1][0] and b.head != a.head  # its own copies
    assert torch.equal(child.blocks[b.layers[1][0]].fc.weight, model.blocks[1].fc.weight)
    assert child.trainable_components() == [("block", b.layers[1][0]), ("head", b.head)]
    assert params_added(child) == (sum(p.numel() for p in model.blocks[1].parameters())
                                   + sum(p.numel() for p in model.heads[0].parameters()))
    assert torch.equal(_logits(child, batch), _logits(model, batch))  # copies compute what their originals did
    child.select_task("a")
    assert torch.equal(_logits(child, batch), _logits(model, batch))


def test_an_inserted_layer_and_an_adapter_start_as_the_identity_and_a_layer_can_go(finished):
    model, batch = finished
    child = build_child(model, 0, [{"op": "clone", "kind": "head", "index": 0}, {"op": "insert", "at": 1},
                                   {"op": "adapter", "at": 0}], "b")
    assert len(child.route.layers) == 3 and child.route.layers[0][1] >= 0
    assert torch.equal(_logits(child, batch), _logits(model, batch))
    shorter = build_child(model, 0, [{"op": "remove", "at": 0}, {"op": "lr", "to": 2e-3}], "b")
    assert shorter.route.layers == (model.route.layers[1],) and shorter.route.lr == 2e-3
    assert len(shorter.blocks) == 2  # route 'a' still runs both


def test_training_a_child_leaves_the_earlier_routes_outputs_bitwise(finished, text_model, tmp_path):
    model, batch = finished
    before = _logits(model, batch)
    child = build_child(model, 0, [{"op": "clone", "kind": "head", "index": 0}, {"op": "insert", "at": 2},
                                   {"op": "clone", "kind": "block", "index": 0}], "b")
    save_checkpoint(tmp_path / "child", child, text_model)
    child, _ = load_model(tmp_path / "child")  # freezing survives a checkpoint
    frozen = {n: p.clone() for n, p in child.named_parameters() if not p.requires_grad}
    assert frozen and len(frozen) < len(list(child.parameters()))
    child.train()
    opt = torch.optim.AdamW(child.param_groups(0.1), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        child(batch)[1].backward()
        assert all(p.grad is None for n, p in child.named_parameters() if n in frozen)
        opt.step()
    assert all(torch.equal(p, frozen[n]) for n, p in child.named_parameters() if n in frozen)
    assert not torch.equal(_logits(child, batch), before)
    child.select_task("a")
    assert torch.equal(_logits(child, batch), before)


def test_parents_are_drawn_by_the_offspring_decay():
    members = [Member("best", "x", 0, 3.0, offspring=1), Member("next", "x", 1, 2.0, offspring=1),
               Member("last", "x", 2, 1.0, offspring=0)]
    search = MuNetSearch(members, "w", rng=np.random.default_rng(0))
    draws = [search.draw_parent().id for _ in range(4000)]
    freq = {k: draws.count(k) / len(draws) for k in ("best", "next", "last")}
    assert abs(freq["best"] - 0.5) < 0.03 and abs(freq["next"] - 0.25) < 0.03 and abs(freq["last"] - 0.25) < 0.03
    search.members = [Member("best", "x", 0, 3.0), Member("next", "x", 1, 2.0)]
    assert {search.draw_parent().id for _ in range(50)} == {"best"}  # no offspring yet: always taken


def test_a_child_joins_only_if_it_beats_its_parent(tmp_path):
    search = MuNetSearch.seeded(tmp_path / "system", 2, tmp_path / "work", parallel=2, seed=0)
    seeds = search.propose()
    assert [c["kind"] for c in seeds] == ["score", "score"]
    search.apply(seeds, [0.5, 0.4])
    children = search.propose()
    assert [c["kind"] for c in children] == ["child", "child"]
    for c in children:
        (tmp_path / "work" / c["id"]).mkdir(parents=True)
    parents = [search._member(c["parent_id"]).score for c in children]
    summary = search.apply(children, [parents[0] + 0.1, parents[1] - 0.1])
    assert summary == {"accepted": [children[0]["id"]], "rejected": [children[1]["id"]]}
    assert not (tmp_path / "work" / children[1]["id"]).exists() and (tmp_path / "work" / children[0]["id"]).exists()
    assert search.best()["id"] == children[0]["id"]
    again = MuNetSearch.from_dict(search.to_dict())
    assert again.propose() == search.propose()  # the state, generator included, round-trips


def test_the_score_trades_quality_against_size():
    assert score(0.5, 0, 100, 0.9) == 0.5
    assert score(0.5, 100, 100, 0.9) == pytest.approx(0.45)
    assert score(0.6, 100, 100, 0.9) > score(0.5, 0, 100, 0.9)


def test_continual_hooks_grow_the_system_and_keep_the_first_tasks_outputs(munet_small, text_model, tmp_path):
    model, batch = munet_small
    before = _logits(model, batch)
    recipe = {"train_args": {"obs_norm": "True", "recipe": "gatosuite-2026"}, "obs_stats": {"a": {"mean": [1.0]}}}
    save_checkpoint(tmp_path / "stage0", model, text_model, {"tasks": ["a"], **recipe})
    first = continual.stage_end(tmp_path / "stage0")
    assert first["route"] == "a" and first["params_added"] == model.num_parameters(False)
    record = continual.stage_init(tmp_path / "stage0", tmp_path / "start", 1, seed=0, text_model=text_model)
    assert record == continual.stage_init(tmp_path / "stage0", tmp_path / "again", 1, seed=0, text_model=text_model)
    start, meta = load_model(tmp_path / "start")
    # the next stage trains with the first one's recipe, and task a is still tokenized with its statistics
    assert {k: meta[k] for k in recipe} == recipe
    assert [r.task for r in start.routes] == ["a", ""] and start.route.task == ""
    assert all(start.is_frozen(*c) for c in start.routes[0].components() if c not in start.trainable_components())
    start.train()
    opt = torch.optim.AdamW(start.param_groups(0.1), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        start(batch)[1].backward()
        opt.step()
    save_checkpoint(tmp_path / "stage1", start, text_model, {"tasks": ["b"]})
    second = continual.stage_end(tmp_path / "stage1")
    assert second["route"] == "b" and 0 < second["params_added"] < first["params_added"]
    trained, _ = load_model(tmp_path / "stage1")
    continual.select(trained, first)
    assert torch.equal(_logits(trained, batch), before)


def test_a_policy_runs_its_tasks_route(finished, text_model, tmp_path):
    model, _ = finished
    name = dataclasses.replace(model.route, task="cartpole")
    model.cfg = dataclasses.replace(model.cfg, routes=(name.to_tuple(),))
    model.routes = model.cfg.route_list()
    system = build_child(model, 0, [{"op": "clone", "kind": "head", "index": 0}], "pendulum")
    save_checkpoint(tmp_path / "system", system, text_model)
    finish(tmp_path / "system", -1, "pendulum", tmp_path / "final")
    for task in ("cartpole", "pendulum"):
        policy = make_policy(tmp_path / "final", task, device="cpu", precision="fp32")
        assert policy.model.route.task == task
    final, _ = load_model(tmp_path / "final")
    assert not final.trainable_components()  # finished: everything frozen
