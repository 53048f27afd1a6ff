"""Smoke runs of every CLI command for a handful of steps."""

import subprocess
import sys

import pytest

from gatosuite.cli import main


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "gatosuite", "--help"], capture_output=True, text=True, check=True)
    for cmd in ("tokenize", "text-model", "demo"):
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


def test_demo_walkthrough(capsys):
    main(["demo"])
    out = capsys.readouterr().out
    assert "CartPole-v1" in out and "Pendulum-v1" in out and "IMAGE" in out and "'▁go'" in out
