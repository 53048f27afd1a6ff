"""The few-shot protocol on a goal family (hidden-goal tasks): every method on the same held-out seeds, each episode
prompted with demonstrations of its own goal, one adapted model per goal, and the oracle."""

import numpy as np
import pytest

from gatosuite.agent.train import TrainArgs, train
from gatosuite.datasets.collect import collect
from gatosuite.envs.hidden import GOAL_FAMILIES
from gatosuite.errors import ConfigError
from gatosuite.evaluation.evaluate import EvalSettings
from gatosuite.evaluation.fewshot_goal import fewshot_goal_family


def _train(tmp_path, task, text_model):
    collect(task, 4, tmp_path / "data", progress=False)
    out = tmp_path / task
    train(TrainArgs(tasks=task, root=tmp_path / "data", out=out, window=90, batch_size=4, steps=3, warmup=1,
                    val_fraction=0.0, val_every=0, log_every=1, precision="fp32", obs_norm=True,
                    segment_steps=8), text_model, progress=False)
    return out / "checkpoint"


@pytest.mark.slow
def test_every_method_plays_the_same_held_out_goals(tmp_path, text_model):
    ckpt = _train(tmp_path, "reacher-goal", text_model)
    oracle = _train(tmp_path, "reacher-goal-oracle", text_model)
    s = EvalSettings(episodes=3, envs=3, reps=50, precision="fp32")
    out = fewshot_goal_family(ckpt, "reacher-goal-heldout", tmp_path / "data", tmp_path / "work", [1, 2], s,
                              steps=2, progress=False, oracle=oracle, video_dir=tmp_path / "videos")
    fam = GOAL_FAMILIES["reacher-goal"]
    assert out["seeds"] == [1000, 1001, 1002]
    assert out["variants"] == {str(x): fam.variant(x, True) for x in out["seeds"]} == {"1000": 50, "1001": 51,
                                                                                       "1002": 52}
    assert out["demos"]["seeds"] == list(range(20))  # goal j's demonstrations: seeds j and j + 10
    m = out["methods"]
    assert set(m) == {"zero-shot", "prompting", "finetune", "scratch", "oracle"}
    assert set(m["prompting"]) == set(m["finetune"]) == set(m["scratch"]) == {"1", "2"}
    for method in m.values():
        for entry in method.values():
            lo, hi = entry["normalized_ci"]
            assert lo <= entry["normalized"] <= hi
    import imageio.v2 as imageio

    frames = imageio.mimread(tmp_path / out["video"], memtest=False)  # zero-shot and prompted, side by side
    single = imageio.mimread(tmp_path / "videos" / "reacher-goal-heldout-zero-shot.mp4", memtest=False)
    assert frames[0].shape[1] == 2 * single[0].shape[1] and len(frames) == len(single)
    strip = imageio.imread((tmp_path / out["video"]).with_suffix(".png"))  # 4 of its frames, one above the other
    assert strip.shape[1] == frames[0].shape[1] and strip.shape[0] > 4 * frames[0].shape[0]
    np.testing.assert_array_equal(strip[-frames[-1].shape[0]:], frames[-1])  # the last frame closes the strip
    # one fine-tuned and one scratch model per goal played, for each k
    work = tmp_path / "work" / "reacher-goal-heldout"
    assert sorted(p.name for p in work.iterdir()) == ["goal50", "goal51", "goal52"]
    assert sorted(p.name for p in (work / "goal50").iterdir()) == ["finetune-k1", "finetune-k2", "scratch-k1",
                                                                    "scratch-k2"]


def test_only_a_goal_familys_held_out_task_is_accepted(tmp_path):
    with pytest.raises(ConfigError, match="not a goal family's held-out task; those are: "):
        fewshot_goal_family(tmp_path, "reacher-goal", tmp_path, tmp_path, [1], EvalSettings())
    with pytest.raises(ConfigError, match="reach the evaluation seeds"):
        fewshot_goal_family(tmp_path, "reacher-goal-heldout", tmp_path, tmp_path, [200], EvalSettings())
