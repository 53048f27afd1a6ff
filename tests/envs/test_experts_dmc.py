"""The scripted dm_control experts meet their recorded scores over a few seeded episodes (the 50-episode numbers are
measured separately). Finger-spin has no fixed bar, so there the expert must clearly beat random actions."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import shimmy  # noqa: E402

from gatosuite.envs.experts import make_expert  # noqa: E402

gym.register_envs(shimmy)

from gatosuite.envs import SUITE  # noqa: E402
from gatosuite.envs.experts.locomotion import LEARNED  # noqa: E402

_BY_EXPERT = {t.expert: t.id for t in sorted(SUITE, key=lambda t: t.id, reverse=True)
              if t.domain == "dmc" and not t.goal_family and t.expert not in LEARNED and t.expert != "dmc-finger-spin"}
SCRIPTED = sorted(_BY_EXPERT.values())
"""One state-based dm_control task per scripted expert (the first by id: finger-turn_easy for the finger-turn MPC,
reacher-easy for reacher-hard's too); every task's 50-seed mean is in envs/reference_scores.json, measured
separately. Finger-spin's MPC is slow; it is tested below."""


def _returns(gym_id: str, seeds: range, expert_name: str | None) -> list[float]:
    """Episode returns of the named expert, or of uniform random actions when `expert_name` is None."""
    env = gym.make(gym_id)
    try:
        expert = make_expert(expert_name, env) if expert_name else None
        out = []
        for seed in seeds:
            obs, info = env.reset(seed=seed)
            env.action_space.seed(seed)
            if expert is not None:
                expert.reset(env, obs, info)
            total, done = 0.0, False
            while not done:
                if expert is None:
                    action = env.action_space.sample()
                else:
                    action = expert.act(env, obs)
                    assert env.action_space.contains(action), action
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            out.append(total)
        return out
    finally:
        env.close()  # exactly once: shimmy's dm_control envs raise on a second close


@pytest.mark.slow
@pytest.mark.parametrize("task_id", SCRIPTED)
def test_scripted_expert_meets_its_record(task_id: str) -> None:
    """Three seeded episodes: their mean no more than three standard errors (of the 50-seed spread) under the bar
    where the 50-seed mean met it, else under that recorded mean. A steady expert is held close (cartpole's
    spread is 0.14); one whose catch time varies (acrobot's spread is 125) only loosely."""
    task = SUITE[task_id]
    ref = task.reference()
    assert ref, f"{task_id} has no measured reference scores"
    returns = _returns(task.gym_id, range(3), task.expert)
    target = task.bar if ref["bar_met"] else ref["expert"]
    assert np.mean(returns) >= target - 3 * ref["expert_return_std"] / np.sqrt(3) - 1e-6, (returns, ref)


@pytest.mark.slow
def test_finger_spin_expert_clearly_beats_random() -> None:
    expert = _returns("dm_control/finger-spin-v0", range(2), "dmc-finger-spin")
    rand = _returns("dm_control/finger-spin-v0", range(2), None)
    assert np.mean(expert) >= np.mean(rand) + 500, (expert, rand)


def test_experts_are_deterministic() -> None:
    """Same seed, same actions: the finger's sampler is reseeded at every reset."""
    env = gym.make("dm_control/finger-spin-v0")
    try:
        expert = make_expert("dmc-finger-spin", env)
        runs = []
        for _ in range(2):
            obs, info = env.reset(seed=7)
            expert.reset(env, obs, info)
            actions = []
            for _ in range(20):
                actions.append(expert.act(env, obs))
                obs, *_ = env.step(actions[-1])
            runs.append(np.array(actions))
        np.testing.assert_array_equal(runs[0], runs[1])
    finally:
        env.close()
