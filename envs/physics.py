"""The MuJoCo state behind a task env, whichever library wraps it.

shimmy keeps a dm_control suite task's Physics at ``env.unwrapped._env.physics`` and its task at
``env.unwrapped._env.task`` (private attributes); Gymnasium's MuJoCo envs expose ``model`` and ``data`` on
the unwrapped env. Experts, perturbed starts, goal variants and rendering settings reach the simulator only
through these functions.
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


def dm_observation(env: gym.Env) -> dict[str, Any]:
    """A shimmy env's observation, recomputed from its Physics now (after the state or the model was
    changed behind dm_control's back, as perturbed starts and goal variants do)."""
    from shimmy.utils.dm_env import dm_obs2gym_obs

    return dm_obs2gym_obs(env.unwrapped._env.task.get_observation(dm_physics(env)))
