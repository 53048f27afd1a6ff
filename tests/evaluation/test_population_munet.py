"""muNet's evolution of a new task's model through the population driver (evaluation/population.py, with the
family's binding agent/models/munet/candidate.py) on synthetic episodes: the seed route is scored, children are
built, trained and scored, only those beating their parents stay, the best becomes the task's route; a run
stopped after a generation resumes to the uninterrupted one, and 1 worker and 2 Ray workers give the same
winners."""

import dataclasses

import pytest
import torch

from gatosuite.agent.candidate_training import task_data
from gatosuite.agent.checkpoint import load_model, save_checkpoint
from gatosuite.agent.families import get_family
from gatosuite.agent.models.munet.candidate import finish, name_active_route
from gatosuite.evaluation.population import EvolveSettings, evolve
from gatosuite.raytools import init_ray
from gatosuite.tokenization import Vocabulary

SMALL = dict(context=64, n_layer=2, n_embd=32, n_head=2, ffn=64)


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """The system after 'cartpole': one small route, named and frozen, with the synthetic runs' text model."""
    text, _ = task_data("pendulum", None, None, 4096, True)
    family = get_family("munet")
    torch.manual_seed(0)
    model = family.model(family.build("nano", Vocabulary(text.vocab_size).size, **SMALL))
    name_active_route(model, "cartpole")
    model.freeze()
    path = tmp_path_factory.mktemp("munet") / "system"
    save_checkpoint(path, model, text)
    return path


def _evolve(system, folder, generations, workers=1, resume=False):
    evo = get_family("munet").evolution
    opts = evo.options(system=str(system), work=str(folder / "children"))
    s = EvolveSettings(task="pendulum", generations=generations, steps=2, seed=3, options=opts, workers=workers)
    return evolve(evo.strategy(opts, 0, 2, seed=1), evo.run_candidate, s, folder / "run", resume=resume,
                  progress=False)


def _outcome(r):
    """What a run decided, without the folders it wrote to."""
    members = [{k: v for k, v in dataclasses.asdict(m).items() if k != "checkpoint"} for m in r.strategy.members]
    return [(h["scores"], h["accepted"] if "accepted" in h else None) for h in r.history], members


def test_a_munet_evolution_grows_the_new_tasks_route_and_resumes(system, tmp_path):
    whole = _evolve(system, tmp_path / "whole", 4)
    assert len(whole.history[0]["scores"]) == 1  # generation 1 scores the one seed route
    assert all(len(h["scores"]) == 2 for h in whole.history[1:])
    accepted = [m for m in whole.strategy.members if m.parent is not None]
    assert accepted and sum(len(h["rejected"]) for h in whole.history[1:]) + len(accepted) == 6
    assert all(m.score > whole.strategy._member(m.parent).score for m in accepted)
    _evolve(system, tmp_path / "part", 2)
    assert _outcome(_evolve(system, tmp_path / "part", 4, resume=True)) == _outcome(whole)
    best = whole.best
    record = finish(best["checkpoint"], best["route"], "pendulum", tmp_path / "after")
    after, _ = load_model(tmp_path / "after")
    assert [r.task for r in after.routes] == ["cartpole", "pendulum"] and not after.trainable_components()
    assert (record["params_added"] > 0) == (best["parent"] is not None)  # a seed route kept adds nothing


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_one_worker_and_two_on_ray_give_the_same_munet_winners(system, tmp_path):
    init_ray(2)
    import ray

    try:
        two = _outcome(_evolve(system, tmp_path / "two", 3, workers=2))
        assert two == _outcome(_evolve(system, tmp_path / "one", 3))
    finally:
        ray.shutdown()


def test_a_child_job_run_again_gives_the_same_score(system, tmp_path):
    """A retried job (its worker lost) or a resumed generation finds its folder used; it starts it again."""
    evo = get_family("munet").evolution
    opts = evo.options(system=str(system), work=str(tmp_path / "children"))
    job = {"task": "pendulum", "seed": 5, "steps": 2, "generation": 1, "index": 0, "options": opts,
           "candidate": {"kind": "child", "id": "g1-0", "parent_id": "route0",
                         "parent": {"checkpoint": str(system), "route": 0}, "out": str(tmp_path / "children" / "c")}}
    first = evo.run_candidate(job)
    again = evo.run_candidate(job)
    assert first["score"] == again["score"] and first["mutations"] == again["mutations"]
