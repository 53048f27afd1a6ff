"""Scripted experts for dm_control suite tasks (through shimmy's DmControlCompatibilityV0).

Each controller reads the MuJoCo physics of the wrapped dm_env (``env.unwrapped._env.physics``) because the
physics gives exact state (unwrapped angles, target positions) and lets us linearize or roll out a *copy* of the
model; the real env is never stepped by an expert. All actions are clipped into the action space.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import mujoco
import mujoco.rollout
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
            u = np.array([8.0 * energy * w * np.cos(th) - 0.5 * x - 0.5 * v])
        return _clip(env, u)


@register_expert("dmc-cartpole-balance")
def _cartpole_balance(env: gym.Env) -> Expert:
    return CartpoleExpert(env)


@register_expert("dmc-cartpole-swingup")
def _cartpole_swingup(env: gym.Env) -> Expert:
    return CartpoleExpert(env)


# --------------------------------------------------------------------------------------------- point_mass


class PointMassExpert(Expert):
    """Per-axis PD on the target-to-mass vector: the axes are decoupled, each with its own force limit.

    With damping b and mass m each axis coasts to x + (m/b) v, so a stiff gain on a lead of about that size
    drives the mass at full force and brakes it just as it arrives, after which the control (and its cost)
    falls to zero because nothing pushes the mass away again (no gravity in the plane).
    """

    def __init__(self, env: gym.Env, kp: float = 60.0, lead: float = 0.3) -> None:
        self.kp, self.lead = kp, lead

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        ph = _physics(env)
        err = ph.named.data.geom_xpos["pointmass", :2] - ph.named.data.geom_xpos["target", :2]
        return _clip(env, -self.kp * (err + self.lead * ph.data.qvel[:2]))


@register_expert("dmc-point_mass-easy")
def _point_mass_easy(env: gym.Env) -> Expert:
    return PointMassExpert(env)


# --------------------------------------------------------------------------------------------- reacher


class ReacherExpert(Expert):
    """Analytic two-link inverse kinematics to the target centre, then a stiff joint-space PD.

    Of the two elbow solutions we take the one closer to the current configuration (shoulder angle wrapped),
    which shortens the motion; the target is pulled inside the reachable annulus so IK always has an answer.
    """

    def __init__(self, env: gym.Env, kp: float = 4.0, kd: float = 0.25) -> None:
        ph = _physics(env)
        self.l1 = float(ph.named.model.body_pos["hand", "x"])
        self.l2 = float(ph.named.model.body_pos["finger", "x"])
        self.wrist_max = float(ph.named.model.jnt_range["wrist", 1]) - 0.02
        self.kp, self.kd = kp, kd

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        ph = _physics(env)
        q, qd = ph.data.qpos[:2], ph.data.qvel[:2]
        tx, ty = ph.named.model.geom_pos["target", :2]
        r = np.clip(np.hypot(tx, ty), abs(self.l1 - self.l2) + 1e-3, self.l1 + self.l2 - 1e-3)
        c2 = np.clip((r * r - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2), -1.0, 1.0)
        best, best_d = q, np.inf
        for q2 in (np.arccos(c2), -np.arccos(c2)):
            q2 = float(np.clip(q2, -self.wrist_max, self.wrist_max))
            q1 = np.arctan2(ty, tx) - np.arctan2(self.l2 * np.sin(q2), self.l1 + self.l2 * np.cos(q2))
            q1 = q[0] + (q1 - q[0] + np.pi) % (2 * np.pi) - np.pi
            d = abs(q1 - q[0]) + abs(q2 - q[1])
            if d < best_d:
                best, best_d = np.array([q1, q2]), d
        return _clip(env, self.kp * (best - q) - self.kd * qd)


@register_expert("dmc-reacher-easy")
def _reacher_easy(env: gym.Env) -> Expert:
    return ReacherExpert(env)


# --------------------------------------------------------------------------------------------- finger


class FingerSpinExpert(Expert):
    """Random-shooting MPC over bang-bang action sequences, rolled out on a copy of the model.

    Spinning needs repeated, precisely timed flicks of the spinner's ends (its friction and damping take about
    10 rad/s off per half turn), which no simple feedback law captures; a short look-ahead on the true contact
    dynamics does. Candidates are saturated sign sequences (the finger's motors are strong, and full-force
    strokes were the best-scoring sampling distribution) plus the shifted previous plan, scored by the clipped
    spinner speed over the horizon: clipping stops it from trading later reward for one huge flick.
    The sampler is seeded at every reset, so the expert is deterministic given the episode.
    """

    def __init__(self, env: gym.Env, n_samples: int = 48, horizon: int = 15, v_cap: float = 20.0,
                 flip: float = 0.4, replan: int = 1, refine: int = 0, flip2: float = 0.1) -> None:
        self.n, self.h, self.v_cap, self.flip, self.replan = n_samples, horizon, v_cap, flip, replan
        self.refine, self.flip2 = refine, flip2
        self.sub = int(env.unwrapped._env._n_sub_steps)
        self.spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.roll = mujoco.rollout.Rollout(nthread=0)
        self.model: mujoco.MjModel | None = None
        self._reset_plan()

    def _reset_plan(self) -> None:
        self.rng = np.random.default_rng(0)
        self.plan = np.zeros((self.h, 2))
        self.t = 0

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any]) -> None:
        # Copy the model after reset: the task edits it per episode (e.g. the spinner's damping).
        model = _physics(env).model.ptr
        self.model = copy.deepcopy(model)
        self.model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_SENSOR  # cost reads qvel from the state
        self.scratch = [mujoco.MjData(self.model)]
        self.state = np.empty(mujoco.mj_stateSize(model, self.spec))
        self.w_col = 1 + model.nq + int(model.jnt_dofadr[model.joint("hinge").id])
        self._reset_plan()

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        if self.model is None:
            self.reset(env, obs, {})
        self.t += 1
        if (self.t - 1) % self.replan == 0:
            self._replan(_physics(env))
        action, self.plan = self.plan[0].copy(), np.concatenate([self.plan[1:], self.plan[-1:]])
        return _clip(env, action)

    def _replan(self, ph: Any) -> None:
        data = ph.data.ptr
        mujoco.mj_getState(ph.model.ptr, data, self.state, self.spec)
        self.plan = self._best(data, self.plan, self.n, self.flip, keep=self.plan)
        if self.refine:
            self.plan = self._best(data, self.plan, self.refine, self.flip2, keep=self.plan)

    def _best(self, data: Any, center: np.ndarray, n: int, flip: float, keep: np.ndarray) -> np.ndarray:
        """Best of `n` sign sequences made by flipping each entry of `center` with probability `flip`."""
        base = np.where(center >= 0, 1.0, -1.0)
        cand = base[None] * np.where(self.rng.random((n, self.h, 2)) < flip, -1.0, 1.0)
        cand[0] = keep
        ctrl = np.repeat(cand, self.sub, axis=1)
        states, _ = self.roll.rollout(self.model, self.scratch, self.state[None], ctrl,
                                      initial_warmstart=data.qacc_warmstart[None])
        spin = -states[:, self.sub - 1 :: self.sub, self.w_col]
        return cand[int(np.argmax(np.minimum(spin, self.v_cap).sum(1)))]


@register_expert("dmc-finger-spin")
def _finger_spin(env: gym.Env) -> Expert:
    return FingerSpinExpert(env)
