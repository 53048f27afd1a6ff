"""Every registered environment task: Gymnasium's env checker, determinism, and its declared modalities."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gatosuite.envs  # noqa: F401  (registers gatosuite/<task>-v0)
from gatosuite.envs import SUITE, make_task_env
from gatosuite.tokenization import TimestepSpec, TokenKind

ENV_TASKS = [t.id for t in SUITE if t.is_env]
KIND_NAMES = {TokenKind.TEXT: "text", TokenKind.IMAGE: "image", TokenKind.DISCRETE: "discrete",
              TokenKind.CONTINUOUS: "continuous", TokenKind.ACTION_DISCRETE: "discrete",
              TokenKind.ACTION_CONTINUOUS: "continuous"}


EXPECTED_WARNINGS = (
    # The task env *is* a wrapper stack (raw env -> canonical observations); that is the design.
    "is different from the unwrapped version",
    # Canonical state vectors are unbounded on purpose (see envs/canonical.py).
    "observation space minimum value is -infinity",
    "observation space maximum value is infinity",
    # Pendulum ([-2, 2]) and InvertedPendulum ([-3, 3]) keep their native action bounds; the tokenizer
    # rescales every action Box to [-1, 1] itself.
    "we recommend using a symmetric and normalized space",
)


@pytest.mark.parametrize("task_id", ENV_TASKS)
def test_check_env_without_unexpected_warnings(task_id):
    env = gym.make(SUITE[task_id].gymnasium_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    env.close()
    unexpected = [str(w.message) for w in caught if not any(e in str(w.message) for e in EXPECTED_WARNINGS)]
    assert not unexpected, unexpected


@pytest.mark.parametrize("task_id", ENV_TASKS)
def test_same_seed_same_episode(task_id):
    def rollout():
        env = make_task_env(task_id)
        obs, _ = env.reset(seed=123)
        env.action_space.seed(7)
        frames = [obs]
        for _ in range(15):
            obs, r, term, trunc, _ = env.step(env.action_space.sample())
            frames.append(obs)
            if term or trunc:
                break
        env.close()
        return frames

    a, b = rollout(), rollout()
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for k in x:
            assert np.array_equal(np.asarray(x[k]), np.asarray(y[k])), k


@pytest.mark.parametrize("task_id", ENV_TASKS)
def test_declared_modalities_match_the_spaces(task_id):
    env = make_task_env(task_id)
    spec = TimestepSpec.from_spaces(env.observation_space, env.action_space, SUITE[task_id].max_text_tokens)
    env.close()
    assert {KIND_NAMES[k] for k in spec.modalities} == set(SUITE[task_id].modalities)
