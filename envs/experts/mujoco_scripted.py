"""Scripted experts for Gymnasium's MuJoCo control tasks (InvertedPendulum, InvertedDoublePendulum, Reacher).

Controllers read exact physics state from ``env.unwrapped.data`` and linearize the env's own MuJoCo model on a
scratch ``MjData`` (the real episode is never stepped by an expert). Balancing tasks use discrete LQR; Reacher
plans the whole 50-step episode with iLQR on the true reward. All actions are clipped into the action space.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from . import register_expert
from .base import Expert
from .control import clip_action, dlqr, linearize_mujoco


def _state(env: gym.Env) -> np.ndarray:
    data = env.unwrapped.data
    return np.concatenate([data.qpos, data.qvel])


# --------------------------------------------------------------------------------------------- balancing


class LQRBalanceExpert(Expert):
    """u = -K x around the upright equilibrium (all joints at zero): the tasks start inside its basin."""

    def __init__(self, env: gym.Env, q_diag: list[float], r: float) -> None:
        nq = env.unwrapped.model.nq
        a, b = linearize_mujoco(env.unwrapped.model, np.zeros(nq), n_sub_steps=int(env.unwrapped.frame_skip))
        self.k = dlqr(a, b, np.diag(q_diag), np.atleast_2d(r) * np.eye(b.shape[1]))

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        return clip_action(env, -self.k @ _state(env))


@register_expert("inverted-pendulum")
def _inverted_pendulum(env: gym.Env) -> Expert:
    return LQRBalanceExpert(env, q_diag=[1.0, 10.0, 0.1, 0.1], r=0.1)


@register_expert("inverted-double-pendulum")
def _inverted_double_pendulum(env: gym.Env) -> Expert:
    return LQRBalanceExpert(env, q_diag=[1.0, 20.0, 20.0, 0.1, 0.1, 0.1], r=0.1)


# --------------------------------------------------------------------------------------------- reacher


class ReacherExpert(Expert):
    """iLQR over the whole episode on the exact reward (fingertip distance + squared action), then tracking.

    With armature 1 on both joints the arm's own inertia is negligible, so one finite-difference linearization
    of the env step is an accurate global model (no gravity acts in the arm's plane); the only nonlinearity is the
    kinematics inside the distance cost. iLQR is started from a PD reach toward each inverse-kinematics
    solution (elbow left/right, nearest turn of the base joint) and the cheaper plan is executed with its
    time-varying feedback gains, which absorb the tiny model error.
    """

    def __init__(self, env: gym.Env, iters: int = 12, eps: float = 0.01) -> None:
        u = env.unwrapped
        model = u.model
        self.l1 = float(model.body("body1").pos[0])
        self.l2 = float(model.body("fingertip").pos[0])
        arm = np.array([0, 1, model.nq, model.nq + 1])  # qpos and qvel of the two arm joints
        a, b = linearize_mujoco(model, u.init_qpos.copy(), n_sub_steps=int(u.frame_skip))
        self.a, self.b = a[np.ix_(arm, arm)], b[arm]
        self.iters, self.eps = iters, eps
        self.horizon = int(env.spec.max_episode_steps) if env.spec and env.spec.max_episode_steps else 50
        self.pd = dlqr(self.a, self.b, np.diag([1.0, 1.0, 0.01, 0.01]), np.eye(2))
        self.plan: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.t = 0

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any]) -> None:
        self.plan, self.t = None, 0

    # cost ---------------------------------------------------------------------------------------------
    def _dist(self, xs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Fingertip-target distance for a batch of states (rows)."""
        q0, q01 = xs[:, 0], xs[:, 0] + xs[:, 1]
        px = self.l1 * np.cos(q0) + self.l2 * np.cos(q01) - goal[0]
        py = self.l1 * np.sin(q0) + self.l2 * np.sin(q01) - goal[1]
        return np.sqrt(px * px + py * py)

    def _cost(self, xs: np.ndarray, us: np.ndarray, goal: np.ndarray) -> float:
        return float(self._dist(xs[1:], goal).sum() + (us * us).sum())

    def _rollout(self, x0: np.ndarray, us: np.ndarray) -> np.ndarray:
        xs = np.empty((len(us) + 1, 4))
        xs[0] = x0
        for t, u in enumerate(us):
            xs[t + 1] = self.a @ xs[t] + self.b @ u
        return xs

    # planning -----------------------------------------------------------------------------------------
    def _pd_init(self, x0: np.ndarray, q_goal: np.ndarray) -> np.ndarray:
        """Controls of an LQR reach to the joint goal: a sensible, cheap starting trajectory for iLQR."""
        us, x, ref = np.empty((self.horizon, 2)), x0.copy(), np.concatenate([q_goal, [0.0, 0.0]])
        for t in range(self.horizon):
            us[t] = np.clip(-self.pd @ (x - ref), -1.0, 1.0)
            x = self.a @ x + self.b @ us[t]
        return us

    def _ilqr(self, x0: np.ndarray, us: np.ndarray,
              goal: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """Plain iLQR (Gauss-Newton cost Hessian, Levenberg regularisation, backtracking line search)."""
        a, b, n = self.a, self.b, len(us)
        at, bt, eye2 = a.T, b.T, 2.0 * np.eye(2) + 1e-6 * np.eye(2)
        xs = self._rollout(x0, us)
        cost = self._cost(xs, us, goal)
        gains = np.zeros((n, 2, 4))
        for _ in range(self.iters):
            # cost gradient / Gauss-Newton Hessian of the distance at every visited state, in one batch
            q0, q01 = xs[1:, 0], xs[1:, 0] + xs[1:, 1]
            s0, c0, s01, c01 = np.sin(q0), np.cos(q0), np.sin(q01), np.cos(q01)
            jac = np.empty((n, 2, 2))
            jac[:, 0, 0], jac[:, 0, 1] = -self.l1 * s0 - self.l2 * s01, -self.l2 * s01
            jac[:, 1, 0], jac[:, 1, 1] = self.l1 * c0 + self.l2 * c01, self.l2 * c01
            err = np.stack([self.l1 * c0 + self.l2 * c01 - goal[0], self.l1 * s0 + self.l2 * s01 - goal[1]], 1)
            d = np.sqrt((err * err).sum(1) + self.eps**2)
            lx = np.einsum("tij,ti->tj", jac, err) / d[:, None]
            lxx = np.einsum("tij,tik->tjk", jac, jac) / d[:, None, None]
            vx, vxx = np.zeros(4), np.zeros((4, 4))
            ks = np.zeros((n, 2))
            for t in range(n - 1, -1, -1):  # stage t: control u_t and the cost of the state x_{t+1} it leads to
                vx = vx.copy()
                vx[:2] += lx[t]
                vxx = vxx.copy()
                vxx[:2, :2] += lxx[t]
                vxx_a, vxx_b = vxx @ a, vxx @ b
                qx, qu = at @ vx, 2 * us[t] + bt @ vx
                qxx, quu, qux = at @ vxx_a, eye2 + bt @ vxx_b, bt @ vxx_a
                quu_inv = np.linalg.inv(quu)
                k, kk = -quu_inv @ qu, -quu_inv @ qux
                ks[t], gains[t] = k, kk
                vx = qx + qux.T @ k
                vxx = qxx + qux.T @ kk
                vxx = 0.5 * (vxx + vxx.T)
            improved = False
            for alpha in (1.0, 0.5, 0.25, 0.1):
                nx, nus = np.empty_like(xs), us + alpha * ks
                nx[0] = x0
                for t in range(n):
                    u = nus[t] + gains[t] @ (nx[t] - xs[t])
                    if abs(u[0]) > 1.0 or abs(u[1]) > 1.0:
                        u = np.clip(u, -1.0, 1.0)
                    nus[t] = u
                    nx[t + 1] = a @ nx[t] + b @ u
                new = self._cost(nx, nus, goal)
                if new < cost:
                    improved, xs, us = cost - new > 1e-6, nx, nus
                    cost = new
                    break
            if not improved:
                break
        return cost, xs, us, gains

    def _make_plan(self, env: gym.Env) -> None:
        u = env.unwrapped
        x0 = np.array([u.data.qpos[0], u.data.qpos[1], u.data.qvel[0], u.data.qvel[1]])
        goal = np.asarray(u.get_body_com("target")[:2], dtype=np.float64)
        r = float(np.clip(np.linalg.norm(goal), abs(self.l1 - self.l2) + 1e-6, self.l1 + self.l2 - 1e-6))
        elbow = np.arccos(np.clip((r * r - self.l1**2 - self.l2**2) / (2 * self.l1 * self.l2), -1.0, 1.0))
        best = None
        for q1 in (elbow, -elbow):
            q0 = np.arctan2(goal[1], goal[0]) - np.arctan2(self.l2 * np.sin(q1), self.l1 + self.l2 * np.cos(q1))
            q0 = x0[0] + (q0 - x0[0] + np.pi) % (2 * np.pi) - np.pi  # nearest turn of the unlimited base joint
            plan = self._ilqr(x0, self._pd_init(x0, np.array([q0, np.clip(q1, -3.0, 3.0)])), goal)
            if best is None or plan[0] < best[0]:
                best = plan
        _, xs, us, gains = best
        self.plan = (xs, us, gains)

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        if self.plan is None:
            self._make_plan(env)
        xs, us, gains = self.plan
        t = min(self.t, len(us) - 1)
        data = env.unwrapped.data
        x = np.array([data.qpos[0], data.qpos[1], data.qvel[0], data.qvel[1]])
        self.t += 1
        return clip_action(env, us[t] + gains[t] @ (x - xs[t]))


@register_expert("reacher")
def _reacher(env: gym.Env) -> Expert:
    return ReacherExpert(env)
