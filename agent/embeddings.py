"""Gato's input embeddings: token table, ResNet-v2 patch block, local and patch position encodings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PatchEmbedding(nn.Module):
    """A single pre-activation (v2) ResNet block with GroupNorm and GELU, then a linear map to the width.

    A stride-4 stem first turns the 16x16 patch into 4x4 cells, which keeps the block cheap on CPU.
    """

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        groups = min(8, channels)
        self.stem = nn.Conv2d(3, channels, kernel_size=4, stride=4)
        self.norm1 = nn.GroupNorm(groups, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.proj = nn.Linear(channels * 16, width)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:  # (N, 3, 16, 16) -> (N, D)
        x = self.stem(patches)  # (N, C, 4, 4)
        h = self.conv1(F.gelu(self.norm1(x)))  # (N, C, 4, 4)
        h = self.conv2(F.gelu(self.norm2(h)))  # (N, C, 4, 4)
        return self.proj((x + h).flatten(1))  # (N, D)


def position_bins(intervals: torch.Tensor, n_bins: int, train: bool) -> torch.Tensor:
    """Normalized [start, end) intervals (N, 2) -> bins (N,): uniform inside the interval when
    training, the interval's mean at evaluation (Gato's patch position encoding)."""
    lo = torch.floor(intervals[:, 0] * n_bins)
    hi = torch.maximum(torch.ceil(intervals[:, 1] * n_bins), lo + 1)
    if train:
        b = lo + torch.floor(torch.rand_like(lo) * (hi - lo))
    else:
        b = torch.floor((intervals[:, 0] + intervals[:, 1]) / 2 * n_bins)
    return b.long().clamp_(0, n_bins - 1)
