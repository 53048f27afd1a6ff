"""The MuJoCo state behind a task env, whichever library wraps it.

shimmy keeps a dm_control suite task's Physics at ``env.unwrapped._env.physics`` (a private attribute);
Gymnasium's MuJoCo envs expose ``model`` and ``data`` on the unwrapped env. Experts, perturbed starts, goal
variants and rendering settings reach the simulator only through these two functions.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym


def dm_physics(env: gym.Env) -> Any | None:
    """The dm_control Physics behind a shimmy env, or None for an env that is not one."""
    inner = getattr(env.unwrapped, "_env", None)
    return getattr(inner, "physics", None)


def mujoco_model(env: gym.Env) -> Any | None:
    """The MuJoCo model (dm_control's wrapper or mujoco.MjModel) of either kind of env, or None."""
    physics = dm_physics(env)
    return physics.model if physics is not None else getattr(env.unwrapped, "model", None)
