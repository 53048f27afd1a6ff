"""The tokenized episode cache: one memory-mapped token store per task, built from its Minari dataset.

The training sampler reads these arrays (`np.load(mmap_mode='r')`) and never touches HDF5 on the hot
path. `meta.json` holds a hash of the dataset files and of the tokenizer (text model, vocabulary, spec);
when either changes the cache is rebuilt. A build writes into a temp folder and renames it into place,
so a killed build never leaves a half cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gatosuite.errors import ConfigError, disk_full_is_an_error
from gatosuite.tokenization import ObsStats, Tokenizer, TokenKind, TokenSequence

from . import minari_store

CACHE_VERSION = 2
ARRAYS = {  # name -> dtype on disk
    "ids": np.int32, "kinds": np.uint8, "local_pos": np.int16, "timestep": np.int32, "loss_mask": np.bool_,
    "patches": np.uint8, "patch_rows": np.float32, "patch_cols": np.float32,
}


def cache_dir(root: Path, task_id: str) -> Path:
    return Path(root) / "cache" / task_id


def dataset_hash(root: Path, task_id: str) -> str:
    """sha256 over the dataset's files (metadata and HDF5 content)."""
    h = hashlib.sha256()
    data = minari_store.dataset_dir(root, task_id) / "data"
    for name in ("metadata.json", "main_data.hdf5"):
        with open(data / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def tokenizer_hash(tok: Tokenizer) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|{tok.vocab.text_size}|{tok.spec.describe()}".encode())
    if tok.text_model is not None:
        h.update(tok.text_model.fingerprint.encode())
    if tok.obs_stats is not None:
        h.update(tok.obs_stats.fingerprint.encode())
    return h.hexdigest()


def continuous_keys(task_id: str) -> list[str]:
    """Keys of a task's continuous observation fields: what observation statistics cover."""
    from gatosuite.envs.spaces import task_spaces
    from gatosuite.tokenization import TimestepSpec

    spec = TimestepSpec.from_spaces(*task_spaces(task_id))
    return [f.key for f in spec.obs_fields if f.kind == TokenKind.CONTINUOUS]


def dataset_obs_stats(root: Path, task_id: str) -> ObsStats:
    """Mean and std of the task dataset's continuous observations, stored beside the dataset as
    obs_stats.json and recomputed when the dataset changes."""
    path = minari_store.dataset_dir(root, task_id) / "obs_stats.json"
    stamp = dataset_hash(root, task_id)
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
            if saved.get("dataset_hash") == stamp:
                return ObsStats.from_dict(saved["stats"])
        except (json.JSONDecodeError, KeyError):
            pass  # a torn file: recompute it
    stats = ObsStats.compute([ep.observations for ep in minari_store.iter_episodes(root, task_id)],
                             continuous_keys(task_id))
    tmp = path.with_name("obs_stats.json.tmp")
    tmp.write_text(json.dumps({"dataset_hash": stamp, "stats": stats.to_dict()}, indent=1))
    tmp.replace(path)
    return stats


class TokenCache:
    """Tokens of every episode of one task, memory-mapped."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.meta = json.loads((self.dir / "meta.json").read_text())
        self.arrays = {k: np.load(self.dir / f"{k}.npy", mmap_mode="r") for k in ARRAYS}
        labels = self.dir / "labels.npy"  # only caches of noisy collections have them
        self.labels = np.load(labels, mmap_mode="r") if labels.is_file() else None
        self.episodes = np.load(self.dir / "episodes.npy")  # (E, 4) token start/end, patch start/end

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def tokens_per_timestep(self) -> int | None:
        """Fixed for env tasks; None for text and caption data."""
        n = self.meta.get("tokens_per_timestep")
        return None if n is None else int(n)

    @property
    def variants(self) -> list[int] | None:
        """Each episode's variant, for a goal family's cache; else None."""
        return self.meta.get("variants")

    @property
    def total_tokens(self) -> int:
        return int(self.arrays["ids"].shape[0])

    def episode(self, i: int) -> TokenSequence:
        """Episode i as a TokenSequence (patch ids relative to the episode's own patches)."""
        t0, t1, p0, p1 = (int(x) for x in self.episodes[i])
        a = self.arrays
        ids = np.asarray(a["ids"][t0:t1], np.int64)
        kinds = np.asarray(a["kinds"][t0:t1])
        img = kinds == TokenKind.IMAGE
        ids[img] -= p0
        labels = None
        if self.labels is not None:
            labels = np.asarray(self.labels[t0:t1], np.int64)
            labels[img] = ids[img]
        return TokenSequence(ids, kinds, np.asarray(a["local_pos"][t0:t1], np.int32),
                             np.asarray(a["timestep"][t0:t1]), np.asarray(a["loss_mask"][t0:t1]),
                             np.asarray(a["patches"][p0:p1]), np.asarray(a["patch_rows"][p0:p1]),
                             np.asarray(a["patch_cols"][p0:p1]), labels)


def write_cache(final: Path, seqs: list[TokenSequence], meta: dict) -> TokenCache:
    """Write token sequences (episodes, documents or caption samples) as a cache, atomically."""
    tmp = final.with_name(f".{final.name}.building.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    seq = TokenSequence.concatenate(seqs)
    n_tok = np.array([len(s) for s in seqs], np.int64)
    n_patch = np.array([len(s.patches) for s in seqs], np.int64)
    episodes = np.stack([np.cumsum(n_tok) - n_tok, np.cumsum(n_tok),
                         np.cumsum(n_patch) - n_patch, np.cumsum(n_patch)], axis=1)
    meta = {"version": CACHE_VERSION, **meta, "episodes": len(seqs), "tokens": int(len(seq))}
    try:  # a full disk leaves no half-written temp folder behind (the cache is rebuilt on the next run)
        with disk_full_is_an_error(final):
            tmp.mkdir(parents=True)
            for name, dtype in ARRAYS.items():
                np.save(tmp / f"{name}.npy", getattr(seq, name).astype(dtype, copy=False))
            if seq.labels is not None:
                np.save(tmp / "labels.npy", seq.labels.astype(np.int32))
            np.save(tmp / "episodes.npy", episodes)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return TokenCache(final)


def cached(directory: Path, stamp: dict[str, str], build: Callable[[], list[TokenSequence]],
           meta: dict | Callable[[], dict] | None = None) -> TokenCache:
    """The cache in `directory` if it was written with this `stamp` (hashes of its inputs), else
    `build()` the sequences and write them, stamped, with `meta` (or what `meta()` returns once
    `build()` has run)."""
    meta_path = directory / "meta.json"
    if meta_path.is_file():
        try:
            old = json.loads(meta_path.read_text())
        except json.JSONDecodeError:  # a torn meta.json: rebuild
            old = {}
        if old.get("version") == CACHE_VERSION and all(old.get(k) == v for k, v in stamp.items()):
            return TokenCache(directory)
    seqs = build()
    meta = meta() if callable(meta) else meta
    return write_cache(directory, seqs, {**(meta or {}), **stamp})


def open_cache(root: Path, task_id: str, tok: Tokenizer) -> TokenCache:
    """The task's episode cache, rebuilt first if missing or made from another dataset or tokenizer."""
    stamp = {"dataset_hash": dataset_hash(root, task_id), "tokenizer_hash": tokenizer_hash(tok)}
    variants: list[int | None] = []

    def build() -> list[TokenSequence]:
        seqs = []
        for ep in minari_store.iter_episodes(root, task_id):
            seqs.append(tok.encode_episode(ep.observations, ep.actions, labels=ep.labels))
            variants.append(ep.variant)
        return seqs

    def meta() -> dict:
        return {"task": task_id, "tokens_per_timestep": tok.spec.tokens_per_timestep, "spec": tok.spec.describe(),
                "obs_stats": tok.obs_stats.to_dict() if tok.obs_stats is not None else None,
                "variants": variants if any(v is not None for v in variants) else None}

    return cached(cache_dir(root, task_id), stamp, build, meta)


class EpisodeSubset:
    """Some episodes of a TokenCache, seen as a cache of their own (few-shot fine-tuning on k episodes)."""

    def __init__(self, cache: TokenCache, indices: list[int]) -> None:
        if not indices or max(indices) >= len(cache) or min(indices) < 0:
            raise ConfigError(f"episode indices {indices} are not within the cache's {len(cache)} episodes")
        self.cache, self.indices = cache, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getattr__(self, name: str):  # meta, arrays, tokens_per_timestep: the parent's
        return getattr(self.cache, name)

    @property
    def variants(self) -> list[int] | None:
        parent = self.cache.variants
        return None if parent is None else [parent[i] for i in self.indices]

    def episode(self, i: int) -> TokenSequence:
        return self.cache.episode(self.indices[i])
