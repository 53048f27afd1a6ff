"""Continuous values -> bins in [0, 1024), following Gato section 2.1.

Observations are mu-law companded first, so that small values keep resolution while large ones still
fit: F(x) = sgn(x) * log(|x| mu + 1) / log(M mu + 1), mu = 100, M = 256. Actions are already bounded by
their Box, so they are scaled linearly from [low, high] to [-1, 1] and binned without mu-law; that makes
the decoded action within half a bin of the original, everywhere in the box.
"""

from __future__ import annotations

import numpy as np

from .vocab import N_CONTINUOUS_BINS

MU = 100.0
M = 256.0


def mu_law_encode(x: np.ndarray, mu: float = MU, m: float = M) -> np.ndarray:
    """Gato's companding F(x). Output lies in [-1, 1] for |x| <= M and beyond it for larger |x|."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.log1p(np.abs(x) * mu) / np.log1p(m * mu)


def mu_law_decode(y: np.ndarray, mu: float = MU, m: float = M) -> np.ndarray:
    """Inverse of :func:`mu_law_encode`."""
    y = np.asarray(y, dtype=np.float64)
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(m * mu)) / mu


def to_bins(y: np.ndarray, n_bins: int = N_CONTINUOUS_BINS) -> np.ndarray:
    """Clip to [-1, 1] and split into `n_bins` uniform bins; 1.0 falls in the last bin."""
    y = np.clip(np.asarray(y, dtype=np.float64), -1.0, 1.0)
    bins = np.floor((y + 1.0) * (n_bins / 2.0)).astype(np.int64)
    return np.minimum(bins, n_bins - 1)


def bin_centres(bins: np.ndarray, n_bins: int = N_CONTINUOUS_BINS) -> np.ndarray:
    """The centre of each bin in [-1, 1]: decoding returns the centre, not an edge."""
    return (np.asarray(bins, dtype=np.float64) + 0.5) * (2.0 / n_bins) - 1.0


def encode_observation(x: np.ndarray) -> np.ndarray:
    """Continuous observation values -> bin indices in [0, 1024) (mu-law, clip, bin)."""
    return to_bins(mu_law_encode(x))


def decode_observation(bins: np.ndarray) -> np.ndarray:
    """Bin indices -> the observation value at the bin centre (inverse mu-law)."""
    return mu_law_decode(bin_centres(bins))


def encode_action(a: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Bounded continuous actions -> bins, by a linear map of [low, high] onto [-1, 1]."""
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    scaled = 2.0 * (np.asarray(a, dtype=np.float64) - low) / (high - low) - 1.0
    return to_bins(scaled)


def decode_action(bins: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Bins -> action at the bin centre in the original Box units."""
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    return low + (bin_centres(bins) + 1.0) * 0.5 * (high - low)
