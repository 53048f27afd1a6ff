"""`benchmarks/bench_gpu.py` is one prepared script for whoever has a GPU. Here it must say clearly that
there is no GPU, and its whole code path must run on the CPU (`--smoke`), so it cannot rot unseen."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"


@pytest.mark.slow
def test_without_a_gpu_it_says_so_and_measures_nothing():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "torch sees no CUDA GPU" in out.stdout and "Skipped." in out.stdout


@pytest.mark.slow
def test_smoke_run_on_the_cpu(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--work", str(tmp_path)], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout[out.stdout.index("{"): out.stdout.rindex("}") + 1])
    assert result["checkpoint_loads_on_cpu"] is True and result["steps"] == 3
    assert result["rollout"]["episodes"] == 4 and result["rollout"]["env_steps"] > 0 and result["mfu"] > 0
