"""`torchrun --nproc-per-node 2 -m gatosuite train` (gloo) ends with the same weights as one process
training on the same global batches."""

import os
import subprocess
import sys

import torch
from safetensors.torch import load_file

from gatosuite.datasets.collect import collect

ARGS = ["train", "--tasks", "cartpole", "--steps", "4", "--window", "60", "--batch-size", "4", "--warmup", "1",
        "--precision", "fp32", "--log-every", "2", "--val-every", "0"]


def test_two_gloo_processes_match_one(tmp_path):
    collect("cartpole", 4, tmp_path, progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = [sys.executable, "-m", "gatosuite", *ARGS, "--root", str(tmp_path), "--out", str(tmp_path / "one")]
    two = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
           "-m", "gatosuite", *ARGS, "--root", str(tmp_path), "--out", str(tmp_path / "two")]
    for cmd in (one, two):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
    a = load_file(str(tmp_path / "one" / "checkpoint" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "checkpoint" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    # and training really moved the weights, so the match is not two untouched initializations
    from gatosuite.agent.checkpoint import read_config
    from gatosuite.agent.models.gato.configuration_gato import GatoConfig
    from gatosuite.agent.models.gato.modeling_gato import GatoModel

    torch.manual_seed(0)
    init = GatoModel(GatoConfig(**read_config(tmp_path / "one" / "checkpoint")["model"])).state_dict()
    assert (a["blocks.0.fc.weight"] - init["blocks.0.fc.weight"]).abs().max() > 1e-4
    assert (tmp_path / "two" / "train.csv").is_file()
    assert not (tmp_path / "two" / "checkpoint.tmp").exists()
