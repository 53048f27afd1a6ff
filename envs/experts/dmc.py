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

from ..physics import dm_physics as _physics  # experts need exact state, not the bounded observation
from . import register_expert
from .base import Expert
from .control import clip_action, dlqr, linearize_mujoco


def _lqr_gain(physics: Any, qpos: np.ndarray, q_cost: np.ndarray, r_cost: float, n_sub_steps: int = 1) -> np.ndarray:
    """Discrete LQR gain around the zero-velocity state `qpos`, on the simulator's own linearization."""
    a, b = linearize_mujoco(physics.model.ptr, qpos, None, n_sub_steps)
    return dlqr(a, b, q_cost, r_cost)


# --------------------------------------------------------------------------------------------- cartpole


class CartpoleExpert(Expert):
    """Energy-shaping swing-up that hands over to LQR near upright; balance episodes start inside the LQR basin.

    The pole's energy E (zero when upright at rest, negative below) is driven to zero with a cart force
    proportional to E * omega * cos(theta), the direction in which the cart does positive work on the pole while
    E < 0 and negative work if it overshoots; a weak PD keeps the cart near the middle of its rail meanwhile.
    Once the pole is near upright with about the right energy, LQR (linearized on the simulator) catches it and
    holds it with small forces, which the reward's control term favours.
    """

    def __init__(self, env: gym.Env, pump: float = 8.0, centre: float = 0.5,
                 q_cost: tuple[float, ...] = (1.0, 20.0, 0.5, 0.5)) -> None:
        ph = _physics(env)
        self.pump, self.centre = pump, centre
        self.m = float(ph.named.model.body_mass["pole_1"])
        self.lc = float(ph.named.model.body_ipos["pole_1", "z"])  # hinge to centre of mass
        self.inertia = float(ph.named.model.body_inertia["pole_1", "y"]) + self.m * self.lc**2
        self.g = float(-ph.model.opt.gravity[2])
        sub = int(env.unwrapped._env._n_sub_steps)
        self.gain = _lqr_gain(ph, np.zeros(2), np.diag(q_cost), 2.0, n_sub_steps=sub)

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        ph = _physics(env)
        x, th = ph.data.qpos
        v, w = ph.data.qvel
        th = (th + np.pi) % (2 * np.pi) - np.pi  # hinge angle from upright, wrapped
        energy = 0.5 * self.inertia * w * w + self.m * self.g * self.lc * (np.cos(th) - 1.0)
        if np.cos(th) > 0.85 and abs(energy) < 0.3:
            u = -self.gain @ np.array([x, th, v, w])
        else:
            u = np.array([self.pump * energy * w * np.cos(th) - self.centre * (x + v)])
        return clip_action(env, u)


@register_expert("dmc-cartpole-balance")
def _cartpole_balance(env: gym.Env) -> Expert:
    return CartpoleExpert(env)


@register_expert("dmc-cartpole-swingup")
def _cartpole_swingup(env: gym.Env) -> Expert:
    return CartpoleExpert(env)


@register_expert("dmc-cartpole-swingup_sparse")
def _cartpole_swingup_sparse(env: gym.Env) -> Expert:
    # The sparse reward counts only steps with the cart within 0.25 of the centre: a stiffer pull to the centre
    # while swinging and a 10x cost on cart position in LQR bring it there ~100 steps sooner (764 against 613
    # mean return with the dense task's settings, seeds 0-3; a sweep of pump 5-100, centre 0.5-4, x cost 1-30)
    return CartpoleExpert(env, pump=8.0, centre=2.0, q_cost=(10.0, 20.0, 0.5, 0.5))


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
        return clip_action(env, -self.kp * (err + self.lead * ph.data.qvel[:2]))


@register_expert("dmc-point_mass-easy")
def _point_mass_easy(env: gym.Env) -> Expert:
    return PointMassExpert(env)


class PointMassHardExpert(PointMassExpert):
    """point_mass-hard: each episode, the two controls push along random unit directions (dm_control sets the
    tendons' joint coefficients, `wrap_prm`, per episode). The same PD force is wanted; the controls that make
    it solve the 2x2 mixing, and are scaled down together (not clipped one by one) so the force keeps its
    direction when it exceeds what the controls can give."""

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        ph = _physics(env)
        err = ph.named.data.geom_xpos["pointmass", :2] - ph.named.data.geom_xpos["target", :2]
        force = -self.kp * (err + self.lead * ph.data.qvel[:2])
        mixing = np.asarray(ph.model.wrap_prm[:4], dtype=np.float64).reshape(2, 2).T  # columns: each control's push
        u = np.linalg.solve(mixing, force)
        return clip_action(env, u / max(1.0, float(np.abs(u).max())))


@register_expert("dmc-point_mass-hard")
def _point_mass_hard(env: gym.Env) -> Expert:
    return PointMassHardExpert(env)


# --------------------------------------------------------------------------------------------- pendulum


