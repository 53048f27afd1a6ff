"""The defaults of `--device` and `--precision`, importable without torch: every command's arguments use
them, and `gatosuite --help` must not load torch to print them (agent/runtime.py resolves the values)."""

from __future__ import annotations

import os

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")


def default_device() -> str:
    """GATOSUITE_DEVICE, when set, replaces 'auto' as every command's --device."""
    return os.environ.get("GATOSUITE_DEVICE", "auto")


def default_precision() -> str:
    """GATOSUITE_PRECISION, when set, replaces 'auto' as every command's --precision."""
    return os.environ.get("GATOSUITE_PRECISION", "auto")
