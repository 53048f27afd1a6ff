"""Per-task standardization of continuous observations before mu-law (an option; Gato does not do it).

Gato's mu-law has its full resolution near zero. A task whose states live at another scale (Meta-World
positions differ by centimetres around 0.6 m; a pendulum's angle stays within 0.05 rad) then uses a few
bins for everything that matters. Standardizing each element with the mean and standard deviation of the
task's own dataset, as every behaviour-cloning baseline does, puts each task's variation where mu-law
resolves it. The statistics are computed from the dataset, stored beside it, recorded in checkpoints,
and applied identically by the policy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_STD = 1e-3
"""Elements that never vary (Meta-World's padding zeros) are divided by this instead of ~0."""


@dataclass(frozen=True)
class ObsStats:
    """Mean and standard deviation of each continuous observation field, by field key."""

    fields: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def compute(cls, observations: list[dict[str, Any]], keys: list[str]) -> ObsStats:
        """Statistics of the `keys` fields over episodes of observations (each a dict of stacked arrays)."""
        out = {}
        for k in keys:
            x = np.concatenate([np.asarray(o[k], np.float64).reshape(len(o[k]), -1) for o in observations])
            out[k] = (x.mean(0), np.maximum(x.std(0), MIN_STD))
        return cls(out)

    def apply(self, key: str, x: np.ndarray) -> np.ndarray:
        """(x - mean) / std for field `key` (values of shape (T, n)); unchanged for other fields."""
        if key not in self.fields:
            return x
        mean, std = self.fields[key]
        return (np.asarray(x, np.float64) - mean) / std

    def invert(self, key: str, z: np.ndarray) -> np.ndarray:
        if key not in self.fields:
            return z
        mean, std = self.fields[key]
        return np.asarray(z, np.float64) * std + mean

    def to_dict(self) -> dict[str, dict[str, list[float]]]:
        return {k: {"mean": m.tolist(), "std": s.tolist()} for k, (m, s) in self.fields.items()}

    @classmethod
    def from_dict(cls, d: dict[str, dict[str, list[float]]]) -> ObsStats:
        return cls({k: (np.asarray(v["mean"], np.float64), np.asarray(v["std"], np.float64)) for k, v in d.items()})

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()
