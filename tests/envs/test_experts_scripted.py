"""The scripted classic-control and MuJoCo experts meet their bars over a handful of seeded episodes.

Each runs on the raw Gymnasium env (the expert interface), with seeds 0..n-1; every action must lie in the
action space. The whole file takes a few seconds of CPU."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from gatosuite.envs.experts import make_expert

CASES = [  # (expert, gymnasium id, bar on the mean undiscounted return, episodes)
    ("cartpole", "CartPole-v1", 500.0, 3),
    ("acrobot", "Acrobot-v1", -80.0, 5),
    ("pendulum", "Pendulum-v1", -200.0, 5),
    ("mountaincar-continuous", "MountainCarContinuous-v0", 90.0, 3),
    ("inverted-pendulum", "InvertedPendulum-v5", 1000.0, 3),
    ("inverted-double-pendulum", "InvertedDoublePendulum-v5", 9000.0, 3),
    ("reacher", "Reacher-v5", -5.0, 5),
]


def _episode(env: gym.Env, expert, seed: int) -> float:
    obs, info = env.reset(seed=seed)
    expert.reset(env, obs, info)
    total, done = 0.0, False
    while not done:
        action = expert.act(env, obs)
        assert env.action_space.contains(action), action
        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
    return total


@pytest.mark.parametrize(("name", "gym_id", "bar", "episodes"), CASES, ids=[c[0] for c in CASES])
def test_scripted_expert_meets_bar(name: str, gym_id: str, bar: float, episodes: int) -> None:
    env = gym.make(gym_id)
    try:
        expert = make_expert(name, env)
        returns = [_episode(env, expert, seed) for seed in range(episodes)]
    finally:
        env.close()
    assert np.mean(returns) >= bar, returns


def test_acrobot_expert_is_deterministic() -> None:
    """Same seed, same episode: the search must not depend on hidden randomness."""
    env = gym.make("Acrobot-v1")
    expert = make_expert("acrobot", env)
    assert _episode(env, expert, 7) == _episode(env, expert, 7)
    env.close()


def test_mountaincar_expert_keeps_a_margin() -> None:
    """Played at 80% of its force the expert still reaches the goal, so a clone a little off its action
    does too; the cheapest force alone reached it from 5 of 20 seeds at 95% (the class docstring)."""
    env = gym.make("MountainCarContinuous-v0")
    expert = make_expert("mountaincar-continuous", env)
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        expert.reset(env, obs, info)
        terminated = truncated = False
        while not (terminated or truncated):
            obs, _, terminated, truncated, _ = env.step(0.8 * expert.act(env, obs))
        assert terminated, f"seed {seed}: did not reach the goal at 80% of the expert's force"
        assert expert.mag < 0.5  # still a gentle push, not full throttle
    env.close()
