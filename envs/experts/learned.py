"""Learned experts: a Stable-Baselines3 SAC actor exported to safetensors and run without SB3 or pickle.

The exported tensors are the deterministic path of SB3's SAC actor: an MLP (`latent_pi`, ReLU) then the
mean head `mu`, squashed by tanh and rescaled to the action Box.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from safetensors.torch import load_file, save_file

from gatosuite.errors import ConfigError, DataNotFoundError

from .base import Expert

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class MLPActor(torch.nn.Module):
    """ReLU MLP + linear mean head; tanh-squashed like SB3's SAC actor."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        dims = (obs_dim, *hidden)
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.mu = torch.nn.Linear(dims[-1], act_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:  # (B, obs_dim) -> (B, act_dim) in [-1, 1]
        x = obs
        for layer in self.layers:
            x = torch.relu(layer(x))
        return torch.tanh(self.mu(x))


def export_sb3_actor(model: Any, path: Path, meta: dict[str, Any]) -> None:
    """Write an SB3 SAC model's deterministic actor as safetensors + a small JSON sidecar."""
    actor = model.policy.actor
    linears = [m for m in actor.latent_pi if isinstance(m, torch.nn.Linear)]
    tensors = {f"layers.{i}.{k}": v.detach().cpu().contiguous().float()
               for i, m in enumerate(linears) for k, v in m.state_dict().items()}
    tensors.update({f"mu.{k}": v.detach().cpu().contiguous().float() for k, v in actor.mu.state_dict().items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    hidden = [m.out_features for m in linears]
    save_file(tensors, str(path), metadata={"hidden": json.dumps(hidden), **{k: str(v) for k, v in meta.items()}})


class LearnedExpert(Expert):
    """Acts with an exported actor, deterministically (the mean action)."""

    def __init__(self, weights: str | Path, env: gym.Env) -> None:
        path = Path(weights)
        if not path.is_absolute():
            path = WEIGHTS_DIR / path
        if not path.is_file():
            raise DataNotFoundError(f"expert weights '{path}' are missing; train them with "
                                    "`gatosuite train-expert --task TASK`")
        tensors = load_file(str(path))
        n_layers = len({k.split(".")[1] for k in tensors if k.startswith("layers.")})
        hidden = tuple(tensors[f"layers.{i}.weight"].shape[0] for i in range(n_layers))
        obs_dim = tensors["layers.0.weight"].shape[1]
        space = env.action_space
        self.obs_space = env.observation_space
        if gym.spaces.flatdim(self.obs_space) != obs_dim or tensors["mu.weight"].shape[0] != space.shape[0]:
            raise ConfigError(f"expert weights '{path.name}' expect obs dim {obs_dim} and "
                             f"{tensors['mu.weight'].shape[0]} actions; env has {self.obs_space} and {space.shape}")
        self.net = MLPActor(obs_dim, space.shape[0], hidden)
        self.net.load_state_dict(tensors)
        self.net.eval()
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)

    @torch.no_grad()
    def act(self, env: gym.Env, obs: Any) -> np.ndarray:
        flat = gym.spaces.flatten(self.obs_space, obs)  # dm_control Dicts: the order training saw
        x = torch.as_tensor(np.asarray(flat, dtype=np.float32)).unsqueeze(0)
        a = self.net(x)[0].numpy().astype(np.float64)
        return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).astype(np.float32)
