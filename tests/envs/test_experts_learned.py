"""SAC locomotion experts: committed weights are small safetensors, load without SB3 or pickle, and play
as well as their 50-episode reference says (envs/reference_scores.json)."""

import numpy as np
import pytest
from safetensors import safe_open

from gatosuite.envs import SUITE, make_task_env
from gatosuite.envs.experts.learned import WEIGHTS_DIR
from gatosuite.envs.experts.locomotion import LEARNED
from gatosuite.envs.reference import run_episode


@pytest.mark.parametrize("task_id", sorted(LEARNED))
def test_weights_are_small_safetensors(task_id):
    path = WEIGHTS_DIR / LEARNED[task_id]
    assert path.is_file(), f"train it: gatosuite train-expert --task {task_id}"
    assert path.stat().st_size < 1_000_000
    with safe_open(str(path), "np") as f:  # a safetensors file: no pickle anywhere
        assert "mu.weight" in f.keys()


@pytest.mark.parametrize("task_id", sorted(LEARNED))
def test_learned_expert_plays_like_its_reference(task_id):
    task = SUITE[task_id]
    ref = task.reference()
    assert ref, f"{task_id} has no measured reference scores"
    gap = ref["expert"] - ref["random"]
    # A steady expert (spread under a quarter of its gain over random) is judged on two seeded episodes, at
    # least halfway from random to its 50-episode mean. One whose episodes either fall early or run well
    # (below-bar Ant and Walker2d: a few returns near random, most far above) is judged on eight, at least a
    # quarter of the way: two episodes could both be falls.
    steady = ref["expert_return_std"] <= 0.25 * gap
    env = make_task_env(task_id, expert=True)
    returns = [run_episode(env, seed, "expert")[0] for seed in range(2 if steady else 8)]
    env.close()
    assert np.mean(returns) > ref["random"] + (0.5 if steady else 0.25) * gap
    # Where the bar was met over 50 episodes, no episode far below it.
    if ref["bar_met"]:
        assert min(returns) >= 0.75 * task.bar
