"""Checks on raw observations and actions before they become tokens.

Every error names the field, the form the spec expects and what was actually passed, so a bad env
wrapper or a corrupt dataset is found at the first step instead of as a silently wrong token.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gatosuite.errors import GatosuiteError

from .spec import FieldSpec, TokenKind


class TokenizationError(GatosuiteError, ValueError):
    """An observation or action does not match the task's spec."""


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"{x.dtype} array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}"[:120]


def _expect(role: str, f: FieldSpec, n: int) -> str:
    form = {
        TokenKind.IMAGE: "uint8 array",
        TokenKind.TEXT: "sequence of str",
        TokenKind.DISCRETE: "integer array", TokenKind.ACTION_DISCRETE: "integer array",
    }.get(f.kind, "float array")
    return f"{role} '{f.label}': expected {form} of shape {(n, *f.shape)}"


def as_field_array(role: str, f: FieldSpec, x: Any, n: int) -> np.ndarray:
    """Return `x` as an array of shape (n, *f.shape) of a dtype the field accepts, or raise."""
    if f.kind == TokenKind.TEXT:
        if isinstance(x, str):
            raise TokenizationError(f"{_expect(role, f, n)}, got a single str; pass one string per timestep")
        arr = np.asarray(x, dtype=object)
        if arr.shape != (n,) or not all(isinstance(s, str) for s in arr):
            raise TokenizationError(f"{_expect(role, f, n)}, got {_describe(x)}")
        return arr
    arr = np.asarray(x)
    if arr.shape != (n, *f.shape):
        raise TokenizationError(f"{_expect(role, f, n)}, got {_describe(arr)}")
    if f.kind == TokenKind.IMAGE:
        if arr.dtype != np.uint8:
            raise TokenizationError(f"{_expect(role, f, n)}, got dtype {arr.dtype}; images must be uint8 RGB")
        return arr
    if f.kind in (TokenKind.DISCRETE, TokenKind.ACTION_DISCRETE):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise TokenizationError(f"{_expect(role, f, n)}, got dtype {arr.dtype}; discrete values must be integers")
        return arr
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TokenizationError(f"{_expect(role, f, n)}, got dtype {arr.dtype}; continuous values must be real numbers")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise TokenizationError(
            f"{role} '{f.label}' holds {arr[tuple(bad)]} at index {tuple(int(i) for i in bad)} (timestep "
            f"{int(bad[0])}); NaN and inf cannot be tokenized: fix the env or drop the episode"
        )
    return arr


def discrete_values(role: str, f: FieldSpec, arr: np.ndarray, n: int) -> np.ndarray:
    """(n, k) int64 values shifted by `start`, checked to lie inside the field's [0, nvec)."""
    v = arr.reshape(n, -1).astype(np.int64) - f.start
    bad = (v < 0) | (v >= f.nvec)
    if bad.any():
        t, j = (int(i) for i in np.argwhere(bad)[0])
        lo, hi = int(f.start[j]), int(f.start[j] + f.nvec[j])
        raise TokenizationError(
            f"{role} '{f.label}' element {j} at timestep {t} is {int(v[t, j] + f.start[j])}, outside its "
            f"space [{lo}, {hi}); discrete tokens must lie in [0, 1024) after subtracting `start`"
        )
    return v


def check_action_bounds(f: FieldSpec, arr: np.ndarray, n: int) -> np.ndarray:
    """(n, k) float64 continuous actions checked against the Box bounds (a 1e-6 slack for float32)."""
    a = arr.reshape(n, -1).astype(np.float64)
    slack = 1e-6 * np.maximum(1.0, f.high - f.low)
    bad = (a < f.low - slack) | (a > f.high + slack)
    if bad.any():
        t, j = (int(i) for i in np.argwhere(bad)[0])
        raise TokenizationError(
            f"action '{f.label}' element {j} at timestep {t} is {a[t, j]:.6g}, outside its Box "
            f"[{f.low[j]:.6g}, {f.high[j]:.6g}]; clip actions to the action space before tokenizing"
        )
    return np.clip(a, f.low, f.high)
