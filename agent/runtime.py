"""Where and in what precision a model runs: `--device auto|cpu|cuda` and `--precision auto|fp32|bf16`.

bf16 autocast is a large win on some machines and a large loss on others, so `auto` never assumes:

* CUDA: bf16 where the GPU supports it (`torch.cuda.is_bf16_supported()`), else fp32.
* CPU: a short in-process measurement (about 0.1 s on a fast CPU, under 0.5 s on a slow one) times the
  same small linear layer in fp32 and under bf16 autocast, and picks bf16 only when it is clearly
  faster. Measured with torch 2.13 on 2-core machines of this project (1024x1024 matmul, GFLOP/s):

  ===============================================  =====  =====
  CPU                                               fp32   bf16
  ===============================================  =====  =====
  AMD EPYC, AVX2 only                                108    0.8
  Intel Xeon with AVX-512-BF16 but no AMX            279    166
  the same Xeon restricted to AVX2 (see below)       150    0.9
  ===============================================  =====  =====

  An AMX Xeon (Sapphire Rapids) ran bf16 autocast 1.4-1.7x faster than fp32. A capability flag alone
  would be wrong on the second row (it has AVX-512-BF16, yet bf16 is slower), hence the measurement.

  The answer also depends on the shape. Training multiplies hundreds of token rows at once; acting
  decodes one token for each of a few envs per call (a KV-cache step), where bf16's conversions cost as
  much as they save. So training and acting are measured apart (`WORKLOADS`: 256 rows and 8 rows of
  Linear(256, 512), one thread). Measured with `measure_cpu_matmul` (microseconds, fp32 / bf16):

  =======================================================  ==========  ==========  ==========
  CPU                                                       5 rows      8 rows      256 rows
  =======================================================  ==========  ==========  ==========
  AMD EPYC Zen 4 with AVX-512-BF16                          40.0/40.5   (not run)   659/341
  Intel Xeon with AMX (the other job busy on the 2nd core)  44.6/81.4   61.4/81.1   946/234
  =======================================================  ==========  ==========  ==========

  On both, training picks bf16 and acting fp32; whole policies acting 5 envs of a Meta-World task measured
  5-10% (Zen 4) and 14-19% (AMX, benchmarks/bench_act.py) slower per step in bf16 than in fp32.
  `ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2` makes an AVX-512 CPU
  behave like an AVX2 one (third row), which is how the AVX2 path is tried on an AVX-512 machine.

The decision is made once per process, device and workload, printed once, and recorded by whoever runs a
model (checkpoint config, train log, eval_info.json). `GATOSUITE_PRECISION` and `GATOSUITE_DEVICE`, when set,
replace `auto` as the default of every command.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import torch

from gatosuite.errors import ConfigError

from .defaults import DEVICES, PRECISIONS, default_device, default_precision  # noqa: F401  (re-exported)

BF16_MARGIN = 0.9
"""bf16 is chosen on a CPU only when it takes under 90% of fp32's time: a tie is not worth the
rounding."""


@dataclass(frozen=True)
class Runtime:
    """A resolved device and precision, with the reason for the precision."""

    device: torch.device
    precision: str
    """'fp32' or 'bf16' (autocast)."""
    reason: str
    """Why this precision: measured timings, a GPU capability, or the user's explicit choice."""

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on this runtime's device type when bf16 was chosen; a no-op otherwise."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def to_dict(self) -> dict[str, Any]:
        return {"device": str(self.device), "precision": self.precision, "reason": self.reason,
                "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
                "torch": torch.__version__}

    def describe(self) -> str:
        return f"device {self.device}, precision {self.precision} ({self.reason})"


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' is CUDA when available (this process's LOCAL_RANK GPU under torchrun), else the CPU."""
    if name not in DEVICES:
        raise ConfigError(f"unknown device '{name}'; use one of {', '.join(DEVICES)}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but torch sees no CUDA GPU (a CPU-only build, or no "
                          "driver); use --device cpu or auto")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())


def measure_cpu_matmul(rows: int = 256, width: int = 256, out: int = 512, reps: int = 3) -> tuple[float, float]:
    """Seconds of one forward pass of Linear(width, out) on `rows` rows, in fp32 and under CPU bf16
    autocast: (fp32, bf16), each the best of `reps` after a warm-up call."""
    lin = torch.nn.Linear(width, out)
    x = torch.randn(rows, width)
    times = []
    with torch.no_grad():
        for enabled in (False, True):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
                lin(x)
                best = float("inf")
                for _ in range(reps):
                    t0 = time.perf_counter()
                    lin(x)
                    best = min(best, time.perf_counter() - t0)
            times.append(best)
    return times[0], times[1]


WORKLOADS = {"train": 256, "act": 8}
"""Rows of the CPU probe's matmul for each workload: a training batch's many token rows, or the few rows
of an acting step (one token for each of a few envs)."""


def choose_precision(name: str, device: torch.device, workload: str = "train") -> tuple[str, str]:
    """(precision, reason) for a device and workload ('train' or 'act'); 'auto' measures on CPU at that
    workload's shape (see the module docstring)."""
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload '{workload}'; use one of {', '.join(WORKLOADS)}")
    if name not in PRECISIONS:
        raise ConfigError(f"unknown precision '{name}'; use one of {', '.join(PRECISIONS)}")
    if name != "auto":
        return name, "asked for explicitly"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", f"{torch.cuda.get_device_name(device)} supports bf16"
        return "fp32", f"{torch.cuda.get_device_name(device)} has no bf16 support"
    rows = WORKLOADS[workload]
    fp32, bf16 = measure_cpu_matmul(rows=rows)
    cap = torch.backends.cpu.get_cpu_capability()
    timing = (f"{workload} probe: bf16 autocast {rows}-row matmul {bf16 * 1e3:.3f} ms vs fp32 {fp32 * 1e3:.3f} ms "
              f"on this {cap} CPU")
    if bf16 < BF16_MARGIN * fp32:
        return "bf16", f"measured faster: {timing}"
    return "fp32", f"bf16 measured no faster: {timing}"


_RESOLVED: dict[tuple[str, str, str], Runtime] = {}


def resolve(device: str | None = None, precision: str | None = None, announce: bool = True,
            workload: str = "train") -> Runtime:
    """The runtime for these choices and workload ('train', or 'act' for policies), resolved once per
    process (the CPU is measured at most once per workload) and, with `announce`, printed once to stderr."""
    device, precision = device or default_device(), precision or default_precision()
    dev = resolve_device(device)
    key = (str(dev), precision, workload)
    if key not in _RESOLVED:
        prec, reason = choose_precision(precision, dev, workload)
        _RESOLVED[key] = Runtime(dev, prec, reason)
        if announce:
            print(f"gatosuite: {_RESOLVED[key].describe()}", file=sys.stderr, flush=True)
    return _RESOLVED[key]

