"""TokenBatch: the one input type every model in the suite consumes, and its collate function.

A batch is B token windows of length T (padded). Next-token targets are precomputed: position t is
trained to predict token t+1 when that token is a loss target (text or action), so models compute
logits only where `target_mask` is true.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from gatosuite.tokenization import TokenKind, TokenSequence, Vocabulary
from gatosuite.tokenization.images import normalize_patches


@dataclass
class TokenBatch:
    """B windows of T tokens. Image tokens carry pixels in `patches`, placed by `patch_slot`."""

    ids: torch.Tensor
    """(B, T) int64 token ids; 0 at image positions (their embedding comes from pixels)."""
    kinds: torch.Tensor
    """(B, T) uint8 TokenKind; PAD past each window's end."""
    local_pos: torch.Tensor
    """(B, T) int64 index within the timestep's observation; -1 for separator, actions and padding."""
    targets: torch.Tensor
    """(B, T) int64: the id of token t+1."""
    target_mask: torch.Tensor
    """(B, T) bool: position t is trained to predict token t+1 (a text or action target)."""
    patches: torch.Tensor
    """(N, 3, 16, 16) float32 normalized pixels of every image token in the batch."""
    patch_slot: torch.Tensor
    """(N,) int64 flat position b * T + t of each patch."""
    patch_rows: torch.Tensor
    """(N, 2) float32 normalized [start, end) row interval of each patch."""
    patch_cols: torch.Tensor
    """(N, 2) float32 normalized [start, end) column interval of each patch."""

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.ids.shape)  # type: ignore[return-value]

    def to(self, device: torch.device | str) -> TokenBatch:
        return TokenBatch(**{f.name: getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)})


def collate(seqs: list[TokenSequence], vocab: Vocabulary, length: int | None = None) -> TokenBatch:
    """Pad token windows to a common length and build next-token targets.

    Windows longer than `length` are an error (cut them at timestep boundaries before collating).
    """
    t_max = length or max(len(s) for s in seqs)
    b = len(seqs)
    ids = np.full((b, t_max), vocab.pad, np.int64)
    kinds = np.full((b, t_max), TokenKind.PAD, np.uint8)
    local = np.full((b, t_max), -1, np.int64)
    loss = np.zeros((b, t_max), bool)
    patches, slots, rows, cols = [], [], [], []
    for i, s in enumerate(seqs):
        n = len(s)
        if n > t_max:
            raise ValueError(f"window {i} has {n} tokens, more than the batch length {t_max}")
        img = s.kinds == TokenKind.IMAGE
        ids[i, :n] = np.where(img, 0, s.ids)
        kinds[i, :n] = s.kinds
        local[i, :n] = s.local_pos
        loss[i, :n] = s.loss_mask
        order = s.ids[img]  # patch row of each image token, in token order
        patches.append(s.patches[order])
        rows.append(s.patch_rows[order])
        cols.append(s.patch_cols[order])
        slots.append(i * t_max + np.flatnonzero(img))
    targets = np.concatenate([ids[:, 1:], np.full((b, 1), vocab.pad, np.int64)], axis=1)
    target_mask = np.concatenate([loss[:, 1:], np.zeros((b, 1), bool)], axis=1)
    cat = lambda xs, shape: np.concatenate(xs) if xs else np.zeros(shape)  # noqa: E731
    return TokenBatch(
        ids=torch.from_numpy(ids), kinds=torch.from_numpy(kinds), local_pos=torch.from_numpy(local),
        targets=torch.from_numpy(targets), target_mask=torch.from_numpy(target_mask),
        patches=torch.from_numpy(normalize_patches(cat(patches, (0, 3, 16, 16)).astype(np.uint8))),
        patch_slot=torch.from_numpy(cat(slots, (0,)).astype(np.int64)),
        patch_rows=torch.from_numpy(cat(rows, (0, 2)).astype(np.float32)),
        patch_cols=torch.from_numpy(cat(cols, (0, 2)).astype(np.float32)),
    )
