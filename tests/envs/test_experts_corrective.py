"""Meta-World's corrective controllers (envs/experts/metaworld_corrective.py) succeed where the scripted policy
they wrap fails: on two seeds of 0-49 where Meta-World's own policy was measured to fail, each corrective
succeeds, and the scripted policy fails there still (so the seeds keep testing the correction)."""

import pytest

from gatosuite.envs import SUITE
from gatosuite.envs.canonical import CanonicalObservation
from gatosuite.envs.expert_wrapper import ExpertActionWrapper
from gatosuite.envs.make import make_raw_env
from gatosuite.envs.reference import run_episode
from gatosuite.envs.suite import MW_CORRECTIVE

SCRIPTED_FAILS = {"door-open": (26, 32), "peg-insert-side": (1, 4), "box-close": (9, 15), "sweep-into": (8, 13)}
"""The first two seeds of 0-49 on which Meta-World's scripted policy fails each task (measured 2026-12-04 with
this env stack; the failures over 0-49 were 6, 9, 10 and 6, the rates in MW_CORRECTIVE)."""


def _successes(task_id: str, expert: str, seeds: tuple[int, ...]) -> list[bool]:
    task = SUITE[task_id]
    env = CanonicalObservation(ExpertActionWrapper(make_raw_env(task), expert), task.obs_mode, task.id)
    try:
        return [run_episode(env, s, "expert")[1] for s in seeds]
    finally:
        env.close()


def test_every_corrective_task_is_covered_and_registered():
    assert set(SCRIPTED_FAILS) == set(MW_CORRECTIVE)
    assert all(SUITE[f"mw-{n}"].expert == f"mw-{n}-corrective" for n in MW_CORRECTIVE)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCRIPTED_FAILS))
def test_the_corrective_succeeds_where_the_scripted_policy_fails(name):
    seeds = SCRIPTED_FAILS[name]
    assert _successes(f"mw-{name}", f"mw-{name}", seeds) == [False, False]
    assert _successes(f"mw-{name}", f"mw-{name}-corrective", seeds) == [True, True]
