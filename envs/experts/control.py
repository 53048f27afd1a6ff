"""Control helpers the scripted experts share: action clipping, LQR, and linearizing MuJoCo itself."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import scipy.linalg


def clip_action(env: gym.Env, action: np.ndarray) -> np.ndarray:
    """Clip into the Box action space, in its dtype, so every action is valid whatever the controller said."""
    space = env.action_space
    return np.clip(np.asarray(action, dtype=np.float64), space.low, space.high).astype(space.dtype)


def dlqr(a: np.ndarray, b: np.ndarray, q: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """Discrete-time infinite-horizon LQR gain K (u = -K x) from the Riccati solution."""
    r = np.atleast_2d(r)
    p = scipy.linalg.solve_discrete_are(a, b, q, r)
    return np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)


def linearize_mujoco(model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray | None = None,
                     n_sub_steps: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) of one control step (`n_sub_steps` mj_steps) around (qpos, qvel, ctrl=0), by central finite
    differences of the simulator.

    Differencing the simulator itself (not a hand-derived model) keeps the model right for the exact
    integrator, timestep, armature and damping the task uses; MuJoCo's own mjd_transitionFD does not
    support every integrator (dm_control's cartpole uses RK4). Runs on a scratch MjData, so the real
    episode is untouched. Hinge and slide joints only (qpos and qvel both have nv entries).
    """
    data = mujoco.MjData(model)
    nv, nu, eps = model.nv, model.nu, 1e-6

    def step(x: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
        mujoco.mj_resetData(model, data)
        data.qpos[:], data.qvel[:], data.ctrl[:] = x[:nv], x[nv:], ctrl
        mujoco.mj_step(model, data, nstep=n_sub_steps)
        return np.concatenate([data.qpos, data.qvel])

    x0 = np.concatenate([qpos, np.zeros(nv) if qvel is None else qvel])
    u0 = np.zeros(nu)
    a = np.stack([(step(x0 + eps * e, u0) - step(x0 - eps * e, u0)) / (2 * eps) for e in np.eye(2 * nv)], 1)
    b = np.stack([(step(x0, u0 + eps * e) - step(x0, u0 - eps * e)) / (2 * eps) for e in np.eye(nu)], 1)
    return a, b
