"""Training recipes: one definition, resolved once into TrainArgs, explicit flags winning, recorded in the
checkpoint; old checkpoints and old runs keep the values they were trained with."""

import ast
import dataclasses
import json

import numpy as np
import pytest
import tyro

from gatosuite.agent import recipes
from gatosuite.agent.checkpoint import config_of, read_config
from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.agent.policy import DecoderPolicy
from gatosuite.agent.recipes import GATO_2022, GATOSUITE_2026
from gatosuite.agent.train import TrainArgs, train
from gatosuite.cli import Train, main
from gatosuite.datasets.collect import collect
from gatosuite.envs import make_task_env
from gatosuite.errors import GatosuiteError

TASK = "inverted-pendulum"
SETTINGS = ("recipe", "segment_steps", "obs_norm", "overrides")


def _settings(a: TrainArgs) -> dict:
    return {k: getattr(a, k) for k in SETTINGS}


def test_the_default_is_the_recipe_that_learns_and_gato_2022_is_one_flag_away():
    assert _settings(TrainArgs()) == GATOSUITE_2026.fields()
    assert _settings(TrainArgs(recipe="gato-2022")) == GATO_2022.fields()
    assert recipes.DEFAULT_RECIPE == "gatosuite-2026" and list(recipes.RECIPES)[0] == recipes.DEFAULT_RECIPE
    from gatosuite.demo import TRAINING

    assert TRAINING == GATOSUITE_2026.fields()  # the demo trains the default recipe, defined once


def test_explicit_flags_win_over_the_recipe():
    a = TrainArgs(recipe="gato-2022", obs_norm=True)
    assert (a.obs_norm, a.segment_steps, a.overrides) == (True, 0, list(GATO_2022.overrides))
    a = TrainArgs(segment_steps=16, obs_norm=False)
    assert (a.segment_steps, a.obs_norm, a.recipe) == (16, False, "gatosuite-2026")
    a = TrainArgs(overrides=["continuous_decoding=mean", "dropout=0.1"])  # replaces only that one, adds the other
    assert a.overrides == ["value_input=token+value", "action_inputs=masked", "action_targets=hl-gauss",
                           "continuous_decoding=mean", "dropout=0.1"]
    assert TrainArgs(segment_steps=0).segment_length is None  # 0: one window per row, as the sampler takes it


def test_resolving_twice_changes_nothing():
    a = TrainArgs(recipe="gato-2022", overrides=["action_targets=hl-gauss"], obs_norm=True)
    assert dataclasses.replace(a) == a and TrainArgs(**dataclasses.asdict(a)) == a


def test_a_family_without_the_recipes_fields_takes_the_rest_of_it():
    a = TrainArgs(model="limoe")  # a contrastive encoder has no action inputs, targets or decoding
    assert a.overrides == [] and a.segment_steps == 8 and a.obs_norm is True
    with pytest.raises(GatosuiteError, match="unknown recipe 'nope'; known: gatosuite-2026, gato-2022"):
        TrainArgs(recipe="nope")
    with pytest.raises(GatosuiteError, match="--segment-steps must be >= 0"):
        TrainArgs(segment_steps=-1)


@pytest.mark.parametrize("command", ["train", "compare"])
def test_an_unknown_recipe_is_one_error_line(command, tmp_path):
    with pytest.raises(SystemExit, match="^error: unknown recipe 'nope'; known: gatosuite-2026, gato-2022$"):
        main([command, "--recipe", "nope", "--root", str(tmp_path)])


def test_the_command_line_parses_recipes_and_explains_them(capsys):
    t = tyro.cli(Train, args=["--recipe", "gato-2022", "--obs-norm"])
    assert t.recipe == "gato-2022" and t.obs_norm is True and t.segment_steps is None  # resolved in run()
    TrainArgs.__post_init__(t)
    assert (t.segment_steps, t.obs_norm, t.overrides) == (0, True, list(GATO_2022.overrides))
    t = tyro.cli(Train, args=["--no-obs-norm", "--overrides", "continuous_decoding=mean"])
    TrainArgs.__post_init__(t)
    assert t.recipe == "gatosuite-2026" and t.obs_norm is False and "continuous_decoding=mean" in t.overrides
    with pytest.raises(SystemExit):
        tyro.cli(Train, args=["--help"])
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "gatosuite-2026 (default): the recipe that learns continuous control" in out
    assert "gato-2022: the Gato paper's plain recipe" in out


def test_model_configs_keep_gatos_values_as_defaults_and_legacy():
    """Recipes apply as overrides; the config class's defaults and its legacy values (what a config.json
    that predates a field was trained with) stay Gato's, so no checkpoint loads with a changed default."""
    defaults = GatoConfig(vocab_size=10)
    for item in GATO_2022.overrides:
        name, _, value = item.partition("=")
        assert getattr(defaults, name) == value and GatoConfig.legacy[name] == value
    assert {o.partition("=")[0] for o in GATOSUITE_2026.overrides} == {o.partition("=")[0] for o in GATO_2022.overrides}


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory, text_model):
    """A gato-2022 and a default-recipe checkpoint of inverted-pendulum (2 steps each: settings, not skill)."""
    root = tmp_path_factory.mktemp("recipes")
    collect(TASK, 3, root / "data", progress=False)
    out = {}
    for name in ("gato-2022", "gatosuite-2026"):
        args = TrainArgs(tasks=TASK, root=root / "data", out=root / name, recipe=name, window=60, batch_size=2,
                         steps=2, warmup=1, val_fraction=0.0, val_every=0, log_every=1, precision="fp32")
        train(args, text_model, progress=False)
        out[name] = root / name / "checkpoint"
    return out


