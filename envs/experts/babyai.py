"""The BabyAI bot that ships with minigrid, as an expert. It plans from the live grid, so it runs in the
env's process (see expert_wrapper.py). Its own docstring says it fails PutNext*Carrying and KeyInBox.

On some seeds the bot never returns from `replan()` (seen on GoToImpUnlock, seed 6: it searches forever), and
on others it raises. Either way it has given up on the episode: it then plays `done` (which changes nothing in
BabyAI) until the level's step limit ends the episode, a failure that the success rate counts. A replan gets
REPLAN_SECONDS of wall-clock before it is taken for a hang; a normal one takes milliseconds.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
from minigrid.utils.baby_ai_bot import BabyAIBot

from . import register_expert
from .base import Expert

REPLAN_SECONDS = 5.0


class _Hung(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise _Hung in the block after `seconds` (SIGALRM: main thread only; elsewhere no deadline)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def hung(signum, frame):
        raise _Hung

    old = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class BabyAIBotExpert(Expert):
    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any]) -> None:
        self.bot = BabyAIBot(env.unwrapped)
        self.gave_up: str | None = None
        """Why the bot gave up on this episode (it hung, or raised), or None."""

    def act(self, env: gym.Env, obs: Any) -> int:
        done = int(env.unwrapped.actions.done)
        if self.gave_up:
            return done
        try:
            with _deadline(REPLAN_SECONDS):
                return int(self.bot.replan())
        except _Hung:
            self.gave_up = f"replan() ran over {REPLAN_SECONDS:g} s"
        except Exception as e:  # noqa: BLE001 - the bot's own failures (asserts on states it cannot plan from)
            self.gave_up = f"replan() raised {type(e).__name__}: {e}"
        return done


@register_expert("babyai-bot")
def _bot(env: gym.Env) -> Expert:
    return BabyAIBotExpert()
