"""TokenBatch: the one input type every model in the suite consumes, and its collate function.

A batch is B rows of T tokens (padded). Next-token targets are precomputed: position t is trained to
predict token t+1 when that token is a loss target (text or action), so models compute logits only
where `target_mask` is true.

A row is one window (Gato), or several independent segments packed back to back (`collate_rows`): then
`segments` says which segment each token belongs to, `positions` restart at 0 in each segment, a token
attends only within its segment, and no target crosses a segment boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from gatosuite.tokenization import TokenKind, TokenSequence, Vocabulary
from gatosuite.tokenization.images import normalize_patches


@dataclass
class TokenBatch:
    """B rows of T tokens. Image tokens carry pixels in `patches`, placed by `patch_slot`."""

    ids: torch.Tensor
    """(B, T) int64 token ids; 0 at image positions (their embedding comes from pixels)."""
    kinds: torch.Tensor
    """(B, T) uint8 TokenKind; PAD past each window's end."""
    local_pos: torch.Tensor
    """(B, T) int64 index within the timestep's observation; -1 for separator, actions and padding."""
    targets: torch.Tensor
    """(B, T) int64: the label of token t+1 (its id, or the expert's action where the action played
    differs, see TokenSequence.labels)."""
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
    segments: torch.Tensor | None = None
    """(B, T) int64 index of each token's segment within its row (padding: -1); None when every row is
    one window, where attention is plain causal."""
    positions: torch.Tensor | None = None
    """(B, T) int64 position of each token within its segment; None: 0..T-1 in every row."""
    task_index: torch.Tensor | None = None
    """(B, T) int64 index of each token's task in the model's task vocabulary (`task_vocabulary`): the
    same for every token of a segment, so for every token of an unpacked row; -1 for padding and for a
    task outside the vocabulary (a held-out task the model never trained on). None: not recorded (a
    family that reads it, such as UniT's task queries, refuses such a batch)."""

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.ids.shape)  # type: ignore[return-value]

    def to(self, device: torch.device | str) -> TokenBatch:
        return TokenBatch(**{f.name: None if getattr(self, f.name) is None else
                             getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)})

    def target_task_index(self) -> torch.Tensor:
        """(M,) task index of each target, in target_mask order (the order of a next-token family's logits)."""
        if self.task_index is None:
            raise ValueError("the batch records no task_index; collate it with collate_tasks")
        return self.task_index[self.target_mask]

    def attention_mask(self) -> torch.Tensor | None:
        """(B, 1, T, T) bool: causal within each segment; None for unpacked rows (plain causal)."""
        if self.segments is None:
            return None
        t = self.ids.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=self.ids.device).tril()  # (T, T)
        same = self.segments[:, :, None] == self.segments[:, None, :]  # (B, T, T)
        return (same & causal)[:, None]  # padding attends to padding, so no row of the mask is empty


def collate(seqs: list[TokenSequence], vocab: Vocabulary, length: int | None = None) -> TokenBatch:
    """One window per row: pad to a common length and build next-token targets.

    Windows longer than `length` are an error (cut them at timestep boundaries before collating).
    """
    return collate_rows([[s] for s in seqs], vocab, length)


