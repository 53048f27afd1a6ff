"""The agent learns: `nano` behaviour-cloned on CartPole expert episodes for a fixed 400 steps balances the
pole in the real env (at least 0.9 expert-normalized over 10 unseen seeds). The run is bounded by steps,
not by a clock, so it asks the same of a slow machine as of a fast one.

The episodes are collected with 20% random-action noise (`collect --noise 0.2`): the LQR expert alone
keeps the cart so close to the centre that a clone never sees how to bring a drifting cart back, and
its episodes end when the cart leaves the track (README, "Learning CartPole").
"""

import numpy as np
import pytest

from gatosuite.agent.policy import DecoderPolicy
from gatosuite.agent.train import TrainArgs, train
from gatosuite.datasets.collect import collect
from gatosuite.evaluation.rollout import rollout
from gatosuite.evaluation.scores import normalize_task


@pytest.mark.slow
def test_nano_learns_cartpole_in_400_steps(tmp_path, text_model):
    collect("cartpole", 200, tmp_path, noise=0.2, progress=False)
    args = TrainArgs(tasks="cartpole", root=tmp_path, out=tmp_path / "run", preset="nano", window=120,
                     batch_size=16, steps=400, val_every=0, log_every=50, recipe="gato-2022")  # as measured
    summary = train(args, text_model, progress=False)
    assert summary["step"] == 400
    policy = DecoderPolicy(tmp_path / "run" / "checkpoint", "cartpole")
    results = rollout(policy, "cartpole", seeds=list(range(100, 110)), num_envs=10, progress=False)
    norm = normalize_task("cartpole", [r.ret for r in results])
    assert norm.mean() >= 0.9, (np.round(norm, 2).tolist(), summary)
