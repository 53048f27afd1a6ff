"""`gatosuite train-expert`: SB3 SAC that a kill does not set back. A training stopped and resumed from its
checkpoint ends with the same weights, bit for bit, and the same training curve as one that never stopped;
a checkpoint that is unreadable, from another run, or already there is one clear error."""

import csv
import json
from pathlib import Path

import gymnasium as gym
import pytest
from safetensors.torch import load_file

from gatosuite.envs.experts.train import train_sac
from gatosuite.errors import ConfigError, CorruptFileError, DataNotFoundError, RunExistsError
from gatosuite.locks import BusyError, exclusive

pytestmark = pytest.mark.slow


def _pendulum():
    return gym.make("Pendulum-v1", max_episode_steps=50)


def _train(tmp_path, run, steps, resume=False, **kw):
    base = dict(eval_every=40, eval_episodes=1, out_dir=tmp_path / run / "weights", work=tmp_path / run / "work",
                resume=resume, ckpt_every=100, learning_starts=30, buffer_size=1000)
    base.update(kw)
    return train_sac(_pendulum, "pendulum", steps, minutes=60, seed=3, **base)


def _curve(tmp_path, run):
    with (tmp_path / run / "weights" / "pendulum.train.csv").open() as f:
        return [(int(r[0]), float(r[2])) for r in csv.reader(f)]  # (step, eval return); r[1] is wall-clock


def test_a_resumed_training_ends_with_the_weights_of_one_that_never_stopped(tmp_path):
    _train(tmp_path, "straight", 200)
    _train(tmp_path, "killed", 130)  # stops after step 130; its last checkpoint is at step 100's episode start
    state = json.loads((tmp_path / "killed" / "work" / "sac-state" / "state.json").read_text())
    assert state["num_timesteps"] == 100 and state["buffer"]["stored"] == 100
    _train(tmp_path, "killed", 200, resume=True)
    want = load_file(str(tmp_path / "straight" / "work" / "final.safetensors"))
    got = load_file(str(tmp_path / "killed" / "work" / "final.safetensors"))
    assert want.keys() == got.keys()
    assert all((want[k] == got[k]).all() for k in want)
    assert _curve(tmp_path, "killed") == _curve(tmp_path, "straight")  # replayed evals are not written twice
    assert [s for s, _ in _curve(tmp_path, "straight")] == [40, 80, 120, 160, 200]
    best_a = load_file(str(tmp_path / "straight" / "weights" / "pendulum.safetensors"))
    best_b = load_file(str(tmp_path / "killed" / "weights" / "pendulum.safetensors"))
    assert all((best_a[k] == best_b[k]).all() for k in best_a)


def test_checkpoint_faults_are_one_clear_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="nothing to resume"):
        _train(tmp_path, "a", 120, resume=True)
    _train(tmp_path, "a", 120)
    with pytest.raises(RunExistsError, match="--resume"):
        _train(tmp_path, "a", 120)  # a second fresh start would overwrite the checkpoint
    with pytest.raises(ConfigError, match="buffer size or seed"):
        _train(tmp_path, "a", 120, resume=True, buffer_size=500)
    with exclusive(tmp_path / "a" / "work" / ".lock", "a test", ""), pytest.raises(BusyError, match="training"):
        _train(tmp_path, "a", 120, resume=True)  # two trainings of one folder: the second is refused
    (tmp_path / "a" / "work" / "sac-state" / "buffer.npz").write_bytes(b"truncated")
    with pytest.raises(CorruptFileError, match="delete"):
        _train(tmp_path, "a", 120, resume=True)


def test_a_relative_out_folder_is_the_callers_not_one_inside_envs_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train_sac(_pendulum, "pendulum", 80, minutes=60, seed=3, eval_every=40, eval_episodes=1,
              out_dir=Path("out"), work=tmp_path / "work", ckpt_every=100, learning_starts=30, buffer_size=1000)
    assert (tmp_path / "out" / "pendulum.safetensors").is_file()
    with (tmp_path / "out" / "pendulum.train.csv").open() as f:
        assert [int(row[0]) for row in csv.reader(f)] == [40, 80]  # both evaluations found the candidate
