"""evaluate_tasks / build_info on a small untrained model, and bad input: unknown tasks, tasks that are
not environments, and tasks needing modalities the checkpoint never trained on."""

import pytest
import torch

from gatosuite.agent.checkpoint import CheckpointMismatchError, save_checkpoint
from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.agent.models.gato.modeling_gato import GatoModel
from gatosuite.evaluation.evaluate import EvalSettings, build_info, evaluate_tasks, resolve_tasks, write_outputs
from gatosuite.tokenization import Vocabulary


@pytest.fixture
def checkpoint(tmp_path, text_model):
    torch.manual_seed(0)
    cfg = GatoConfig(vocab_size=Vocabulary(text_model.vocab_size).size, n_layer=1, n_head=2, n_embd=32, ffn=64,
                     context=120, max_local_positions=16, patch_channels=8)
    return save_checkpoint(tmp_path / "ckpt", GatoModel(cfg), text_model,
                           {"tasks": ["cartpole", "pendulum", "text-lm"],
                            "modalities": ["action_continuous", "action_discrete", "continuous", "separator", "text"]})


@pytest.mark.slow
def test_evaluate_and_build_info(checkpoint, tmp_path):
    assert resolve_tasks(checkpoint, "trained") == ["cartpole", "pendulum"]  # env tasks only
    s = EvalSettings(episodes=2, envs=2, video=False, reps=100)
    tasks = evaluate_tasks(checkpoint, ["cartpole", "pendulum"], tmp_path / "eval", s, progress=False)
    info = build_info(checkpoint, tasks, s)
    assert info["seeds"] == [1000, 1001] and info["aggregate"]["overall"]["n_tasks"] == 2
    overall = info["aggregate"]["overall"]  # what the aggregate was over is recorded beside it
    assert (overall["unit"], overall["n_runs"], overall["ci"]) == ("task", 1, "episodes")
    assert overall["episodes_per_task"] == {"cartpole": 2, "pendulum": 2}
    means = sorted(tasks[t]["normalized"] for t in ("cartpole", "pendulum"))
    assert overall["iqm"] == pytest.approx(sum(means) / 2) and overall["median"] == pytest.approx(sum(means) / 2)
    assert info["profile"]["unit"] == "task" and info["profile"]["n_tasks"] == 2
    assert tasks["cartpole"]["episodes"][0]["seed"] == 1000 and tasks["cartpole"]["video"] is None
    paths = write_outputs(info, tmp_path / "eval")
    assert paths["eval_info"].is_file() and paths["html"].is_file()
    assert "over 2 tasks x 1 training run (each task's mean over its 2 episodes)" in paths["markdown"].read_text()


def test_bad_tasks_are_clear_errors(checkpoint, tmp_path):
    s = EvalSettings(episodes=1, video=False)
    with pytest.raises(KeyError, match="unknown task 'nope'"):
        resolve_tasks(checkpoint, "nope")
    with pytest.raises(ValueError, match="not an environment"):
        evaluate_tasks(checkpoint, ["text-lm"], tmp_path, s, progress=False)
    with pytest.raises(CheckpointMismatchError, match="needs .*image.*never saw in training"):
        evaluate_tasks(checkpoint, ["babyai-gotoredball"], tmp_path, s, progress=False)
