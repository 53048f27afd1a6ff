"""Perturbed starts for collection: demonstrations that begin away from the expert's equilibrium.

A stabilising expert (an LQR balancing a pole, a controller holding a point mass on its target) keeps the
system so close to its set point that its demonstrations never show what to do farther away, and a clone
that drifts there has nothing to imitate. Action noise (DART, datasets/collect.py) widens the band only a
little: at 20% noise inverted-pendulum's cart never passed |x| = 0.34 in 20 episodes, and the Gato policy
lost the task by letting the cart drift to the end of its rail (README, "The demo"). Starting episodes
across the reachable range shows the expert bringing the system back from everywhere it can be.
Evaluation never perturbs: the task's own start distribution is what is scored.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from gatosuite.errors import ConfigError

from .physics import dm_observation, dm_physics, mujoco_model


def check_perturbable(tasks: list[Any]) -> None:
    """Refuses `--perturb-start` for tasks (TaskSpecs) that define no perturbed starts, naming those that do."""
    from .suite import SUITE

    if not all(t.start_spread for t in tasks):
        names = ", ".join(t.id for t in tasks if not t.start_spread)
        raise ConfigError(f"no perturbed starts for {names}; drop --perturb-start (tasks with them: "
                          f"{', '.join(t.id for t in SUITE if t.start_spread)})")


class PerturbedStart(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """After each reset, offsets the MuJoCo joint positions, and optionally velocities, by uniform draws in
    [-spread, spread] (one half-width per `qpos` entry, then optionally one per `qvel` entry) from the env's
    own generator, so a seeded reset stays reproducible. Works on Gymnasium's MuJoCo envs and on dm_control
    suite tasks through shimmy."""

    def __init__(self, env: gym.Env, spread: tuple[float, ...]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, spread=spread)
        super().__init__(env)
        u = env.unwrapped
        self._dmc = dm_physics(env) is not None
        if not self._dmc and not (hasattr(u, "set_state") and hasattr(u, "_get_obs")):
            raise ConfigError(f"perturbed starts need a MuJoCo env (Gymnasium or dm_control), not {type(u).__name__}")
        model = mujoco_model(env)
        nq, nv = model.nq, model.nv
        if len(spread) not in (nq, nq + nv):
            raise ConfigError(f"start spread has {len(spread)} entries; the env has {nq} joint positions "
                              f"(and {nv} velocities)")
        self.nq = nq
        self.spread = np.zeros(nq + nv)
        self.spread[:len(spread)] = spread

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _, info = self.env.reset(seed=seed, options=options)
        u = self.env.unwrapped
        if self._dmc:
            physics = dm_physics(self.env)
            state = self._draw(u, physics.data.qpos, physics.data.qvel)
            with physics.reset_context():
                physics.data.qpos[:] = state[:self.nq]
                physics.data.qvel[:] = state[self.nq:]
            return dm_observation(self.env), info
        state = self._draw(u, u.data.qpos, u.data.qvel)
        u.set_state(state[:self.nq], state[self.nq:])
        return u._get_obs(), info

    def _draw(self, u: gym.Env, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        return np.concatenate([qpos, qvel]) + u.np_random.uniform(-self.spread, self.spread)
