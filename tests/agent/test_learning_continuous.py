"""A regression guard for continuous control: `nano` behaviour-cloned on 20 noisy dmc-cartpole-balance
episodes for a fixed 200 steps with the demo's training recipe must balance the pole (>= 0.9 expert-
normalized on 10 unseen seeds). Bounded by steps, not by a clock.

On the learnability ladder (benchmarks/results/learning.json; README, "Learning the demo mix") the same
data and task alone scored 0.07 after 150 steps and 0.72 after 300 with Gato's defaults (label 'before'),
and 1.00 from 150 steps on with the demo's recipe (label 'after'). So a regression in the recipe, the
expert labels, the value inputs or the decoding shows here as a pole that falls.
"""

import numpy as np
import pytest

from gatosuite.agent.policy import DecoderPolicy
from gatosuite.agent.train import TrainArgs, train
from gatosuite.datasets.collect import collect
from gatosuite.demo import NOISE, TRAINING
from gatosuite.evaluation.rollout import rollout
from gatosuite.evaluation.scores import normalize_task

TASK = "dmc-cartpole-balance"


@pytest.mark.slow
def test_nano_balances_dmc_cartpole_in_200_steps(tmp_path, text_model):
    collect(TASK, 20, tmp_path, noise=NOISE[TASK], progress=False)
    args = TrainArgs(tasks=TASK, root=tmp_path, out=tmp_path / "run", preset="nano", window=240, batch_size=16,
                     steps=200, warmup=20, val_fraction=0.0, val_every=0, log_every=50, **TRAINING)
    summary = train(args, text_model, progress=False)
    assert summary["step"] == 200
    policy = DecoderPolicy(tmp_path / "run" / "checkpoint", TASK)
    results = rollout(policy, TASK, seeds=list(range(1000, 1010)), num_envs=10, progress=False)
    norm = normalize_task(TASK, [r.ret for r in results])
    assert norm.mean() >= 0.9, (np.round(norm, 2).tolist(), summary)
