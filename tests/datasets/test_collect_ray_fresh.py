"""`gatosuite collect --workers 2` in a fresh process, as a user runs it: it starts its own local Ray (on loopback)
before anything imports ray. The module tests of collect_ray.py start Ray in a fixture first, which hid a driver
that imported ray before starting it, and so refused to run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatosuite.datasets import minari_store
from gatosuite.raytools import LOOPBACK_VAR

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


def test_a_fresh_cli_process_collects_on_ray(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != LOOPBACK_VAR}  # nothing set for it beforehand
    cli = Path(sys.executable).with_name("gatosuite")
    out = subprocess.run([str(cli), "collect", "--task", "cartpole", "--episodes", "3", "--workers", "2",
                          "--root", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(list(minari_store.iter_episodes(tmp_path, "cartpole"))) == 3
