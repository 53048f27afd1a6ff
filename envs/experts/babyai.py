"""The BabyAI bot that ships with minigrid, as an expert. It plans from the live grid, so it runs in the
env's process (see expert_wrapper.py). Its own docstring says it fails PutNext*Carrying and KeyInBox;
the suite's levels avoid those."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from minigrid.utils.baby_ai_bot import BabyAIBot

from . import register_expert
from .base import Expert


class BabyAIBotExpert(Expert):
    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any]) -> None:
        self.bot = BabyAIBot(env.unwrapped)

    def act(self, env: gym.Env, obs: Any) -> int:
        return int(self.bot.replan())


@register_expert("babyai-bot")
def _bot(env: gym.Env) -> Expert:
    return BabyAIBotExpert()
