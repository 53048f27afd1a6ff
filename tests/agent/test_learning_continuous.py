"""A regression guard for continuous control: `nano` behaviour-cloned on 20 noisy InvertedPendulum episodes
for a fixed 600 steps with the demo's training recipe, scored on 10 unseen seeds. Bounded by steps, not by
a clock.

With Gato's defaults the same data and steps score 0.02: the policy answers every state with a near-zero
force. With the demo's recipe this run scored 0.33 on the development machine (benchmarks/results/
learning.json, label 'after'; README, "Learning the demo mix"). 600 steps are far from converged, so the
bar is 0.15: well above the defaults, with room for other CPUs' numerics.
"""

import numpy as np

from gatosuite.agent.policy import GatoPolicy
from gatosuite.agent.train import TrainArgs, train
from gatosuite.datasets.collect import collect
from gatosuite.demo import NOISE, TRAINING
from gatosuite.evaluation.rollout import rollout
from gatosuite.evaluation.scores import normalize_task


def test_nano_balances_inverted_pendulum_in_600_steps(tmp_path, text_model):
    collect("inverted-pendulum", 20, tmp_path, noise=NOISE["inverted-pendulum"], progress=False)
    args = TrainArgs(tasks="inverted-pendulum", root=tmp_path, out=tmp_path / "run", preset="nano", window=240,
                     batch_size=16, steps=600, warmup=60, val_fraction=0.0, val_every=0, log_every=100,
                     **TRAINING)
    summary = train(args, text_model, progress=False)
    assert summary["step"] == 600
    policy = GatoPolicy(tmp_path / "run" / "checkpoint", "inverted-pendulum")
    results = rollout(policy, "inverted-pendulum", seeds=list(range(1000, 1010)), num_envs=10, progress=False)
    norm = normalize_task("inverted-pendulum", [r.ret for r in results])
    assert norm.mean() >= 0.15, (np.round(norm, 2).tolist(), summary)
