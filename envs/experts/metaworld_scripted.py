"""Meta-World's own 50 scripted policies as experts (`metaworld.policies`)."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from metaworld.policies import ENV_POLICY_MAP

from . import register_expert
from .base import Expert

# Meta-World's policies use a proportional gain it warns about on first use; the env clips actions and
# so do we, so the warning says nothing actionable.
warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high", category=UserWarning)


class MetaWorldExpert(Expert):
    def __init__(self, env_name: str) -> None:
        if env_name not in ENV_POLICY_MAP:
            raise KeyError(f"Meta-World has no scripted policy for '{env_name}'")
        self.policy = ENV_POLICY_MAP[env_name]()

    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        return np.clip(self.policy.get_action(obs), -1.0, 1.0).astype(np.float32)


def _factory(env_name: str):
    return lambda env: MetaWorldExpert(env_name)


for _name in ENV_POLICY_MAP:
    register_expert(f"mw-{_name.removesuffix('-v3')}")(_factory(_name))
