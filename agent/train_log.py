"""A training run's log: `train.csv` (long format: step, key, value), TensorBoard scalars, and the
runtime (device, precision and why) in `runtime.json` and as TensorBoard text.

A full disk while logging is a DiskFullError naming the file. train.csv keeps whole rows only (a row
cut short is truncated away), so `--resume` appends to a clean file. TensorBoard writes from its own
thread; while a RunLog is open, that thread's full-disk error is not printed as a traceback, since the
next write or flush in the main thread raises it as a DiskFullError.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from pathlib import Path
from typing import Any

from gatosuite.errors import RESUME_FIX, disk_full_is_an_error, is_no_space

from .runtime import Runtime


class RunLog:
    def __init__(self, out: Path, rt: Runtime) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.csv_path = out / "train.csv"
        self.tb_dir = out / "tensorboard"
        self._previous_hook = threading.excepthook
        threading.excepthook = self._quiet_writer_thread
        try:
            with disk_full_is_an_error(out, RESUME_FIX):
                out.mkdir(parents=True, exist_ok=True)
                self.tb = SummaryWriter(str(self.tb_dir))
                (out / "runtime.json").write_text(json.dumps(rt.to_dict(), indent=2))
                self.tb.add_text("runtime", rt.describe())
        except BaseException:
            threading.excepthook = self._previous_hook
            raise

    def _quiet_writer_thread(self, args: threading.ExceptHookArgs) -> None:
        """TensorBoard's writer thread dies on a full disk; the main thread reports it (see the module)."""
        if not (is_no_space(args.exc_value) and type(args.thread).__name__ == "_AsyncWriterThread"):
            self._previous_hook(args)

    def write(self, row: dict[str, Any]) -> None:
        """One log row: every key but 'step' becomes a (step, key, value) line and a scalar."""
        new = not self.csv_path.exists()
        size = 0 if new else self.csv_path.stat().st_size
        try:
            with disk_full_is_an_error(self.csv_path), self.csv_path.open("a", newline="") as f:
                w = csv.writer(f)
                if new:
                    w.writerow(["step", "key", "value"])
                for k, v in row.items():
                    if k != "step":
                        w.writerow([row["step"], k, v])
        except BaseException:
            if self.csv_path.exists():
                os.truncate(self.csv_path, size)  # whole rows only; truncating needs no space
            raise
        with disk_full_is_an_error(self.tb_dir):
            for k, v in row.items():
                if k != "step":
                    self.tb.add_scalar(k, v, row["step"])
            self.tb.flush()  # a full disk shows here, in this thread, and not minutes later in the writer's

    def close(self, quiet: bool = False) -> None:
        """Flush and close TensorBoard; `quiet` (on the way out of a failed run) hides a second error."""
        try:
            with disk_full_is_an_error(self.tb_dir):
                self.tb.close()
        except OSError:
            if not quiet:
                raise
        finally:
            threading.excepthook = self._previous_hook
