"""The simplest learner on the same data: a small behaviour-cloned MLP, the ceiling the data allows.

Before believing a result of the generalist, compare it with this on the same episodes and the same
evaluation seeds. It reads the raw canonical observations (no tokenization):

* `state`: standardized with the dataset's mean and std;
* `image` (BabyAI's egocentric view): a small CNN;
* `direction`: one-hot; `mission`: a bag of words hashed into 64 buckets.

Continuous actions are regressed (MSE) in the Box scaled to [-1, 1]; discrete actions are classified
(cross-entropy). `MLPPolicy` acts in vector envs through the same `rollout` as every other policy.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

MISSION_BUCKETS = 64


def mission_bags(missions: list[str]) -> np.ndarray:
    """(N, 64) float32 word counts, hashed with crc32 (stable across processes, unlike hash())."""
    out = np.zeros((len(missions), MISSION_BUCKETS), np.float32)
    for i, m in enumerate(missions):
        for w in str(m).lower().split():
            out[i, zlib.crc32(w.encode()) % MISSION_BUCKETS] += 1.0
    return out


class Features(nn.Module):
    """Canonical observation dict -> (N, F) features."""

    def __init__(self, space: gym.spaces.Dict, state_mean: np.ndarray | None, state_std: np.ndarray | None) -> None:
        super().__init__()
        self.keys = sorted(space.spaces)
        dim = 0
        if "state" in self.keys:
            self.register_buffer("mean", torch.as_tensor(state_mean, dtype=torch.float32))
            self.register_buffer("std", torch.as_tensor(state_std, dtype=torch.float32))
            dim += int(np.prod(space["state"].shape))
        if "image" in self.keys:
            self.cnn = nn.Sequential(  # 56x56 or 64x64 RGB -> 64 features
                nn.Conv2d(3, 16, 4, stride=4), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2), nn.ReLU(),
                nn.Conv2d(32, 32, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 64), nn.ReLU())
            dim += 64
        if "direction" in self.keys:
            self.n_dir = int(space["direction"].n)
            dim += self.n_dir
        if "mission" in self.keys:
            dim += MISSION_BUCKETS
        self.dim = dim

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        if "state" in self.keys:
            parts.append((obs["state"] - self.mean) / self.std)  # (N, d)
        if "image" in self.keys:
            parts.append(self.cnn(obs["image"].permute(0, 3, 1, 2).float() / 255.0))  # (N, 64)
        if "direction" in self.keys:
            parts.append(F.one_hot(obs["direction"].long(), self.n_dir).float())  # (N, 4)
        if "mission" in self.keys:
            parts.append(obs["mission"])  # (N, 64) word bags
        return torch.cat(parts, dim=1)


class MLPBC(nn.Module):
    """Features -> 2 x `hidden` MLP -> action (logits for Discrete, [-1, 1]-scaled values for a Box)."""

    def __init__(self, obs_space: gym.spaces.Dict, action_space: gym.Space, state_mean=None, state_std=None,
                 hidden: int = 256) -> None:
        super().__init__()
        self.features = Features(obs_space, state_mean, state_std)
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        self.action_space = action_space
        out = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        self.net = nn.Sequential(nn.Linear(self.features.dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, out))

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.net(self.features(obs))  # (N, out)

    def loss(self, obs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        out = self(obs)
        return F.cross_entropy(out, target.long()) if self.discrete else F.mse_loss(out, target)

    def scale(self, actions: np.ndarray) -> np.ndarray:
        """Box actions -> [-1, 1] (what is regressed)."""
        lo, hi = self.action_space.low, self.action_space.high
        return (2.0 * (np.asarray(actions, np.float32) - lo) / (hi - lo) - 1.0).astype(np.float32)

    @torch.no_grad()
    def act(self, obs: dict[str, torch.Tensor]) -> np.ndarray:
        out = self(obs)
        if self.discrete:
            return out.argmax(dim=1).numpy()
        lo, hi = self.action_space.low, self.action_space.high
        return (lo + (out.clamp(-1, 1).numpy() + 1.0) * 0.5 * (hi - lo)).astype(self.action_space.dtype)


def to_tensors(obs: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A batch of canonical observations (as a vector env or a dataset gives them) as tensors."""
    out = {}
    for k, v in obs.items():
        if k == "mission":
            out[k] = torch.from_numpy(mission_bags(list(v)))
        elif k == "image":
            out[k] = torch.from_numpy(np.ascontiguousarray(v))  # uint8, converted in the CNN
        else:
            out[k] = torch.as_tensor(np.asarray(v))
    if "state" in out:
        out["state"] = out["state"].float()
    return out


@dataclass
class Dataset:
    """Every (observation, label) pair of some episodes, as arrays."""

    obs: dict[str, np.ndarray]
    targets: np.ndarray

    @classmethod
    def from_episodes(cls, episodes: list) -> Dataset:
        obs: dict[str, list] = {}
        targets = []
        for ep in episodes:
            n = len(ep)
            for k, v in ep.observations.items():
                obs.setdefault(k, []).append(np.asarray(v)[:n] if k != "mission" else np.asarray(list(v)[:n]))
            targets.append(np.asarray(ep.targets))
        return cls({k: np.concatenate(v) for k, v in obs.items()}, np.concatenate(targets))

    def __len__(self) -> int:
        return len(self.targets)


def fit(model: MLPBC, data: Dataset, steps: int, batch: int = 256, lr: float = 1e-3, seed: int = 0,
        on_step: Callable[[int, float], None] | None = None) -> float:
    """Adam on minibatches drawn uniformly from `data`; returns the seconds spent training.
    `on_step(step, seconds_so_far)` runs after each step (evaluation time is not counted)."""
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    targets = data.targets if model.discrete else model.scale(data.targets)
    feats = {k: (mission_bags(list(v)) if k == "mission" else v) for k, v in data.obs.items()}
    seconds = 0.0
    model.train()
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        idx = rng.integers(0, len(data), batch)
        obs = {k: torch.from_numpy(np.ascontiguousarray(v[idx])) for k, v in feats.items()}
        if "state" in obs:
            obs["state"] = obs["state"].float()
        loss = model.loss(obs, torch.as_tensor(targets[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        seconds += time.perf_counter() - t0
        if on_step is not None:
            model.eval()
            on_step(step, seconds)
            model.train()
    model.eval()
    return seconds


def state_stats(data: Dataset) -> tuple[np.ndarray | None, np.ndarray | None]:
    if "state" not in data.obs:
        return None, None
    s = data.obs["state"].astype(np.float64)
    return s.mean(0).astype(np.float32), (s.std(0) + 1e-6).astype(np.float32)


class MLPPolicy:
    """A fitted MLPBC as a batched policy for `evaluation.rollout` (it keeps no memory between steps)."""

    def __init__(self, model: MLPBC) -> None:
        self.model = model

    def reset(self, num_envs: int = 1) -> None:
        pass

    def reset_envs(self, mask: np.ndarray) -> None:
        pass

    def act(self, obs: Any) -> np.ndarray:
        return self.model.act(to_tensors(obs))
