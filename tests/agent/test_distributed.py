"""`torchrun --nproc-per-node 2 -m gatosuite train` (gloo) ends with the same weights as one process
training on the same global batches, for Gato and for Gato-MoE.

Gato-MoE matches with the Switch gate and no capacity limit: its balance loss is computed from routing
statistics summed over the processes (agent/models/moe/layer.py), so it is the global batch's loss. The
noisy top-k gate draws its noise per process and capacity is per process (each device's experts have their
own slots), so with those the two runs differ by design; that configuration is checked to train under
torchrun, not to match."""

import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from gatosuite.datasets.collect import collect

ARGS = ["train", "--tasks", "cartpole", "--steps", "4", "--window", "60", "--batch-size", "4", "--warmup", "1",
        "--precision", "fp32", "--log-every", "2", "--val-every", "0"]
SWITCH = ["--model", "gato-moe", "--overrides", "gate=switch", "top_k=1", "capacity_factor=0"]


def _run(tmp_path, name, extra, port):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [*ARGS, *extra, "--root", str(tmp_path)]
    one = [sys.executable, "-m", "gatosuite", *base, "--out", str(tmp_path / f"{name}-one")]
    two = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
           "-m", "gatosuite", *base, "--out", str(tmp_path / f"{name}-two")]
    for cmd in (one, two):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    return (load_file(str(tmp_path / f"{name}-one" / "checkpoint" / "model.safetensors")),
            load_file(str(tmp_path / f"{name}-two" / "checkpoint" / "model.safetensors")))


def _moved(tmp_path, name, weights):
    """Training really moved the weights, so a match is not two untouched initializations."""
    from gatosuite.agent.checkpoint import config_of

    cfg = config_of(tmp_path / f"{name}-one" / "checkpoint")
    from gatosuite.agent.families import family_of_config

    torch.manual_seed(0)
    init = family_of_config(cfg).model(cfg).state_dict()
    return max(float((weights[k] - init[k]).abs().max()) for k in weights)


@pytest.mark.slow
@pytest.mark.parametrize("name,extra,port", [("gato", [], 29517), ("gato-moe-switch", SWITCH, 29518)])
def test_two_gloo_processes_match_one(tmp_path, name, extra, port):
    collect("cartpole", 4, tmp_path, progress=False)
    a, b = _run(tmp_path, name, extra, port)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    assert _moved(tmp_path, name, a) > 1e-4
    if name != "gato":
        assert _moved(tmp_path, name, {k: v for k, v in a.items() if k.endswith("moe.w_gate")}) > 1e-6  # router
    assert (tmp_path / f"{name}-two" / "train.csv").is_file()
    assert not (tmp_path / f"{name}-two" / "checkpoint.tmp").exists()


@pytest.mark.slow
def test_gato_moe_with_noisy_gates_and_capacity_trains_under_torchrun(tmp_path):
    collect("cartpole", 4, tmp_path, progress=False)
    a, b = _run(tmp_path, "gato-moe", ["--model", "gato-moe"], 29519)
    assert all(torch.isfinite(v).all() for v in b.values())
    assert _moved(tmp_path, "gato-moe", b) > 1e-4
