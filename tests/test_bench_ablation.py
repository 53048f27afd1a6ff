"""The ablation benchmark starts from Gato's plain recipe (`gato-2022`) and its last cumulative configuration
trains exactly the default recipe (what `gatosuite train` and the demo train), so the README's ablation
table runs from the one to the other."""

import importlib.util
import sys
from pathlib import Path

from gatosuite.agent.recipes import DEFAULT_RECIPE, GATO_2022
from gatosuite.agent.train import TrainArgs

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
RESOLVED = ("segment_steps", "obs_norm", "overrides")


def _resolved(**fields) -> dict:
    a = TrainArgs(**fields)
    return {k: sorted(v) if k == "overrides" else v for k, v in ((k, getattr(a, k)) for k in RESOLVED)}


def test_the_ablation_runs_from_gato_2022_to_the_default_recipe():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_ablation", BENCH / "bench_ablation.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH))
    names = [n for n in mod.CONFIGS if not n.startswith("demo,")]
    assert names[0] == "gato-2022" and mod.CONFIGS[names[0]] == GATO_2022.fields()
    assert _resolved(**mod.CONFIGS[names[0]]) == _resolved(recipe="gato-2022")
    assert _resolved(**mod.CONFIGS[names[-1]]) == _resolved(recipe=DEFAULT_RECIPE) == _resolved()
    assert _resolved(**mod.CONFIGS[names[-2]]) != _resolved()  # one row before, one change is missing
