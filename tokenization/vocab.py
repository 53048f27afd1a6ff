"""The one owner of the token-id layout.

Gato puts every modality into a single id space. We keep the ranges disjoint (Gato shares ids between
text and discrete values), so that decoding an action can be restricted to exactly the ids that can mean
an action value::

    [0, text_size)                          SentencePiece text ids
    [discrete_offset, +1024)                discrete values 0..1023
    [continuous_offset, +1024)              continuous bins 0..1023
    separator, bos, eos, pad                special tokens, in that order

Image patches have no id: they are embedded from pixels. Every other module asks this object for ids
instead of doing offset arithmetic itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_DISCRETE = 1024
"""Number of discrete value ids (Gato: integers in [0, 1024))."""

N_CONTINUOUS_BINS = 1024
"""Number of uniform bins that continuous values in [-1, 1] are split into."""

N_SPECIAL = 4
"""Separator, BOS, EOS, padding."""


@dataclass(frozen=True)
class Vocabulary:
    """Token-id layout for a given text vocabulary size."""

    text_size: int = 4096
    """Number of SentencePiece ids. Gato used 32000; CPU presets default to 4096."""

    def __post_init__(self) -> None:
        if not isinstance(self.text_size, int) or self.text_size < 1:
            raise ValueError(f"Vocabulary.text_size must be a positive int, got {self.text_size!r}")

    # --- ranges -------------------------------------------------------------------------------------
    @property
    def discrete_offset(self) -> int:
        return self.text_size

    @property
    def continuous_offset(self) -> int:
        return self.text_size + N_DISCRETE

    @property
    def separator(self) -> int:
        """The `|` token between a timestep's observation and its action."""
        return self.continuous_offset + N_CONTINUOUS_BINS

    @property
    def bos(self) -> int:
        return self.separator + 1

    @property
    def eos(self) -> int:
        return self.separator + 2

    @property
    def pad(self) -> int:
        return self.separator + 3

    @property
    def size(self) -> int:
        """Total number of ids: the embedding table's row count."""
        return self.separator + N_SPECIAL

    @property
    def text_range(self) -> tuple[int, int]:
        return (0, self.text_size)

    @property
    def discrete_range(self) -> tuple[int, int]:
        return (self.discrete_offset, self.discrete_offset + N_DISCRETE)

    @property
    def continuous_range(self) -> tuple[int, int]:
        return (self.continuous_offset, self.continuous_offset + N_CONTINUOUS_BINS)

    # --- conversions (vectorized) -------------------------------------------------------------------
    def discrete_ids(self, values: np.ndarray) -> np.ndarray:
        """Ids for discrete values already checked to lie in [0, 1024)."""
        return np.asarray(values, dtype=np.int64) + self.discrete_offset

    def continuous_ids(self, bins: np.ndarray) -> np.ndarray:
        """Ids for continuous bins already checked to lie in [0, 1024)."""
        return np.asarray(bins, dtype=np.int64) + self.continuous_offset

    def discrete_values(self, ids: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`discrete_ids`; raises if any id is outside the discrete range."""
        return self._unshift(ids, self.discrete_range, "discrete")

    def continuous_bins(self, ids: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`continuous_ids`; raises if any id is outside the continuous range."""
        return self._unshift(ids, self.continuous_range, "continuous")

    @staticmethod
    def _unshift(ids: np.ndarray, rng: tuple[int, int], name: str) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        lo, hi = rng
        bad = (ids < lo) | (ids >= hi)
        if bad.any():
            raise ValueError(
                f"token id {int(ids[bad].flat[0])} is not a {name} id: {name} ids are [{lo}, {hi}). "
                "Restrict decoding to the spec's action ranges (TimestepSpec.action_id_ranges)."
            )
        return ids - lo

    def name_of(self, token_id: int) -> str:
        """A short human-readable name for a single id, for debug dumps."""
        if 0 <= token_id < self.text_size:
            return f"text:{token_id}"
        if self.discrete_range[0] <= token_id < self.discrete_range[1]:
            return f"disc:{token_id - self.discrete_offset}"
        if self.continuous_range[0] <= token_id < self.continuous_range[1]:
            return f"cont:{token_id - self.continuous_offset}"
        specials = {self.separator: "|", self.bos: "<bos>", self.eos: "<eos>", self.pad: "<pad>"}
        if token_id in specials:
            return specials[token_id]
        raise ValueError(f"token id {token_id} is outside the vocabulary [0, {self.size})")
