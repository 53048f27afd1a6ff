"""The BabyAI bot and Meta-World's scripted policies meet their bars over a handful of seeded episodes.

The 50-episode numbers live in envs/reference_scores.json (`gatosuite reference-scores`)."""

import pytest

from gatosuite.envs import SUITE, make_task_env
from gatosuite.envs.reference import run_episode

BABYAI = [t.id for t in SUITE if t.domain == "babyai"]
METAWORLD = [t.id for t in SUITE if t.domain == "metaworld"]


@pytest.mark.parametrize("task_id", BABYAI)
def test_babyai_bot_solves_the_level(task_id):
    env = make_task_env(task_id, expert=True)
    results = [run_episode(env, seed, "expert") for seed in range(3)]
    assert all(success for _, success, _ in results), results


@pytest.mark.parametrize("task_id", METAWORLD)
def test_metaworld_policy_succeeds(task_id):
    """Tasks whose 50-episode rate is below the 95% bar (recorded as bar_met=false, reported in the
    README) must still be recorded that way and succeed on most of the handful; all others on every one."""
    env = make_task_env(task_id, expert=True)
    results = [run_episode(env, seed, "expert") for seed in range(4)]
    rate = sum(success for _, success, _ in results) / len(results)
    ref = SUITE[task_id].reference()
    assert ref, f"{task_id} has no measured reference scores"
    if ref["bar_met"]:
        assert rate == 1.0, results
    else:
        assert ref["expert"] < SUITE[task_id].bar and rate >= 0.5, (ref, results)
