"""Smoke runs of every CLI command for a handful of steps."""

import subprocess
import sys

import pytest

from gatosuite.cli import main


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "gatosuite", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("train", "tasks", "collect", "train-expert", "reference-scores", "tokenize", "text-model", "demo",
                "rollout", "evaluate", "walkthrough"):
        assert cmd in out.stdout


def test_tokenize_prints_spec_and_tokens(capsys):
    main(["tokenize", "--env", "CartPole-v1", "--steps", "2"])
    out = capsys.readouterr().out
    assert "7 tokens/timestep = 4 obs + 1 '|' + 2 action" not in out  # CartPole has 1 action token
    assert "6 tokens/timestep = 4 obs + 1 '|' + 1 action" in out
    assert out.count("SEPARATOR") == 2 and out.count("ACTION_DISCRETE") == 2 + 1  # + the spec line


def test_tokenize_unknown_env_is_a_clear_error():
    with pytest.raises(SystemExit, match="cannot make env 'NoSuchEnv-v9'"):
        main(["tokenize", "--env", "NoSuchEnv-v9"])


def test_text_model_command(tmp_path, capsys):
    main(["text-model", "--out", str(tmp_path), "--vocab", "400", "--no-stdlib"])
    assert (tmp_path / "tokenizer.model").is_file()
    out = capsys.readouterr().out
    # The suite texts alone cannot fill 400 pieces; SentencePiece stops early and the command says so.
    assert "pieces; asked for 400, the corpus supports no more" in out


@pytest.mark.slow
def test_walkthrough(capsys):
    main(["walkthrough"])
    out = capsys.readouterr().out
    assert "CartPole-v1" in out and "Pendulum-v1" in out and "IMAGE" in out and "'▁go'" in out


def test_tasks_json(capsys):
    import json

    main(["tasks", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert {"id", "domain", "tags", "modalities", "random_score", "expert_score"} <= set(rows[0])
    assert any("heldout" in r["tags"] for r in rows)


def test_tasks_table(capsys):
    main(["tasks", "--tag", "heldout"])
    out = capsys.readouterr().out
    assert "inverted-double-pendulum" in out and "cartpole " not in out


@pytest.mark.slow
def test_collect_command(tmp_path, capsys):
    main(["collect", "--task", "babyai-gotoredball", "--episodes", "2", "--root", str(tmp_path)])
    assert "babyai-gotoredball: 2 episodes" in capsys.readouterr().out
    main(["collect", "--task", "babyai-gotoredball", "--episodes", "2", "--root", str(tmp_path)])
    assert "already collected" in capsys.readouterr().out
    main(["collect", "--task", "caption", "--root", str(tmp_path)])
    assert "babyai-captions: " in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown task 'nope'"):
        main(["collect", "--task", "nope", "--root", str(tmp_path)])


def test_reference_scores_command(tmp_path, capsys):
    import json

    out = tmp_path / "refs.json"
    main(["reference-scores", "--task", "babyai-gotoredball", "--episodes", "3", "--out", str(out)])
    row = json.loads(out.read_text())["babyai-gotoredball"]
    assert row["expert"] == 1.0 and row["episodes"] == 3 and 0.0 <= row["random"] <= 1.0


@pytest.mark.slow
def test_train_expert_command(tmp_path):
    from gatosuite.envs import make_raw_env
    from gatosuite.envs.experts.learned import LearnedExpert

    main(["train-expert", "--task", "hopper", "--steps", "300", "--eval-every", "200", "--out", str(tmp_path)])
    weights = tmp_path / "hopper.safetensors"
    assert weights.is_file() and weights.stat().st_size < 1_000_000
    env = make_raw_env("hopper")
    obs, _ = env.reset(seed=0)
    action = LearnedExpert(weights, env).act(env, obs)
    assert env.action_space.contains(action)


@pytest.mark.slow
def test_train_command(tmp_path, capsys):
    main(["collect", "--task", "babyai-gotoredball", "--episodes", "3", "--root", str(tmp_path)])
    main(["train", "--tasks", "babyai-gotoredball", "--root", str(tmp_path), "--out", str(tmp_path / "run"),
          "--steps", "3", "--window", "140", "--batch-size", "2", "--log-every", "1", "--val-every", "3",
          "--val-batches", "1"])
    assert "trained to step 3" in capsys.readouterr().out
    assert (tmp_path / "run" / "checkpoint" / "model.safetensors").is_file()
    with pytest.raises(SystemExit, match="error: no training data"):
        main(["train", "--tasks", "cartpole", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "r2")])
    # the trained checkpoint through the two evaluation commands
    ckpt = str(tmp_path / "run" / "checkpoint")
    main(["rollout", "--checkpoint", ckpt, "--task", "babyai-gotoredball", "--episodes", "2",
          "--video", str(tmp_path / "v.mp4")])
    out = capsys.readouterr().out
    assert "seed 1000: return" in out and "babyai-gotoredball: normalized" in out and (tmp_path / "v.mp4").is_file()
    main(["rollout", "--checkpoint", ckpt, "--task", "babyai-gotoredball", "--episodes", "1", "--prompt-episodes", "1",
          "--root", str(tmp_path / "demos")])
    assert "babyai-gotoredball: normalized" in capsys.readouterr().out
    main(["evaluate", "--checkpoint", ckpt, "--episodes", "2", "--no-video", "--out", str(tmp_path / "eval")])
    assert (tmp_path / "eval" / "eval_info.json").is_file() and (tmp_path / "eval" / "report.html").is_file()
    with pytest.raises(SystemExit, match="unknown task 'nope'"):
        main(["evaluate", "--checkpoint", ckpt, "--tasks", "nope"])


@pytest.mark.parametrize(("command", "new", "old"), [("train", "--goal-start-prob", "--family-start-prob"),
                                                      ("demo", "--goal-minutes", "--family-minutes")])
def test_goal_family_flags_are_named_for_goal_families(command, new, old, capsys):
    """A hidden-goal task family is a goal family; "family" alone on the command line is a model family."""
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert new in out and old not in out


HEAVY = ("torch", "mujoco", "dm_control", "metaworld", "minigrid", "shimmy", "minari", "pygame")
"""torch and the simulators: a command that only prints must not wait for them to load."""


@pytest.mark.parametrize("argv", [["--help"], ["tasks"], ["train", "--help"], ["demo", "--help"]])
def test_printing_commands_import_neither_torch_nor_a_simulator(argv):
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "gatosuite", *argv], capture_output=True,
                         text=True, check=True)
    imported = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "gatosuite.cli" in imported  # the measurement saw the command's own imports
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert not heavy, heavy
