"""Crash-safe staging of collected episodes: chunk files written atomically, read back with checks.

A collection run writes finished episodes in chunks (`chunk-000042.npz`, each via a temp file and
`os.replace`), so a run killed at any point, or stopped by a full disk, leaves only whole chunks behind.
`--resume` reads them, and collects exactly the episode indices no chunk holds: no duplicates, nothing
missing. Only when every episode is staged is the Minari dataset built, in one go.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gatosuite.errors import ConfigError, GatosuiteError, disk_full_is_an_error


class CorruptDataError(GatosuiteError, RuntimeError):
    """A staged chunk or dataset file cannot be read; the message says how to recover."""


@dataclass
class Episode:
    """One episode as collected: T+1 observations, T actions."""

    index: int
    """Position of the episode in the dataset (0..N-1); it fixes the seed."""
    seed: int
    """Seed passed to env.reset for this episode."""
    observations: dict[str, Any]
    """Canonical observations, each stacked to length T+1 (Text as a list of str)."""
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    success: bool | None = None
    """Task success where the task defines it (BabyAI, Meta-World), else None."""
    labels: np.ndarray | None = None
    """The expert's action at each recorded state, where it differs from the action played (collection
    with noise, DART-style); None when the expert's actions were played. Training targets are these."""
    variant: int | None = None
    """The episode's variant in a goal family (envs/hidden.py), else None."""

    @property
    def targets(self) -> np.ndarray:
        """The actions a policy is trained to take: the expert's labels where recorded, else the actions."""
        return self.actions if self.labels is None else self.labels

    @property
    def ret(self) -> float:
        return float(np.sum(self.rewards))

    def __len__(self) -> int:
        return int(len(self.actions))


def _to_arrays(ep: Episode) -> dict[str, np.ndarray]:
    p = f"{ep.index}/"
    out = {p + "seed": np.array(ep.seed), p + "actions": np.asarray(ep.actions),
           p + "rewards": np.asarray(ep.rewards, np.float64), p + "terminations": np.asarray(ep.terminations, bool),
           p + "truncations": np.asarray(ep.truncations, bool),
           p + "success": np.array(-1 if ep.success is None else int(ep.success))}
    if ep.labels is not None:
        out[p + "labels"] = np.asarray(ep.labels)
    if ep.variant is not None:
        out[p + "variant"] = np.array(ep.variant)
    for k, v in ep.observations.items():
        out[f"{p}obs.{k}"] = np.asarray(v) if not isinstance(v, list) else np.array(v, dtype=str)
    return out


def encode_chunk(episodes: list[Episode]) -> bytes:
    """`episodes` as the bytes of one chunk file (a compressed .npz): what a Ray actor hands the driver, so the
    compression runs where the episodes were played."""
    arrays: dict[str, np.ndarray] = {}
    for ep in episodes:
        arrays.update(_to_arrays(ep))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def write_chunk(directory: Path, number: int, episodes: list[Episode]) -> Path:
    """Atomically write `episodes` as chunk `number`."""
    return write_chunk_bytes(directory, number, encode_chunk(episodes))


def write_chunk_bytes(directory: Path, number: int, data: bytes) -> Path:
    """Atomically write an encoded chunk (`encode_chunk`) as chunk `number`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"chunk-{number:06d}.npz"
    tmp = directory / f".chunk-{number:06d}.{os.getpid()}.tmp.npz"
    try:
        with disk_full_is_an_error(path), open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk (or any failure) leaves no partial chunk taking space
    return path


def read_chunk(path: Path) -> list[Episode]:
    """Episodes of one chunk; a truncated or corrupt file is a CorruptDataError naming it."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise CorruptDataError(
            f"staged chunk '{path}' is corrupt or truncated ({type(e).__name__}: {e}). Delete that file and "
            "rerun the same `gatosuite collect ... --resume`: only its episodes are collected again."
        ) from e
    by_ep: dict[int, dict[str, np.ndarray]] = {}
    for key, value in data.items():
        idx, name = key.split("/", 1)
        by_ep.setdefault(int(idx), {})[name] = value
    episodes = []
    for idx in sorted(by_ep):
        d = by_ep[idx]
        obs = {k.removeprefix("obs."): (v.tolist() if v.dtype.kind == "U" else v)
               for k, v in d.items() if k.startswith("obs.")}
        s = int(d["success"])
        episodes.append(Episode(idx, int(d["seed"]), obs, d["actions"], d["rewards"], d["terminations"],
                                d["truncations"], None if s < 0 else bool(s), labels=d.get("labels"),
                                variant=int(d["variant"]) if "variant" in d else None))
    return episodes


def staged_episodes(directory: Path) -> dict[int, Episode]:
    """Every episode staged so far, by index (partial temp files of a killed run are removed)."""
    out: dict[int, Episode] = {}
    if not directory.is_dir():
        return out
    for tmp in directory.glob(".chunk-*.tmp.npz"):
        tmp.unlink()
    for path in sorted(directory.glob("chunk-*.npz")):
        for ep in read_chunk(path):
            if ep.index in out:
                raise CorruptDataError(f"episode {ep.index} is staged twice (again in '{path}'); delete "
                                       f"'{directory}' and collect again")
            out[ep.index] = ep
    return out


def next_chunk_number(directory: Path) -> int:
    nums = [int(p.stem.split("-")[1]) for p in directory.glob("chunk-*.npz")]
    return max(nums, default=-1) + 1


def write_plan(directory: Path, plan: dict[str, Any]) -> None:
    """Record what this collection is for; a resume with different arguments is refused."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plan.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != plan:
            diff = {k: (old.get(k), plan.get(k)) for k in set(old) | set(plan) if old.get(k) != plan.get(k)}
            raise ConfigError(f"'{directory}' holds a collection with other settings {diff} (staged, new); "
                             "rerun with the original arguments, or delete that folder to start over")
        return
    tmp = path.with_name(f".plan.{os.getpid()}.tmp")
    try:  # atomically: a torn plan.json (a full disk) would make the collection unresumable
        with disk_full_is_an_error(path):
            tmp.write_text(json.dumps(plan, indent=2, sort_keys=True))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
