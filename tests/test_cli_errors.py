"""Known failures reach the user as one `error: ...` line that names the problem and the fix, with a
non-zero exit and no traceback, through the real command line."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gatosuite.cli import main
from gatosuite.datasets import minari_store
from gatosuite.errors import EXIT_STATUS


def _error(argv: list[str]) -> str:
    """Run the CLI in-process; return the one-line error it exits with."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    msg = e.value.code
    assert isinstance(msg, str) and msg.startswith("error: "), msg
    assert "\n" not in msg, msg
    return msg


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-episode CartPole dataset and a 2-step checkpoint trained on it."""
    root = tmp_path_factory.mktemp("cli-errors")
    main(["collect", "--task", "cartpole", "--episodes", "2", "--root", str(root / "data")])
    main(["train", "--tasks", "cartpole", "--root", str(root / "data"), "--out", str(root / "run"), "--steps", "2",
          "--window", "60", "--batch-size", "2", "--val-every", "0", "--precision", "fp32"])
    return root


def test_bad_arguments(tmp_path):
    assert "--episodes and --workers must be at least 1 (got -3, 1)" in _error(
        ["collect", "--task", "cartpole", "--episodes", "-3", "--root", str(tmp_path)])
    assert "unknown task 'nope'; known: " in _error(["collect", "--task", "nope", "--root", str(tmp_path)])
    assert "no perturbed starts for cartpole; drop --perturb-start (tasks with them: " \
           "inverted-pendulum, dmc-point_mass-easy)" in _error(["collect", "--task", "cartpole", "--perturb-start",
                                                                "--root", str(tmp_path)])
    assert "--fit-schedule fits the schedule to --minutes" in _error(["train", "--fit-schedule"])
    assert "unknown precision 'fp8'" in _error(["train", "--precision", "fp8", "--root", str(tmp_path)])
    assert "no training data for 'cartpole'" in _error(["train", "--tasks", "cartpole", "--root", str(tmp_path)])
    assert "a search needs generations >= 0 (-1)" in _error(
        ["compare", "--continual", "--models", "pathnet", "--sequence", "cartpole,acrobot", "--search", "-1",
         "--root", str(tmp_path), "--out", str(tmp_path / "c")])


def _copy_data(run, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(run / "data" / "minari", data / "minari")
    return data, minari_store.dataset_dir(data, "cartpole") / "data"


def test_truncated_hdf5(run, tmp_path):
    data, files = _copy_data(run, tmp_path)
    h5 = files / "main_data.hdf5"
    h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    msg = _error(["train", "--tasks", "cartpole", "--root", str(data), "--out", str(tmp_path / "r")])
    assert "is corrupt or truncated" in msg and "collect again: gatosuite collect --task cartpole" in msg


def test_bad_dataset_metadata(run, tmp_path):
    data, files = _copy_data(run, tmp_path)
    (files / "metadata.json").write_text("{ not json")
    msg = _error(["train", "--tasks", "cartpole", "--root", str(data), "--out", str(tmp_path / "r")])
    assert "is corrupt or truncated" in msg and "collect again" in msg


def _copy_ckpt(run, tmp_path):
    ckpt = tmp_path / "checkpoint"
    shutil.copytree(run / "run" / "checkpoint", ckpt)
    return ckpt


def test_checkpoint_missing_token_kinds(run, tmp_path):
    msg = _error(["rollout", "--checkpoint", str(run / "run" / "checkpoint"), "--task", "babyai-gotoredball"])
    assert "needs discrete, image, text tokens" in msg and "Train or fine-tune with a task that has them" in msg


def test_truncated_safetensors(run, tmp_path):
    ckpt = _copy_ckpt(run, tmp_path)
    w = ckpt / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    msg = _error(["rollout", "--checkpoint", str(ckpt), "--task", "cartpole"])
    assert f"'{w}' is truncated or not a safetensors file" in msg and "copy the checkpoint again" in msg


def test_malformed_config(run, tmp_path):
    ckpt = _copy_ckpt(run, tmp_path)
    cfg = ckpt / "config.json"
    cfg.write_text(cfg.read_text()[:50])
    assert f"'{cfg}' is not a valid checkpoint config" in _error(["rollout", "--checkpoint", str(ckpt), "--task",
                                                                   "cartpole"])
    meta = {"model": {"vocab_size": 10, "n_wings": 2}}
    cfg.write_text(json.dumps(meta))
    assert "holds a model config this version cannot build" in _error(
        ["rollout", "--checkpoint", str(ckpt), "--task", "cartpole"])


def test_resume_with_another_config(run, tmp_path):
    shutil.copytree(run / "run", tmp_path / "run")
    msg = _error(["train", "--tasks", "cartpole", "--root", str(run / "data"), "--out", str(tmp_path / "run"),
                  "--resume", "--preset", "tiny", "--window", "60"])
    assert "preset: run 'nano' vs requested 'tiny'" in msg and "start a new run in another --out" in msg
    msg = _error(["train", "--tasks", "cartpole", "--root", str(run / "data"), "--out", str(tmp_path / "run"),
                  "--window", "60"])
    assert "already holds a run; pass --resume" in msg


def test_the_user_sees_one_line_and_no_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "gatosuite", "collect", "--task", "cartpole", "--episodes", "-3",
                          "--root", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == EXIT_STATUS == 1
    assert f"exit status {EXIT_STATUS}" in (Path(__file__).resolve().parents[1] / "docs/reference/cli.md").read_text()
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines == ["error: --episodes and --workers must be at least 1 (got -3, 1)"], out.stderr
