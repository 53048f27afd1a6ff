"""The evaluation path end to end with scripted experts: they score about 1.0 normalized, episodes
come back in seed order with their seeds, and the first episode is written as a video; an episode that stops
at its first success has the success of the whole episode, and an env reused across rollouts plays as a fresh
one."""

import imageio.v2 as imageio
import numpy as np
import pytest

from gatosuite.envs import make_task_env
from gatosuite.errors import ConfigError
from gatosuite.evaluation.rollout import ExpertPolicy, rollout, vector_env, video_fps
from gatosuite.evaluation.scores import normalize_task


@pytest.mark.parametrize("task_id", ["cartpole", "babyai-gotoredball", "inverted-pendulum"])
def test_expert_through_the_evaluation_path_scores_about_1(task_id, tmp_path):
    seeds = [1000, 1001, 1002, 1003, 1004]
    results = rollout(ExpertPolicy(), task_id, seeds, num_envs=2, video=tmp_path / "v.mp4", progress=False)
    assert [r.seed for r in results] == seeds
    norm = normalize_task(task_id, [r.score for r in results])
    assert norm.mean() == pytest.approx(1.0, abs=0.1)
    frames = imageio.mimread(tmp_path / "v.mp4", memtest=False)
    assert 2 <= len(frames) <= 160 and frames[0].ndim == 3
    assert np.std(frames[0]) > 5  # a real scene, not a blank frame


def test_success_is_reported_only_for_success_tasks(tmp_path):
    cart = rollout(ExpertPolicy(), "cartpole", [0], progress=False)
    baby = rollout(ExpertPolicy(), "babyai-gotoredball", [0, 1], progress=False)
    assert cart[0].success is None and cart[0].score == cart[0].ret == 500.0
    assert all(r.success is True and r.score == 1.0 for r in baby)


def test_rollouts_are_deterministic_given_seeds():
    a = rollout(ExpertPolicy(), "pendulum", [3, 4, 5], num_envs=2, progress=False)
    b = rollout(ExpertPolicy(), "pendulum", [3, 4, 5], num_envs=3, progress=False)
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]


def test_video_fps_comes_from_the_env_time_step():
    assert video_fps(make_task_env("cartpole")) == pytest.approx(50.0)  # tau = 0.02 s
    assert video_fps(make_task_env("dmc-cartpole-balance")) == pytest.approx(100.0)  # control step 0.01 s


def test_bad_tasks_are_clear_errors():
    with pytest.raises(KeyError, match="unknown task"):
        rollout(ExpertPolicy(), "no-such-task", [0], progress=False)
    with pytest.raises(ValueError, match="not an environment"):
        rollout(ExpertPolicy(), "text-lm", [0], progress=False)


class StandStill:
    """Zero actions: never succeeds on mw-reach."""

    def reset(self, num_envs=1):
        self.n = num_envs

    def reset_envs(self, mask):
        pass

    def act(self, obs):
        return np.zeros((self.n, 4), dtype=np.float32)


@pytest.mark.parametrize("policy, succeeds", [(ExpertPolicy(), True), (StandStill(), False)])
def test_an_episode_stopped_at_its_first_success_has_the_whole_episodes_success(policy, succeeds):
    seeds = [1000, 1001, 1002]
    whole = rollout(policy, "mw-reach", seeds, num_envs=3, progress=False)
    stopped = rollout(policy, "mw-reach", seeds, num_envs=3, progress=False, until_success=True)
    assert [r.success for r in stopped] == [r.success for r in whole] == [succeeds] * 3
    if succeeds:  # the expert reaches within a few dozen steps of the 500
        assert all(s.length < w.length for s, w in zip(stopped, whole))
    else:
        assert [r.to_dict() for r in stopped] == [r.to_dict() for r in whole]
    cart = rollout(ExpertPolicy(), "cartpole", [0], progress=False, until_success=True)  # scored by return
    assert cart[0].length == 500


def test_an_env_reused_across_rollouts_plays_as_a_fresh_one():
    envs = vector_env("mw-reach", 2, expert=True)
    try:
        rollout(ExpertPolicy(), "mw-reach", [7, 8], num_envs=2, progress=False, envs=envs)
        again = rollout(ExpertPolicy(), "mw-reach", [1000, 1001], num_envs=2, progress=False, envs=envs)
        with pytest.raises(ConfigError, match="has 2"):
            rollout(ExpertPolicy(), "mw-reach", [1, 2, 3], num_envs=3, progress=False, envs=envs)
    finally:
        envs.close()
    fresh = rollout(ExpertPolicy(), "mw-reach", [1000, 1001], num_envs=2, progress=False)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in fresh]
