"""`benchmarks/bench_suite.py` trains on the suite's training tasks whose experts meet their bars: the selection
must hold no held-out, below-bar, goal-family or dataset-only task, and every domain with env tasks."""

import importlib.util
from pathlib import Path

from gatosuite.envs import SUITE

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_suite.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_suite", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_selection_is_every_training_task_at_its_bar():
    chosen = _bench().suite_training_tasks()
    assert len(chosen) == len(set(chosen)) >= 90
    for t in map(SUITE.__getitem__, chosen):
        assert t.is_env and t.split == "train" and not t.goal_family, t.id
        assert t.reference().get("bar_met") is not False, t.id
    assert "mw-reach" in chosen and "babyai-gotolocal" in chosen
    assert "babyai-keyinbox" not in chosen  # below its bar
    assert "dmc-cartpole-swingup" not in chosen  # held out
    assert {SUITE[t].domain for t in chosen} >= {"classic", "mujoco", "dmc", "dmc-pixels", "metaworld", "babyai"}
