"""Training loop: logs, checkpoints, exact resume, and clear errors for mismatched runs."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from gatosuite.agent.checkpoint import RENAMED_TRAIN_ARGS, CheckpointMismatchError, train_args_of
from gatosuite.agent.train import TrainArgs, lr_at, train


@pytest.fixture
def caches(tmp_path, make_toy_caches):
    return make_toy_caches(tmp_path)


def _args(tmp_path, **kw):
    base = dict(out=tmp_path / "run", window=60, batch_size=4, steps=8, warmup=2, log_every=2, val_every=4,
                val_batches=1, ckpt_every=100, precision="fp32", preset="nano")
    base.update(kw)
    return TrainArgs(**base)


def test_schedule_warms_up_then_decays():
    a = TrainArgs(lr=1.0, warmup=10, steps=110, min_lr_ratio=0.1)
    assert lr_at(0, a) == pytest.approx(0.1) and lr_at(9, a) == pytest.approx(1.0)
    assert lr_at(60, a) == pytest.approx(0.55) and lr_at(110, a) == pytest.approx(0.1)


def test_train_logs_and_checkpoints(tmp_path, caches, text_model):
    summary = train(_args(tmp_path), text_model, caches, progress=False)
    assert summary["step"] == 8 and "val_loss" in summary and 0 < summary["data_fraction"] < 1
    run = tmp_path / "run"
    assert {"model.safetensors", "config.json", "tokenizer.model", "trainer_state.pt"} <= {
        p.name for p in (run / "checkpoint").iterdir()}
    rows = (run / "train.csv").read_text().splitlines()
    assert rows[0] == "step,key,value" and any(",loss_domain/classic," in r for r in rows)
    assert any((run / "tensorboard").iterdir())
    with pytest.raises(FileExistsError, match="pass --resume"):
        train(_args(tmp_path), text_model, caches, progress=False)


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path, caches, text_model):
    straight = train(_args(tmp_path / "a"), text_model, caches, progress=False)
    train(_args(tmp_path / "b", stop_at=4), text_model, caches, progress=False)  # a run killed at step 4
    resumed = train(_args(tmp_path / "b", resume=True), text_model, caches, progress=False)
    assert resumed["step"] == straight["step"] == 8
    wa = load_file(str(tmp_path / "a" / "run" / "checkpoint" / "model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "run" / "checkpoint" / "model.safetensors"))
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=1e-6)
    assert resumed["loss"] == pytest.approx(straight["loss"], abs=1e-6)


def test_resume_with_another_config_lists_the_fields(tmp_path, caches, text_model):

    train(_args(tmp_path, stop_at=2), text_model, caches, progress=False)
    with pytest.raises(CheckpointMismatchError, match=r"preset: run 'nano' vs requested 'tiny'"):
        train(_args(tmp_path, resume=True, preset="tiny"), text_model, caches, progress=False)
    # a checkpoint from before config.json recorded train_args: the model config itself is compared
    cfg = tmp_path / "run" / "checkpoint" / "config.json"
    meta = json.loads(cfg.read_text())
    del meta["train_args"]
    cfg.write_text(json.dumps(meta))
    with pytest.raises(CheckpointMismatchError, match=r"n_layer: checkpoint 4 vs requested 6.*n_embd"):
        train(_args(tmp_path, resume=True, preset="tiny"), text_model, caches, progress=False)


@pytest.mark.slow
def test_init_from_starts_at_the_checkpoint_and_records_modalities(tmp_path, caches, text_model):

    train(_args(tmp_path / "a"), text_model, caches, progress=False)
    a = tmp_path / "a" / "run" / "checkpoint"
    meta = json.loads((a / "config.json").read_text())
    assert meta["modalities"] == ["action_discrete", "continuous", "separator"]
    # lr 0: fine-tuning from a checkpoint must leave its weights exactly as they were
    train(_args(tmp_path / "b", init_from=a, lr=0.0, steps=2, preset="tiny", val_fraction=0.0), text_model, caches,
          progress=False)
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(tmp_path / "b" / "run" / "checkpoint" /
                                                                      "model.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)  # the shape came from a, not tiny


@pytest.mark.slow
def test_a_run_begun_from_a_checkpoint_resumes_with_that_checkpoints_config(tmp_path, caches, text_model):
    # the continual protocol trains each stage in slices: the first from the previous stage's weights (a
    # config unlike what these args would build), the rest by --resume without --init-from
    train(_args(tmp_path / "a"), text_model, caches, progress=False)
    a = tmp_path / "a" / "run" / "checkpoint"
    meta_a = json.loads((a / "config.json").read_text())
    earlier = {"mean": [0.5, -1.0], "std": [2.0, 3.0]}  # an earlier task's observation statistics
    (a / "config.json").write_text(json.dumps({**meta_a, "obs_stats": {"earlier-task": earlier}}))
    b = _args(tmp_path / "b", init_from=a, steps=6, preset="tiny", val_fraction=0.0)
    train(dataclasses.replace(b, stop_at=2), text_model, caches, progress=False)
    for stop in (4, None):  # twice: the second resume must still know where the run began
        train(dataclasses.replace(b, init_from=None, resume=True, stop_at=stop), text_model, caches, progress=False)
    meta = json.loads((tmp_path / "b" / "run" / "checkpoint" / "config.json").read_text())
    assert meta["train_args"]["init_from"] == str(a)
    # and it still tokenizes the earlier task as that task was trained (kept across both resumes)
    assert meta["obs_stats"]["earlier-task"] == earlier
    wa = load_file(str(a / "model.safetensors"))
    wb = load_file(str(tmp_path / "b" / "run" / "checkpoint" / "model.safetensors"))
    assert wa.keys() == wb.keys() and all(wa[k].shape == wb[k].shape for k in wa)  # a's shapes, not tiny's
    assert any(not torch.equal(wa[k], wb[k]) for k in wa)  # and it trained on


@pytest.mark.slow
def test_validation_runs_on_its_own_schedule(tmp_path, caches, text_model):
    train(_args(tmp_path, log_every=3, val_every=4), text_model, caches, progress=False)
    rows = (tmp_path / "run" / "train.csv").read_text().splitlines()
    assert sorted(int(r.split(",")[0]) for r in rows if ",val_loss," in r) == [4, 8]


def test_task_weights_are_parsed_against_the_mix(tmp_path, caches, text_model):
    from gatosuite.agent.train import parse_task_weights
    from gatosuite.errors import ConfigError

    mix = ["cartpole", "acrobot", "text-lm"]
    assert parse_task_weights(["acrobot=3", "text-lm=0.5"], mix) == {"cartpole": 1.0, "acrobot": 3.0,
                                                                     "text-lm": 0.5}
    for bad, message in [(["acrobot"], "use task=weight"), (["acrobot=-1"], "use task=weight"),
                         (["acrobot=x"], "use task=weight"), (["hopper=2"], "outside the mix"),
                         (["cartpole=0", "acrobot=0", "text-lm=0"], "at least one a positive weight")]:
        with pytest.raises(ConfigError, match=message):
            parse_task_weights(bad, mix)
    with pytest.raises(ConfigError, match="outside the mix; the mix has: cartpole"):  # train() checks them too
        train(_args(tmp_path, task_weights=["acrobot=2"]), text_model, caches, progress=False)


def test_train_any_family_logs_its_aux_loss_and_acts_through_make_policy(tmp_path, caches, text_model):
    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.policy import DecoderPolicy
    from gatosuite.envs import make_task_env

    summary = train(_args(tmp_path, model="gato-moe", val_every=0), text_model, caches, progress=False)
    assert summary["step"] == 8 and summary["aux_loss"] > 0 and 0 < summary["moe/router_entropy"]
    rows = (tmp_path / "run" / "train.csv").read_text().splitlines()
    assert any(",aux_loss," in r for r in rows) and any(",moe/load/7," in r for r in rows)
    with pytest.raises(CheckpointMismatchError, match="model: run 'gato-moe' vs requested 'gato'"):
        train(_args(tmp_path, model="gato", resume=True), text_model, caches, progress=False)
    policy = make_policy(tmp_path / "run" / "checkpoint", "cartpole")
    assert isinstance(policy, DecoderPolicy) and type(policy.model).__name__ == "MoETransformer"
    env = make_task_env("cartpole")
    obs, _ = env.reset(seed=0)
    policy.reset(1)
    action = policy.act({k: np.asarray(v)[None] for k, v in obs.items()})
    assert env.action_space.contains(int(action[0]))


def test_a_checkpoints_renamed_train_args_read_under_their_current_names():
    """Checkpoints record their TrainArgs as strings; one written before `family_start_prob` became
    `goal_start_prob` still reports its value, under the new name."""
    old = {"train_args": {"family_start_prob": "0.5", "prompt_mode": "end"}}
    assert train_args_of(old) == {"goal_start_prob": "0.5", "prompt_mode": "end"}
    assert train_args_of({"train_args": {"goal_start_prob": "0.25"}}) == {"goal_start_prob": "0.25"}
    assert train_args_of({}) == {}
    current = set(TrainArgs.__dataclass_fields__)
    assert set(RENAMED_TRAIN_ARGS.values()) <= current and not set(RENAMED_TRAIN_ARGS) & current


def test_a_family_brings_its_adapter_task_vocabulary_and_optimizer(tmp_path, caches, text_model, monkeypatch):
    """The trainer goes through the family for what it may change: its batch adapter feeds the model,
    a config with a `tasks` field gets the run's task vocabulary (kept in the checkpoint), the batch's
    task_index refers to it, and an `optimizer` hook replaces the shared AdamW."""
    from dataclasses import dataclass, replace
    from typing import ClassVar

    from gatosuite.agent import families
    from gatosuite.agent.checkpoint import load_model, load_trainer_state
    from gatosuite.agent.models.gato import FAMILY as GATO
    from gatosuite.agent.models.gato.configuration_gato import GatoConfig
    from gatosuite.agent.models.gato.modeling_gato import GatoModel

    @dataclass(frozen=True)
    class TaskedConfig(GatoConfig):
        architecture: ClassVar[str] = "test-tasked"
        tasks: tuple[str, ...] = ()

    seen = []

    def adapter(batch, cfg):
        seen.append((batch.task_index.clone(), cfg.tasks))
        return batch

    family = replace(GATO, name="test-tasked", config=TaskedConfig, adapter=adapter,
                     optimizer=lambda model, args: torch.optim.SGD(model.parameters(), lr=args.lr))
    monkeypatch.setitem(families._FAMILIES, "test-tasked", family)
    two = {**caches, "acrobot": caches["cartpole"]}  # the toy episodes under a second task's name
    train(_args(tmp_path, model="test-tasked", tasks="cartpole,acrobot", steps=3, val_every=0), text_model, two,
          progress=False)
    model, meta = load_model(tmp_path / "run" / "checkpoint")
    assert isinstance(model, GatoModel) and model.cfg.tasks == tuple(meta["tasks"])
    assert set(model.cfg.tasks) == {"cartpole", "acrobot"}
    assert len(seen) == 3 and all(tasks == model.cfg.tasks for _, tasks in seen)
    index = torch.cat([ti.flatten() for ti, _ in seen])
    assert set(index.tolist()) <= {-1, 0, 1} and {0, 1} <= set(index.tolist())  # both tasks drawn, -1 for padding
    state = load_trainer_state(tmp_path / "run" / "checkpoint")
    assert "betas" not in state["optimizer"]["param_groups"][0]  # SGD's state, not AdamW's


def test_a_bool_override_is_parsed_as_a_bool():
    from gatosuite.agent.families import get_family
    from gatosuite.agent.train import parse_overrides
    from gatosuite.errors import ConfigError

    config = get_family("unit").config
    assert parse_overrides(["shared_decoder=False"], config) == {"shared_decoder": False}
    assert parse_overrides(["shared_decoder=true"], config) == {"shared_decoder": True}
    with pytest.raises(ConfigError, match="'maybe' is not a valid bool"):
        parse_overrides(["shared_decoder=maybe"], config)