def _act(ckpt) -> DecoderPolicy:
    policy = DecoderPolicy(ckpt, TASK, precision="fp32")
    env = make_task_env(TASK)
    obs, _ = env.reset(seed=0)
    policy.reset(1)
    action = policy.act({k: v[None] for k, v in obs.items()} if isinstance(obs, dict) else obs[None])
    assert env.action_space.contains(np.asarray(action[0], dtype=env.action_space.dtype))
    env.close()
    return policy


def test_each_checkpoint_loads_and_acts_with_its_own_recipe(two_checkpoints):
    gato, ours = (read_config(two_checkpoints[n]) for n in ("gato-2022", "gatosuite-2026"))
    assert gato["train_args"]["recipe"] == "gato-2022" and ours["train_args"]["recipe"] == "gatosuite-2026"
    assert gato["segment_steps"] is None and not gato["obs_stats"]
    assert ours["segment_steps"] == 8 and TASK in ours["obs_stats"]
    cg, co = config_of(two_checkpoints["gato-2022"]), config_of(two_checkpoints["gatosuite-2026"])
    assert (cg.value_input, cg.action_inputs, cg.action_targets, cg.continuous_decoding) == \
        ("token", "tokens", "onehot", "argmax")
    assert (co.value_input, co.action_inputs, co.action_targets, co.continuous_decoding) == \
        ("token+value", "masked", "hl-gauss", "mode-mean")
    pg, po = _act(two_checkpoints["gato-2022"]), _act(two_checkpoints["gatosuite-2026"])
    assert pg.tok.obs_stats is None and pg.capacity == cg.context // pg.L  # the whole context: Gato's windows
    assert po.tok.obs_stats is not None and po.capacity == 8  # one training segment


def test_a_config_json_from_before_the_fields_loads_as_trained(two_checkpoints, tmp_path):
    """A gato-2022 checkpoint's config.json stripped of everything added since the first checkpoints (the
    model's input, target and decoding fields, segment_steps, obs_stats, the recipe) loads and acts as it
    was trained, whatever the default recipe is now."""
    import shutil

    old = tmp_path / "old"
    shutil.copytree(two_checkpoints["gato-2022"], old)
    meta = json.loads((old / "config.json").read_text())
    for name in GatoConfig.legacy:
        del meta["model"][name]
    for name in ("segment_steps", "obs_stats"):
        del meta[name]
    for name in ("recipe", "segment_steps", "obs_norm", "overrides"):
        del meta["train_args"][name]
    (old / "config.json").write_text(json.dumps(meta))
    assert config_of(old) == config_of(two_checkpoints["gato-2022"])
    policy = _act(old)
    assert policy.tok.obs_stats is None and policy.capacity == policy.model.cfg.context // policy.L


def _strip_recipe(ckpt, **legacy_strings) -> dict:
    """Rewrite a checkpoint's train_args as a run from before recipes recorded them."""
    path = ckpt / "config.json"
    meta = json.loads(path.read_text())
    del meta["train_args"]["recipe"]
    meta["train_args"].update(legacy_strings)
    path.write_text(json.dumps(meta))
    return meta["train_args"]


@pytest.mark.parametrize("trained", ["gato-2022", "gatosuite-2026"])
def test_resuming_a_run_from_before_recipes_keeps_its_values(tmp_path, text_model, trained):
    """A run recorded before recipes (defaults then Gato's; the demo's values passed as flags) resumes with
    no recipe flags on the values it was trained with, not today's default recipe."""
    collect(TASK, 3, tmp_path / "data", progress=False)
    common = dict(tasks=TASK, root=tmp_path / "data", out=tmp_path / "run", window=60, batch_size=2, steps=3,
                  warmup=1, val_fraction=0.0, val_every=0, log_every=1, precision="fp32")
    train(TrainArgs(**common, recipe=trained, stop_at=1), text_model, progress=False)
    old = _strip_recipe(tmp_path / "run" / "checkpoint",
                        **({"segment_steps": "None"} if trained == "gato-2022" else {}))
    resumed = TrainArgs(**common, resume=True)
    assert resumed.recipe == "gato-2022"  # what TrainArgs' defaults were
    assert (resumed.segment_steps, resumed.obs_norm, resumed.overrides) == \
        (recipes.RECIPES[trained].segment_steps, recipes.RECIPES[trained].obs_norm, ast.literal_eval(old["overrides"]))
    assert train(resumed, text_model, progress=False)["step"] == 3  # the model config matched
    meta = read_config(tmp_path / "run" / "checkpoint")
    assert meta["segment_steps"] == (recipes.RECIPES[trained].segment_steps or None)


def test_a_resumed_run_records_the_same_resolved_values(tmp_path, text_model):
    collect(TASK, 3, tmp_path / "data", progress=False)
    common = dict(tasks=TASK, root=tmp_path / "data", out=tmp_path / "run", window=60, batch_size=2, steps=2,
                  warmup=1, val_fraction=0.0, val_every=0, log_every=1, precision="fp32")
    train(TrainArgs(**common, recipe="gato-2022", obs_norm=True, stop_at=1), text_model, progress=False)
    before = read_config(tmp_path / "run" / "checkpoint")["train_args"]
    resumed = TrainArgs(**common, resume=True)  # no recipe flags: the run's own
    assert {k: str(getattr(resumed, k)) for k in SETTINGS} == {k: before[k] for k in SETTINGS}
    train(resumed, text_model, progress=False)
    after = read_config(tmp_path / "run" / "checkpoint")["train_args"]
    assert {k: after[k] for k in SETTINGS} == {k: before[k] for k in SETTINGS}
