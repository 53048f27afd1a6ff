"""SIGTERM and Ctrl-C (SIGINT) during training: finish the step in flight, checkpoint, then stop.

A cluster's scheduler, `timeout`, or a user's Ctrl-C would otherwise kill a run between checkpoints and
lose up to --ckpt-every steps. While a `StopSignals` block is active, the first SIGTERM or SIGINT only
records its name; the training loop checks it after every step, writes a checkpoint at the step it
reached, and ends with an error that says how to resume. A second Ctrl-C stops at once
(KeyboardInterrupt): checkpoints are written atomically, so the last one stays whole. The previous
handlers come back when the block ends, since `train()` is also called as a library (demo, compare,
benchmarks).

Handlers can only be installed from the main thread; elsewhere the block does nothing.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from gatosuite.errors import GatosuiteError

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """A context manager: `received` is the first stop signal's name (e.g. 'SIGTERM'), or None."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the user does not want to wait for the step
        self.received = self.received or signal.Signals(signum).name

    def __enter__(self) -> StopSignals:
        if self.enabled:
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()


class TrainingStopped(GatosuiteError, RuntimeError):
    """Training stopped by SIGTERM or SIGINT after checkpointing the step it reached."""
