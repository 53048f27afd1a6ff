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
SAMPLED = [t.id for t in SUITE.sample_per_domain(4, tasks=[t for t in SUITE if t.is_env])]
"""Four tasks of each domain, drawn with a fixed seed (SUITE.sample_per_domain), for the tests that step
episodes; the env checker and the modality check run on every task."""
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
def test_check_env_without_unexpected_warnings_and_the_declared_modalities(task_id):
    """Gymnasium's checker on every registered task, and its spaces tokenize to the modalities it declares
    (one env build for both: Meta-World's take about a second each)."""
    env = gym.make(SUITE[task_id].gymnasium_id)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    spec = TimestepSpec.from_spaces(env.observation_space, env.action_space, SUITE[task_id].max_text_tokens)
    env.close()
    unexpected = [str(w.message) for w in caught if not any(e in str(w.message) for e in EXPECTED_WARNINGS)]
    assert not unexpected, unexpected
    assert {KIND_NAMES[k] for k in spec.modalities} == set(SUITE[task_id].modalities)


@pytest.mark.parametrize("task_id", SAMPLED)
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
