"""`benchmarks/bench_transfer.py` runs one step of the continual protocol per family and seed. Its whole path
runs here on tiny settings (two classic tasks), and runs of disjoint families made side by side merge into one
result only when their tasks and settings agree."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_transfer.py"


@pytest.mark.slow
def test_a_tiny_run_measures_what_each_family_keeps(tmp_path):
    from gatosuite.datasets.collect import collect

    for task in ("cartpole", "acrobot"):
        collect(task, 2, tmp_path / "data", progress=False)
    out = subprocess.run([sys.executable, str(SCRIPT), "--tasks", "cartpole,acrobot", "--steps", "4", "--val-every",
                          "2", "--val-batches", "1", "--window", "64", "--batch-size", "2", "--seeds", "1",
                          "--families", "munet,gato", "--root", str(tmp_path / "data"), "--out",
                          str(tmp_path / "t.json")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads((tmp_path / "t.json").read_text())
    munet, gato = result["families"]["munet"]["summary"], result["families"]["gato"]["summary"]
    # muNet freezes A's route: A's outputs are bitwise unchanged, and B adds less than a separate model
    assert munet["a_bitwise"] is True and munet["params_added"] < munet["separate_model_params"]
    # plain fine-tuning trains a whole model's worth of weights and moves A's outputs
    assert gato["params_added"] == gato["separate_model_params"] and gato["a_bitwise"] is False
    run = result["families"]["gato"]["runs"][0]
    assert [s for s, _ in run["transfer_curve"]] == [s for s, _ in run["scratch_curve"]] == [2, 4]


def _module():
    spec = importlib.util.spec_from_file_location("bench_transfer", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _part(tmp_path, family, steps=200):
    path = tmp_path / f"{family}-{steps}.json"
    path.write_text(json.dumps({"tasks": ["a", "b"], "settings": {"steps": steps, "families": family},
                                "families": {family: {"summary": {}, "runs": []}}, "seconds": 10.0 * steps}))
    return path


def test_runs_of_disjoint_families_merge_only_with_the_same_settings(tmp_path):
    bench = _module()
    bench.merge([_part(tmp_path, "munet"), _part(tmp_path, "gato")], tmp_path / "m.json")
    merged = json.loads((tmp_path / "m.json").read_text())
    assert set(merged["families"]) == {"munet", "gato"} and merged["settings"] == {"steps": 200,
                                                                                  "families": "munet,gato"}
    assert merged["parts_run_side_by_side"] == 2 and merged["seconds"] == 2000.0
    with pytest.raises(SystemExit, match="error: .*other tasks or settings"):
        bench.merge([_part(tmp_path, "munet"), _part(tmp_path, "gato", steps=8)], tmp_path / "m.json")
