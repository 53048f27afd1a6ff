"""The tokenizer's output: flat, parallel numpy arrays, one entry per token."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .images import normalize_patches
from .spec import TokenKind

PATCH_SHAPE = (3, 16, 16)


@dataclass
class TokenSequence:
    """Tokens of one or more timesteps (or of a text document), as parallel arrays of length N.

    Image tokens have no vocabulary id: their `ids` entry is the row of `patches` holding their pixels.
    Patches stay uint8 here (4x smaller in caches and batches); :meth:`patch_values` gives Gato's
    normalized floats where the model consumes them.
    """

    ids: np.ndarray
    """(N,) int64 token id, or patch row for IMAGE tokens."""
    kinds: np.ndarray
    """(N,) uint8 :class:`TokenKind`."""
    local_pos: np.ndarray
    """(N,) int32 index within the timestep's observation; -1 for the separator and action tokens."""
    timestep: np.ndarray
    """(N,) int32 timestep index within the episode."""
    loss_mask: np.ndarray
    """(N,) bool: true only for text and action targets (never padding)."""
    patches: np.ndarray
    """(P, 3, 16, 16) uint8 pixels of the image tokens, in token order."""
    patch_rows: np.ndarray
    """(P, 2) float32 [start, end) row interval of each patch, normalized to [0, 1]."""
    patch_cols: np.ndarray
    """(P, 2) float32 [start, end) column interval of each patch, normalized to [0, 1]."""
    labels: np.ndarray | None = None
    """(N,) int64 id each token is trained to be, where that differs from `ids`: with DART-style noisy
    collection, an action token's input id is the action played (what the env saw) and its label is the
    expert's action at that state. None when every token is its own label."""

    @property
    def target_ids(self) -> np.ndarray:
        """(N,) the id each token is trained to be: `labels` where recorded, else `ids`."""
        return self.ids if self.labels is None else self.labels

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def patch_values(self) -> np.ndarray:
        """(P, 3, 16, 16) float32 patches scaled to [-1, 1] and divided by sqrt(16)."""
        return normalize_patches(self.patches)

    @classmethod
    def empty(cls) -> TokenSequence:
        return cls(
            ids=np.zeros(0, np.int64), kinds=np.zeros(0, np.uint8), local_pos=np.zeros(0, np.int32),
            timestep=np.zeros(0, np.int32), loss_mask=np.zeros(0, bool),
            patches=np.zeros((0, *PATCH_SHAPE), np.uint8), patch_rows=np.zeros((0, 2), np.float32),
            patch_cols=np.zeros((0, 2), np.float32),
        )

    @classmethod
    def concatenate(cls, parts: list[TokenSequence]) -> TokenSequence:
        """Join sequences end to end, renumbering patch rows so image ids stay valid."""
        if not parts:
            return cls.empty()
        offsets = np.cumsum([0] + [len(p.patches) for p in parts[:-1]])
        ids = [np.where(p.kinds == TokenKind.IMAGE, p.ids + off, p.ids) for p, off in zip(parts, offsets)]
        out = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls) if f.name != "labels"}
        out["ids"] = np.concatenate(ids)
        if any(p.labels is not None for p in parts):
            out["labels"] = np.concatenate([np.where(p.kinds == TokenKind.IMAGE, i, p.target_ids)
                                            for p, i in zip(parts, ids)])
        return cls(**out)

    def slice(self, start: int, stop: int) -> TokenSequence:
        """Tokens [start, stop), keeping only the patches those tokens use (renumbered from 0)."""
        kinds = self.kinds[start:stop]
        ids = self.ids[start:stop].copy()
        img = kinds == TokenKind.IMAGE
        rows = ids[img]
        ids[img] = np.arange(rows.size)
        labels = None
        if self.labels is not None:
            labels = np.where(img, ids, self.labels[start:stop])
        return TokenSequence(ids, kinds, self.local_pos[start:stop], self.timestep[start:stop],
                             self.loss_mask[start:stop], self.patches[rows], self.patch_rows[rows],
                             self.patch_cols[rows], labels)
