"""PathNet between tasks of the continual protocol (agent/models/pathnet/continual.py), through real
checkpoints: the last path and the shared parameters are frozen and kept bit for bit, everything else is
re-initialised, the next task gets a seeded path of its own, the parameters each task adds are counted, and
after training the next task the first task's path gives bitwise its old outputs."""

import pytest
import torch

from gatosuite.agent.checkpoint import load_model, save_checkpoint
from gatosuite.agent.models.pathnet import continual


@pytest.fixture
def stage0(pathnet_small, text_model, tmp_path):
    model, batch = pathnet_small
    save_checkpoint(tmp_path / "stage0", model, text_model)
    return model, batch, tmp_path


def _logits(model, batch):
    model.eval()
    with torch.no_grad():
        return model(batch)[0].clone()


def test_the_next_task_starts_from_frozen_old_modules_and_fresh_others(stage0, text_model):
    model0, batch, tmp = stage0
    record = continual.stage_init(tmp / "stage0", tmp / "start", 1, seed=0, text_model=text_model)
    again = continual.stage_init(tmp / "stage0", tmp / "start-again", 1, seed=0, text_model=text_model)
    other = continual.stage_init(tmp / "stage0", tmp / "start-other", 1, seed=1, text_model=text_model)
    assert record == again and record != other  # seeded by (training seed, stage)
    start, _ = load_model(tmp / "start")
    assert start.path.tolist() == record["path"]
    assert start.frozen.tolist() == [[True, True, False, False]] * 2 and bool(start.shared_frozen)
    old = dict(model0.named_parameters())
    for name, p in start.named_parameters():
        on_old_path = name.startswith(("grid.0.0.", "grid.0.1.", "grid.1.0.", "grid.1.1."))
        shared = not name.startswith("grid.")
        assert p.requires_grad == (not (on_old_path or shared)), name
        if on_old_path or shared:
            assert torch.equal(p, old[name]), name
    assert not torch.equal(start.grid[0][2].fc.weight, model0.grid[0][2].fc.weight)  # re-initialised


def test_params_added_count_the_new_modules_and_the_first_tasks_shared_ones(stage0, text_model):
    model0, _, tmp = stage0
    per_module = sum(p.numel() for p in model0.grid[0][0].parameters())
    shared = sum(p.numel() for n, p in model0.named_parameters() if not n.startswith("grid."))
    assert continual.stage_end(tmp / "stage0")["params_added"] == 4 * per_module + shared
    record = continual.stage_init(tmp / "stage0", tmp / "start", 1, seed=0, text_model=text_model)
    fresh = sum(1 for row in record["path"] for k in row if k >= 2)  # modules 0 and 1 of each layer are frozen
    assert continual.stage_end(tmp / "start")["params_added"] == fresh * per_module


def test_training_the_next_task_leaves_the_first_tasks_outputs_bitwise(stage0, text_model):
    model0, batch, tmp = stage0
    before = _logits(model0, batch)
    first = continual.stage_end(tmp / "stage0")
    continual.stage_init(tmp / "stage0", tmp / "start", 1, seed=0, text_model=text_model)
    model, _ = load_model(tmp / "start")
    model.train()
    opt = torch.optim.AdamW(model.param_groups(0.1), lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        model(batch)[1].backward()
        opt.step()
    save_checkpoint(tmp / "stage1", model, text_model)
    trained, _ = load_model(tmp / "stage1")
    assert not torch.equal(_logits(trained, batch), before)  # the second task's path computes something else
    continual.select(trained, first)
    assert torch.equal(_logits(trained, batch), before)


def test_a_policy_for_a_finished_task_runs_that_tasks_path(pathnet_small, text_model, tmp_path):
    from gatosuite.agent.factory import make_policy

    model, _ = pathnet_small
    save_checkpoint(tmp_path / "stage0", model, text_model, {"tasks": ["cartpole"]})
    record = continual.stage_init(tmp_path / "stage0", tmp_path / "start", 1, seed=0, text_model=text_model)
    start, _ = load_model(tmp_path / "start")
    assert start.cfg.task_paths == (("cartpole", ((0, 1), (0, 1))),) and start.path.tolist() == record["path"]
    assert record["path"] != [[0, 1], [0, 1]]  # the next task's own path (seed 0 draws another)
    policy = make_policy(tmp_path / "start", "cartpole", device="cpu", precision="fp32")
    assert policy.model.path.tolist() == [[0, 1], [0, 1]]
    assert make_policy(tmp_path / "start", "pendulum", device="cpu", precision="fp32").model.path.tolist() == \
        record["path"]  # a task with no recorded path runs the current one


def test_the_next_stage_starts_with_the_first_ones_recipe_and_statistics(pathnet_small, text_model, tmp_path):
    model, _ = pathnet_small
    recipe = {"train_args": {"obs_norm": "True", "recipe": "gatosuite-2026"}, "obs_stats": {"a": {"mean": [1.0]}}}
    save_checkpoint(tmp_path / "stage0", model, text_model, {"tasks": ["a"], **recipe})
    continual.stage_init(tmp_path / "stage0", tmp_path / "start", 1, seed=0, text_model=text_model)
    _, meta = load_model(tmp_path / "start")
    assert {k: meta[k] for k in recipe} == recipe
