"""Images -> 16x16 patches, following Gato section 2.1 (and ViT).

Size policy: a frame whose height or width is not a multiple of 16 is zero-padded at the bottom and
right up to the next multiple. Padding, not resizing, because it never resamples pixels (no blur, no
aliasing of thin BabyAI walls) and is exactly invertible; envs that render large frames should render
at the size they want (the suite renders 64x64) rather than rely on downscaling here.

Normalization: pixels are scaled from [0, 255] to [-1, 1] and divided by sqrt(16) = 4, as in Gato.

Each patch carries its row and column interval, normalized to [0, 1]. The model turns an interval into
one of 128 position bins: a uniformly random bin inside the interval when training, the interval's mean
at evaluation (:func:`patch_position_bins`).
"""

from __future__ import annotations

import numpy as np

PATCH = 16
POSITION_BINS = 128


def padded_size(height: int, width: int) -> tuple[int, int]:
    """Frame size after zero-padding up to multiples of 16."""
    return (-(-height // PATCH) * PATCH, -(-width // PATCH) * PATCH)


def num_patches(height: int, width: int) -> int:
    """Patches per frame: the number of image tokens a frame of this size becomes."""
    h, w = padded_size(height, width)
    return (h // PATCH) * (w // PATCH)


def patchify(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, C) uint8 frames -> (N, P, C, 16, 16) uint8 patches in raster order.

    Raster order means row by row, left to right within a row. Channels-first, ready for a conv stem.
    """
    n, h, w, c = frames.shape
    ph, pw = padded_size(h, w)
    if (ph, pw) != (h, w):
        padded = np.zeros((n, ph, pw, c), dtype=frames.dtype)
        padded[:, :h, :w] = frames
        frames = padded
    rows, cols = ph // PATCH, pw // PATCH
    x = frames.reshape(n, rows, PATCH, cols, PATCH, c)  # (N, R, 16, Cl, 16, C)
    x = x.transpose(0, 1, 3, 5, 2, 4)  # (N, R, Cl, C, 16, 16)
    return np.ascontiguousarray(x).reshape(n, rows * cols, c, PATCH, PATCH)


def unpatchify(patches: np.ndarray, height: int, width: int) -> np.ndarray:
    """Inverse of :func:`patchify`: (N, P, C, 16, 16) -> (N, H, W, C), padding removed."""
    n, p, c = patches.shape[:3]
    ph, pw = padded_size(height, width)
    rows, cols = ph // PATCH, pw // PATCH
    if p != rows * cols:
        raise ValueError(f"{p} patches cannot form a {height}x{width} frame ({rows * cols} expected)")
    x = patches.reshape(n, rows, cols, c, PATCH, PATCH).transpose(0, 1, 4, 2, 5, 3)
    return x.reshape(n, ph, pw, c)[:, :height, :width]


def normalize_patches(patches: np.ndarray) -> np.ndarray:
    """uint8 patches -> float32 in [-1/4, 1/4]: scale to [-1, 1], then divide by sqrt(16)."""
    return (patches.astype(np.float32) * (2.0 / 255.0) - 1.0) / np.float32(np.sqrt(PATCH))


def denormalize_patches(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize_patches`, rounded back to uint8."""
    pixels = (np.asarray(x, dtype=np.float32) * np.sqrt(PATCH) + 1.0) * (255.0 / 2.0)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def patch_intervals(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column intervals of each patch, normalized to [0, 1], each (P, 2) as [start, end).

    Intervals are measured on the padded frame, so every patch of a frame has the same extent.
    """
    ph, pw = padded_size(height, width)
    rows, cols = ph // PATCH, pw // PATCH
    r = np.repeat(np.arange(rows), cols)
    c = np.tile(np.arange(cols), rows)
    row_iv = np.stack([r / rows, (r + 1) / rows], axis=-1).astype(np.float32)
    col_iv = np.stack([c / cols, (c + 1) / cols], axis=-1).astype(np.float32)
    return row_iv, col_iv


def patch_position_bins(
    intervals: np.ndarray, rng: np.random.Generator | None = None, n_bins: int = POSITION_BINS
) -> np.ndarray:
    """Quantize normalized [start, end) intervals into position bins in [0, n_bins).

    With `rng` (training), a bin is drawn uniformly among those the interval covers; without it
    (evaluation), the bin holding the interval's mean is used. That is Gato's patch position encoding.
    """
    iv = np.asarray(intervals, dtype=np.float64)
    lo = np.floor(iv[..., 0] * n_bins).astype(np.int64)
    hi = np.maximum(np.ceil(iv[..., 1] * n_bins).astype(np.int64), lo + 1)  # exclusive
    if rng is None:
        mean = (iv[..., 0] + iv[..., 1]) / 2.0
        return np.clip(np.floor(mean * n_bins).astype(np.int64), 0, n_bins - 1)
    return np.clip(lo + np.floor(rng.random(lo.shape) * (hi - lo)).astype(np.int64), 0, n_bins - 1)
