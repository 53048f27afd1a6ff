"""Perturbed starts (collection only): seeded, spread as declared, refused where they cannot apply."""

import gymnasium as gym
import numpy as np
import pytest

from gatosuite.envs import make_task_env
from gatosuite.envs.perturb import PerturbedStart
from gatosuite.errors import ConfigError


def test_seeded_and_within_the_declared_spread():
    env = make_task_env("inverted-pendulum", perturb_start=True)
    starts = [env.reset(seed=s)[0]["state"] for s in range(40)]
    again = env.reset(seed=7)[0]["state"]
    np.testing.assert_array_equal(again, starts[7])
    x, angle, v, spin = np.array(starts).T
    assert np.abs(x).max() <= 0.81 and np.abs(x).max() > 0.6  # uniform over +-0.8 (plus the env's own 0.01)
    assert np.abs(v).max() <= 0.31 and np.abs(v).max() > 0.2  # the cart's velocity over +-0.3
    assert np.abs(angle).max() <= 0.01 and np.abs(spin).max() <= 0.01  # the pole's start is the env's own
    plain = make_task_env("inverted-pendulum")
    assert np.abs(plain.reset(seed=7)[0]["state"][0]) <= 0.01  # evaluation's env is not perturbed


def test_dm_control_velocities_are_spread_and_seeded():
    """dmc-point_mass-easy: dm_control draws the start position itself; the perturbation sets it moving."""
    env = make_task_env("dmc-point_mass-easy", perturb_start=True)
    plain = make_task_env("dmc-point_mass-easy")
    starts = np.array([env.reset(seed=s)[0]["state"] for s in range(30)])
    np.testing.assert_array_equal(env.reset(seed=3)[0]["state"], starts[3])
    np.testing.assert_allclose(starts[:, :2], [plain.reset(seed=s)[0]["state"][:2] for s in range(30)], atol=1e-6)
    v = np.abs(starts[:, 2:])
    assert v.max() <= 0.15 and v.max() > 0.1 and np.abs(plain.reset(seed=3)[0]["state"][2:]).max() == 0
    env.close(), plain.close()


def test_refused_where_it_cannot_apply():
    with pytest.raises(ConfigError, match="need a MuJoCo env"):
        PerturbedStart(gym.make("CartPole-v1"), (0.5,))
    with pytest.raises(ConfigError, match="has 1 entries; the env has 2 joint positions"):
        PerturbedStart(gym.make("InvertedPendulum-v5"), (0.5,))
    with pytest.raises(ConfigError, match="no perturbed starts for cartpole; drop --perturb-start"):
        make_task_env("cartpole", perturb_start=True)
