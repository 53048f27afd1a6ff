"""The ablation benchmark's last cumulative configuration is exactly how the demo trains, so the README's
ablation table ends at the demo's configuration."""

import importlib.util
import sys
from pathlib import Path

from gatosuite.demo import TRAINING

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_the_last_ablation_configuration_is_the_demos():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_ablation", BENCH / "bench_ablation.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH))
    names = [n for n in mod.CONFIGS if not n.startswith("demo,")]
    last = mod.CONFIGS[names[-1]]
    assert mod.CONFIGS[names[0]] == {"overrides": []}  # the first is Gato's defaults
    assert sorted(last["overrides"]) == sorted(TRAINING["overrides"])
    assert {k: v for k, v in last.items() if k != "overrides"} == \
        {k: v for k, v in TRAINING.items() if k != "overrides"}