def collate_rows(rows: list[list[TokenSequence]], vocab: Vocabulary, length: int | None = None,
                 tasks: list[list[int]] | None = None) -> TokenBatch:
    """Rows of independent segments packed back to back, padded to a common length, with next-token
    targets that never cross a segment boundary. Rows of a single segment give an unpacked batch.
    `tasks`: the task index of every segment (as `rows`), which fills `task_index`."""
    seqs = [TokenSequence.concatenate(r) if len(r) > 1 else r[0] for r in rows]
    packed = any(len(r) > 1 for r in rows)
    t_max = length or max(len(s) for s in seqs)
    b = len(seqs)
    ids = np.full((b, t_max), vocab.pad, np.int64)
    labels = np.full((b, t_max), vocab.pad, np.int64)
    kinds = np.full((b, t_max), TokenKind.PAD, np.uint8)
    local = np.full((b, t_max), -1, np.int64)
    loss = np.zeros((b, t_max), bool)
    segment = np.full((b, t_max), -1, np.int64)
    position = np.zeros((b, t_max), np.int64)
    task_index = np.full((b, t_max), -1, np.int64)
    patches, slots, prow, pcol = [], [], [], []
    for i, (s, parts) in enumerate(zip(seqs, rows)):
        n = len(s)
        if n > t_max:
            raise ValueError(f"row {i} has {n} tokens, more than the batch length {t_max}")
        img = s.kinds == TokenKind.IMAGE
        ids[i, :n] = np.where(img, 0, s.ids)
        labels[i, :n] = np.where(img, 0, s.target_ids)
        kinds[i, :n] = s.kinds
        local[i, :n] = s.local_pos
        loss[i, :n] = s.loss_mask
        lengths = [len(p) for p in parts]
        segment[i, :n] = np.repeat(np.arange(len(parts)), lengths)
        position[i, :n] = np.concatenate([np.arange(m) for m in lengths])
        if tasks is not None:
            task_index[i, :n] = np.repeat(np.asarray(tasks[i], np.int64), lengths)
        order = s.ids[img]  # patch row of each image token, in token order
        patches.append(s.patches[order])
        prow.append(s.patch_rows[order])
        pcol.append(s.patch_cols[order])
        slots.append(i * t_max + np.flatnonzero(img))
    targets = np.concatenate([labels[:, 1:], np.full((b, 1), vocab.pad, np.int64)], axis=1)
    same_segment = np.concatenate([segment[:, 1:] == segment[:, :-1], np.zeros((b, 1), bool)], axis=1)
    target_mask = np.concatenate([loss[:, 1:], np.zeros((b, 1), bool)], axis=1) & same_segment
    cat = lambda xs, shape: np.concatenate(xs) if xs else np.zeros(shape)  # noqa: E731
    return TokenBatch(
        ids=torch.from_numpy(ids), kinds=torch.from_numpy(kinds), local_pos=torch.from_numpy(local),
        targets=torch.from_numpy(targets), target_mask=torch.from_numpy(target_mask),
        patches=torch.from_numpy(normalize_patches(cat(patches, (0, 3, 16, 16)).astype(np.uint8))),
        patch_slot=torch.from_numpy(cat(slots, (0,)).astype(np.int64)),
        patch_rows=torch.from_numpy(cat(prow, (0, 2)).astype(np.float32)),
        patch_cols=torch.from_numpy(cat(pcol, (0, 2)).astype(np.float32)),
        segments=torch.from_numpy(segment) if packed else None,
        positions=torch.from_numpy(position) if packed else None,
        task_index=torch.from_numpy(task_index) if tasks is not None else None,
    )


def collate_tasks(rows: list[list[tuple[str, TokenSequence]]], vocab: Vocabulary, length: int | None,
                  task_vocab: list[str] | tuple[str, ...]) -> TokenBatch:
    """(task, segment) rows, as the sampler draws them, collated with each token's task index in
    `task_vocab` (-1 for a task outside it)."""
    index = {t: i for i, t in enumerate(task_vocab)}
    return collate_rows([[seq for _, seq in r] for r in rows], vocab, length,
                        tasks=[[index.get(t, -1) for t, _ in r] for r in rows])


def task_vocabulary(cfg: object, trained: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The task vocabulary `TokenBatch.task_index` refers to: the model config's own `tasks` where the
    family keeps task-specific parameters (fixed once the model is built, so fine-tuning on a new task
    maps it to -1 rather than onto a trained task's parameters), else the run's trained tasks in order."""
    own = getattr(cfg, "tasks", None)
    return tuple(own) if own else tuple(trained)


def target_task_names(inputs: Any, task_vocab: tuple[str, ...] | list[str]) -> np.ndarray:
    """(M,) the task of every target of a next-token family's inputs (a TokenBatch, or what its adapter made
    of one: both offer `target_task_index()`, in the order of the family's logits; '' for a task outside
    the vocabulary), by which the trainer and `gatosuite compare` split a batch's loss by domain."""
    names = np.array([*task_vocab, ""], dtype=object)
    idx = inputs.target_task_index().cpu().numpy()  # (M,)
    return names[np.where(idx < 0, len(task_vocab), idx)]
