"""The expert interface: a policy that acts on the raw environment, inside the env's own process.

Experts see the env *before* the canonical observation wrapper, with access to the env itself: the
BabyAI bot reads the grid, scripted controllers read physics. Because they run inside the env (through
:class:`gatosuite.envs.expert_wrapper.ExpertActionWrapper`), vectorized collection parallelizes them for free.
"""

from __future__ import annotations

import abc
from typing import Any

import gymnasium as gym


class Expert(abc.ABC):
    """A per-env controller: `reset` at the start of each episode, then `act` every step."""

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any]) -> None:  # noqa: B027
        """Called after every env.reset(); stateless experts need not override it."""

    @abc.abstractmethod
    def act(self, env: gym.Env, obs: Any) -> Any:
        """The action for raw observation `obs`, valid for `env.action_space`."""
