"""MultiModel's building blocks: causal, segment-aware separable convolutions and the paper's conv block.

Kaiser et al. 2017 (section 2.1) build the model of convolution steps, ConvStep(x) = LN(SepConv(ReLU(x))),
a depthwise convolution followed by a pointwise (1x1) one, stacked four to a block with two residual
connections. Here a sequence is a row of a packed batch, so a convolution must neither read the tokens of
another segment (a packed row holds several windows) nor padding, and, so that training and acting agree,
never a later token: tap j of a kernel reads the token j * dilation positions back, and only when that
token is in the same group (segment, or segment and chunk) as the one being computed; otherwise the tap
reads zero. Each tap is the input shifted along the sequence, times its (B, T) mask and its kernel row:
K elementwise products (a gather of all taps at once, (B, T, K, D), ran 3x slower forward and backward).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def tap_masks(group: torch.Tensor, kernel: int, dilation: int) -> list[torch.Tensor]:
    """For each tap j, (B, T) bool: token t - j * dilation exists and has t's group. `group` (B, T) int64:
    the tokens that may see each other (-1: padding, sees nothing)."""
    real = group >= 0
    masks = [real]
    for j in range(1, kernel):
        s = j * dilation
        same = torch.zeros_like(real)
        same[:, s:] = (group[:, s:] == group[:, :-s]) & real[:, s:]
        masks.append(same)
    return masks


def shifted(x: torch.Tensor, s: int) -> torch.Tensor:
    """(B, T, D) x moved s tokens later along T, zeros in front: token t holds x[t - s]."""
    if s == 0:
        return x
    if s >= x.shape[1]:
        return torch.zeros_like(x)
    return F.pad(x[:, :-s], (0, 0, s, 0))  # (B, T, D)


class SeparableConv(nn.Module):
    """A causal depthwise convolution (one kernel per channel) over the tokens of a group, then a
    pointwise linear map: the paper's SepConv at a 1-D sequence."""

    def __init__(self, d: int, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.kernel, self.dilation = kernel, dilation
        # depthwise kernel, (K, D): tap j multiplies the token j * dilation back. std 1/sqrt(K) keeps the
        # output's scale that of its input (a depthwise tap has fan-in K); the pointwise map is GPT-2's 0.02.
        self.depthwise = nn.Parameter(torch.randn(kernel, d) / math.sqrt(kernel))
        self.pointwise = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        w = self.depthwise.to(x.dtype)  # (K, D)
        y = torch.zeros_like(x)  # (B, T, D)
        for j, ok in enumerate(tap_masks(group, self.kernel, self.dilation)):
            y = y + shifted(x, j * self.dilation) * ok[..., None].to(x.dtype) * w[j]  # (B, T, D)
        return self.pointwise(y)  # (B, T, D)


class ConvStep(nn.Module):
    """ConvStep(x) = LN(SepConv(ReLU(x))), with dropout on the output."""

    def __init__(self, d: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = SeparableConv(d, kernel, dilation)
        self.ln = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        return self.drop(self.ln(self.conv(F.relu(x), group)))  # (B, T, D)


class ConvBlock(nn.Module):
    """Four conv steps with two residual connections (the paper's conv block):
    h1 = step1(x), h2 = x + step2(h1), h3 = step3(h2), out = h2 + step4(h3); steps 1-2 have the small
    kernel, steps 3-4 the large one, step 4 dilated. Everything is causal within `group`."""

    def __init__(self, d: int, kernel: int, large_kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.steps = nn.ModuleList([ConvStep(d, kernel, 1, dropout), ConvStep(d, kernel, 1, dropout),
                                    ConvStep(d, large_kernel, 1, dropout),
                                    ConvStep(d, large_kernel, dilation, dropout)])

    def forward(self, x: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
        h = x + self.steps[1](self.steps[0](x, group), group)  # (B, T, D)
        return h + self.steps[3](self.steps[2](h, group), group)  # (B, T, D)

    @staticmethod
    def flops_per_token(d: int, kernel: int, large_kernel: int) -> float:
        """Training FLOPs per token of one block: 6 per multiply-accumulate of its depthwise and pointwise
        maps (forward and backward), as agent/contract.py counts a matmul."""
        return 6.0 * (4 * d * d + (2 * kernel + 2 * large_kernel) * d)


class DenseFFN(nn.Module):
    """The decoder's FFN where it is not an MoE: GELU MLP, as the experts are."""

    def __init__(self, d: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc = nn.Linear(d, hidden)
        self.out = nn.Linear(hidden, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.out(F.gelu(self.fc(x))))  # (B, T, D)


def chunk_groups(segment: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
    """(B, U) int64 group of each decoder position: one per (segment, chunk), -1 for padding. A chunk
    number does not reset at a segment boundary, so the pair is what names a chunk."""
    span = int(chunk.max()) + 2 if chunk.numel() else 1
    return torch.where(segment >= 0, segment * span + chunk, torch.full_like(segment, -1))