class PendulumSwingupExpert(Expert):
    """Bang-bang energy pumping, then LQR once the pole is near upright with about the right energy.

    The torque limit (1) is a fifth of gravity's largest torque on the pole (m g l = 4.9), so the pole is swung
    up over several swings: full torque along the velocity adds energy at the greatest rate while the energy E
    (zero upright at rest) is below zero, and against it once it is above. LQR, linearized on the simulator,
    catches the pole within `catch` radians of upright.
    """

    def __init__(self, env: gym.Env, catch: float = 0.5) -> None:
        ph = _physics(env)
        self.m = float(ph.named.model.body_mass["pole"])
        self.lc = float(ph.named.model.body_ipos["pole", "z"])
        self.inertia = float(ph.named.model.body_inertia["pole", "y"]) + self.m * self.lc**2
        self.g = float(-ph.model.opt.gravity[2])
        self.catch = catch
        self.gain = _lqr_gain(ph, np.zeros(1), np.diag([10.0, 1.0]), 0.1)

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        ph = _physics(env)
        th = (float(ph.data.qpos[0]) + np.pi) % (2 * np.pi) - np.pi  # from upright, wrapped
        w = float(ph.data.qvel[0])
        energy = 0.5 * self.inertia * w * w + self.m * self.g * self.lc * (np.cos(th) - 1.0)
        if abs(th) < self.catch:
            return clip_action(env, -self.gain @ np.array([th, w]))
        pump = 1.0 if w >= 0 else -1.0  # at rest at the bottom, w = 0: push one way to start swinging
        return clip_action(env, np.array([pump if energy < 0 else -pump]))


@register_expert("dmc-pendulum-swingup")
def _pendulum_swingup(env: gym.Env) -> Expert:
    return PendulumSwingupExpert(env)


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
        return clip_action(env, self.kp * (best - q) - self.kd * qd)


@register_expert("dmc-reacher-easy")
def _reacher_easy(env: gym.Env) -> Expert:
    return ReacherExpert(env)


# --------------------------------------------------------------------------------------------- finger


class FingerSpinExpert(Expert):
    """Random-shooting MPC over bang-bang action sequences, rolled out on a copy of the model.

    Spinning needs repeated, precisely timed flicks of the spinner's ends (friction and damping take roughly
    10 rad/s off per half turn), which no simple feedback law captured; a short look-ahead on the true contact
    dynamics does. Candidates are the previous plan, shifted, with each entry's sign flipped at random: saturated
    strokes scored far better than Gaussian perturbations or refinement of the best plan. A plan's score is the
    spinner speed summed over the horizon, capped a little above the reward's 15 rad/s. Quality grows with the
    sample count (about 820 / 880 / 900 mean return for 32 / 48 / 64 over 8 seeds); 48 costs ~4 ms per act here.
    The sampler is reseeded at every reset, so the expert is deterministic given the episode.
    """

    READY = np.array([-0.2, 1.2])  # finger joint angles typical of steady flicking, next to the spinner

    def __init__(self, env: gym.Env, n_samples: int = 48, horizon: int = 15, v_cap: float = 20.0,
                 flip: float = 0.4, ready_weight: float = 0.01) -> None:
        self.n, self.h, self.v_cap, self.flip, self.ready_w = n_samples, horizon, v_cap, flip, ready_weight
        self.sub = int(env.unwrapped._env._n_sub_steps)  # physics steps per env step
        self.spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.roll = mujoco.rollout.Rollout(nthread=0)  # batched C rollouts on this thread: no Python per step
        self.model: mujoco.MjModel | None = None
        self.rng = np.random.default_rng(0)
        self.plan = np.zeros((horizon, 2))

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any]) -> None:
        # Copy the model after every reset: the task edits it per episode (the spinner's damping).
        model = _physics(env).model.ptr
        self.model = copy.deepcopy(model)
        self.model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_SENSOR  # the cost reads qvel from the state
        self.scratch = [mujoco.MjData(self.model)]
        self.state = np.empty(mujoco.mj_stateSize(model, self.spec))
        # Columns in a FULLPHYSICS state row, [time, qpos, qvel, ...]: spinner velocity, finger joint angles.
        self.w_col = 1 + model.nq + int(model.jnt_dofadr[model.joint("hinge").id])
        self.q_cols = [1 + int(model.jnt_qposadr[model.joint(j).id]) for j in ("proximal", "distal")]
        self.rng = np.random.default_rng(0)
        self.plan = np.zeros((self.h, 2))

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        if self.model is None:
            self.reset(env, obs, {})
        ph = _physics(env)
        data = ph.data.ptr
        mujoco.mj_getState(ph.model.ptr, data, self.state, self.spec)
        base = np.where(self.plan >= 0, 1.0, -1.0)
        cand = base[None] * np.where(self.rng.random((self.n, self.h, 2)) < self.flip, -1.0, 1.0)
        cand[0] = self.plan  # keep last step's plan in the running, so the choice never gets worse by chance
        states, _ = self.roll.rollout(self.model, self.scratch, self.state[None], np.repeat(cand, self.sub, axis=1),
                                      initial_warmstart=data.qacc_warmstart[None])
        states = states[:, self.sub - 1 :: self.sub]
        score = np.minimum(-states[..., self.w_col], self.v_cap).sum(1)  # reward wants hinge velocity <= -15
        # Tie-breaker: with the finger folded away no sequence reaches the spinner within the horizon and all
        # scores are 0; a faint pull toward the ready pose then brings the finger back into play.
        score -= self.ready_w * np.abs(states[..., self.q_cols] - self.READY).sum((1, 2))
        best = cand[int(np.argmax(score))]
        self.plan = np.concatenate([best[1:], best[-1:]])
        return clip_action(env, best[0])


@register_expert("dmc-finger-spin")
def _finger_spin(env: gym.Env) -> Expert:
    return FingerSpinExpert(env)
