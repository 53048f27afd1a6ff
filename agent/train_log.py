"""A training run's log: `train.csv` (long format: step, key, value), TensorBoard scalars, and the
runtime (device, precision and why) in `runtime.json` and as TensorBoard text."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .runtime import Runtime


class RunLog:
    def __init__(self, out: Path, rt: Runtime) -> None:
        from torch.utils.tensorboard import SummaryWriter

        out.mkdir(parents=True, exist_ok=True)
        self.csv_path = out / "train.csv"
        self.tb = SummaryWriter(str(out / "tensorboard"))
        (out / "runtime.json").write_text(json.dumps(rt.to_dict(), indent=2))
        self.tb.add_text("runtime", rt.describe())

    def write(self, row: dict[str, Any]) -> None:
        """One log row: every key but 'step' becomes a (step, key, value) line and a scalar."""
        new = not self.csv_path.exists()
        with self.csv_path.open("a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["step", "key", "value"])
            for k, v in row.items():
                if k != "step":
                    w.writerow([row["step"], k, v])
                    self.tb.add_scalar(k, v, row["step"])

    def close(self) -> None:
        self.tb.close()
