"""Perturbed starts for collection: demonstrations that begin away from the expert's equilibrium.

A stabilising expert (an LQR balancing a pole) keeps the system so close to its set point that its
demonstrations never show what to do farther away, and a clone that drifts there has nothing to imitate.
Action noise (DART, datasets/collect.py) widens the band only a little: at 20% noise inverted-pendulum's
cart never passed |x| = 0.34 in 20 episodes, and the Gato policy lost the task by letting the cart drift
to the end of its rail (README, "The demo"). Starting episodes across the reachable range shows the
expert bringing the system back from everywhere it can be. Evaluation never perturbs: the task's own
start distribution is what is scored.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from gatosuite.errors import ConfigError


class PerturbedStart(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """After each reset, offsets the MuJoCo joint positions, and optionally velocities, by uniform draws in
    [-spread, spread] (one half-width per `qpos` entry, then optionally one per `qvel` entry) from the env's
    own generator, so a seeded reset stays reproducible."""

    def __init__(self, env: gym.Env, spread: tuple[float, ...]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, spread=spread)
        super().__init__(env)
        u = env.unwrapped
        if not hasattr(u, "set_state") or not hasattr(u, "_get_obs"):
            raise ConfigError(f"perturbed starts need a Gymnasium MuJoCo env, not {type(u).__name__}")
        nq, nv = u.model.nq, u.model.nv
        if len(spread) not in (nq, nq + nv):
            raise ConfigError(f"start spread has {len(spread)} entries; the env has {nq} joint positions "
                              f"(and {nv} velocities)")
        self.spread = np.zeros(nq + nv)
        self.spread[:len(spread)] = spread

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        u = self.env.unwrapped
        state = np.concatenate([u.data.qpos, u.data.qvel]) + u.np_random.uniform(-self.spread, self.spread)
        u.set_state(state[:u.model.nq], state[u.model.nq:])
        return u._get_obs(), info
