"""The one place where every environment's observations become the tokenizer's canonical form.

Canonical observations are Dicts with fixed key names, so the tokenizer's layout (text, image, discrete,
continuous) falls out of the spaces:

=========  ======================================================  ==========================
mode       keys                                                    raw source
=========  ======================================================  ==========================
state      ``state``: float32 vector                               Box, or Dict of Boxes
                                                                   (dm_control) in sorted key order
pixels     ``image``: 64x64x3 uint8                                env.render()
babyai     ``mission``: Text, ``image``: 56x56x3 uint8 agent view,  minigrid internals
           ``direction``: Discrete(4)
=========  ======================================================  ==========================

A NaN or infinite state, or an observation outside the canonical space, raises here with the task
named, instead of reaching a dataset or the model.
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gatosuite.errors import GatosuiteError

MISSION_CHARSET = frozenset(string.ascii_letters + string.digits + " ,.'-")
MISSION_MAX_CHARS = 200
BABYAI_TILE = 8  # 7x7 tiles of 8 px: a 56x56 view, which the tokenizer pads to 64x64 (16 patches)


class InvalidObservationError(GatosuiteError, ValueError):
    """An environment produced an observation the suite cannot use."""


def _state_space(raw: spaces.Space) -> spaces.Box:
    """An unbounded float32 vector. Raw bounds are dropped on purpose: the tokenizer mu-law encodes
    states without them, and some envs declare bounds their observations break (Meta-World declares
    its goal coordinates as [0, 0]); finiteness is what is checked."""
    if isinstance(raw, spaces.Box):
        return spaces.Box(-np.inf, np.inf, (int(np.prod(raw.shape)),), np.float32)
    if isinstance(raw, spaces.Dict) and all(isinstance(s, spaces.Box) for s in raw.spaces.values()):
        n = sum(int(np.prod(s.shape)) for s in raw.spaces.values())
        return spaces.Box(-np.inf, np.inf, (n,), np.float32)
    raise TypeError(f"state mode needs a Box or a Dict of Boxes, got {raw!r}")


class CanonicalObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Turns raw observations into the suite's canonical Dict (see the module docstring)."""

    def __init__(self, env: gym.Env, mode: str, task_id: str, image_size: int = 64) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, mode=mode, task_id=task_id, image_size=image_size)
        super().__init__(env)
        self.mode, self.task_id = mode, task_id
        if mode == "state":
            box = _state_space(env.observation_space)
            self.observation_space = spaces.Dict({"state": box})
        elif mode == "pixels":
            self.observation_space = spaces.Dict({
                "image": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)})
        elif mode == "babyai":
            view = env.unwrapped.agent_view_size * BABYAI_TILE
            self.observation_space = spaces.Dict({
                "mission": spaces.Text(MISSION_MAX_CHARS, min_length=1, charset=MISSION_CHARSET),
                "image": spaces.Box(0, 255, (view, view, 3), np.uint8),
                "direction": spaces.Discrete(4),
            })
        else:
            raise ValueError(f"unknown observation mode '{mode}'; use state, pixels or babyai")

    def observation(self, observation: Any) -> dict[str, Any]:
        if self.mode == "state":
            if isinstance(observation, dict):
                observation = np.concatenate([np.asarray(observation[k], np.float64).reshape(-1)
                                              for k in sorted(observation)])
            x = np.asarray(observation, dtype=np.float32).reshape(-1)
            if not np.isfinite(x).all():
                raise InvalidObservationError(
                    f"task '{self.task_id}' produced a non-finite state {x.tolist()}; the simulation has "
                    "diverged: reset the env (or drop this episode)")
            if x.shape != self.observation_space["state"].shape:
                raise InvalidObservationError(
                    f"task '{self.task_id}' produced a state of shape {x.shape}, expected "
                    f"{self.observation_space['state'].shape}")
            return {"state": x}  # shape and finiteness are all an unbounded Box can check
        elif self.mode == "pixels":
            out = {"image": np.asarray(self.env.render(), dtype=np.uint8)}
        else:
            u = self.env.unwrapped
            out = {"mission": str(observation["mission"]),
                   "image": u.get_frame(highlight=False, tile_size=BABYAI_TILE, agent_pov=True),
                   "direction": int(observation["direction"])}
        if not self.observation_space.contains(out):
            raise InvalidObservationError(
                f"task '{self.task_id}' produced an observation outside its space {self.observation_space}: "
                f"{ {k: (v.shape, v.dtype) if isinstance(v, np.ndarray) else v for k, v in out.items()} }")
        return out
