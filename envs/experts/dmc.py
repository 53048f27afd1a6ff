"""Scripted experts for dm_control suite tasks (through shimmy's DmControlCompatibilityV0).

Each controller reads the MuJoCo physics of the wrapped dm_env (``env.unwrapped._env.physics``) because the
physics gives exact state (unwrapped angles, target positions) and lets us linearize or roll out a *copy* of the
model; the real env is never stepped by an expert. All actions are clipped into the action space.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import scipy.linalg

from . import register_expert
from .base import Expert


def _physics(env: gym.Env) -> Any:
    """The dm_control Physics behind a shimmy env: experts need exact state, not the bounded observation."""
    return env.unwrapped._env.physics


def _clip(env: gym.Env, action: np.ndarray) -> np.ndarray:
    """Clip into the Box action space, in its dtype, so every action is valid whatever the controller said."""
    space = env.action_space
    return np.clip(np.asarray(action, dtype=np.float64), space.low, space.high).astype(space.dtype)


def _dlqr(physics: Any, qpos: np.ndarray, q_cost: np.ndarray, r_cost: float, n_sub_steps: int = 1) -> np.ndarray:
    """Discrete LQR gain around the zero-velocity state `qpos`, linearized by central finite differences of mj_step.

    Linearizing the simulator itself (not a hand-derived model) keeps the gain right for the exact integrator,
    timestep and damping the task uses. Runs on a scratch MjData so the real episode is untouched.
    """
    model = physics.model.ptr
    data = mujoco.MjData(model)
    nv, nu, eps = model.nv, model.nu, 1e-6

    def step(x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One control step from state x (hinges and slides only, so qpos and qvel both have nv entries)."""
        mujoco.mj_resetData(model, data)
        data.qpos[:], data.qvel[:], data.ctrl[:] = x[:nv], x[nv:], u
        mujoco.mj_step(model, data, nstep=n_sub_steps)
        return np.concatenate([data.qpos, data.qvel])

    x0, u0 = np.concatenate([qpos, np.zeros(nv)]), np.zeros(nu)
    a = np.stack([(step(x0 + eps * e, u0) - step(x0 - eps * e, u0)) / (2 * eps) for e in np.eye(2 * nv)], 1)
    b = np.stack([(step(x0, u0 + eps * e) - step(x0, u0 - eps * e)) / (2 * eps) for e in np.eye(nu)], 1)
    p = scipy.linalg.solve_discrete_are(a, b, q_cost, np.atleast_2d(r_cost))
    return np.linalg.solve(r_cost + b.T @ p @ b, b.T @ p @ a)


# --------------------------------------------------------------------------------------------- cartpole


class CartpoleExpert(Expert):
    """Energy-shaping swing-up, handing over to LQR near upright (balance starts inside the LQR basin).

    The pole's energy is pumped toward the upright energy with cart acceleration along -omega*cos(theta)
    (the direction that does positive work on the pole), while a weak PD keeps the cart near the centre of
    the rail. Once the pole is close to upright and slow enough, LQR catches it and holds it with small force.
    """

    def __init__(self, env: gym.Env) -> None:
        ph = _physics(env)
        self.m = float(ph.model.body_mass[2])
        self.lc = 0.5
        self.inertia = float(ph.model.body_inertia[2, 1]) + self.m * self.lc**2
        self.g = float(-ph.model.opt.gravity[2])
        self.gain = _dlqr(ph, np.zeros(2), np.diag([1.0, 20.0, 0.5, 0.5]), 2.0)

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        ph = _physics(env)
        x, th = ph.data.qpos
        v, w = ph.data.qvel
        th = (th + np.pi) % (2 * np.pi) - np.pi
        energy = 0.5 * self.inertia * w * w + self.m * self.g * self.lc * (np.cos(th) - 1.0)
        if np.cos(th) > 0.85 and abs(energy) < 0.3:
            u = -self.gain @ np.array([x, th, v, w])
        else:
            u = np.array([-8.0 * energy * w * np.cos(th) - 0.5 * x - 0.5 * v])
        return _clip(env, u)


@register_expert("dmc-cartpole-balance")
def _cartpole_balance(env: gym.Env) -> Expert:
    return CartpoleExpert(env)


@register_expert("dmc-cartpole-swingup")
def _cartpole_swingup(env: gym.Env) -> Expert:
    return CartpoleExpert(env)
