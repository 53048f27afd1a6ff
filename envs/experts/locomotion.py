"""Learned locomotion experts: SAC actors trained by `gatosuite train-expert`, committed as safetensors."""

from __future__ import annotations

from . import register_expert
from .learned import LearnedExpert

LEARNED = {"hopper": "hopper.safetensors", "halfcheetah": "halfcheetah.safetensors",
           "dmc-walker-stand": "dmc-walker-stand.safetensors", "ant": "ant.safetensors",
           "humanoid": "humanoid.safetensors", "humanoid-standup": "humanoid-standup.safetensors",
           "pusher": "pusher.safetensors", "swimmer": "swimmer.safetensors", "walker2d": "walker2d.safetensors"}

for _name, _file in LEARNED.items():
    register_expert(_name)(lambda env, _f=_file: LearnedExpert(_f, env))
