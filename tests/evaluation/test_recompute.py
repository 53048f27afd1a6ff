"""Rewriting stored results that held episode-level aggregates: the old numbers kept under
`*_episode_level`, task-level ones beside them, computed only from what each file stores."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gatosuite.evaluation.compare_report import write_compare_report
from gatosuite.evaluation.recompute import main, recompute

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
MEANS = {"cartpole": 1.0, "acrobot": 0.5, "mw-reach": 0.2}


def _old_group(means: list[float], iqm: float) -> dict[str, Any]:
    """A score group as the episode-level code wrote it: mean and median over task means, IQM over episodes."""
    return {"n_tasks": len(means), "mean": float(np.mean(means)), "median": float(np.median(means)), "iqm": iqm,
            "iqm_ci": [iqm - 0.1, iqm], "mean_ci": [0.4, 0.7], "frac_ge_50": float(np.mean(np.array(means) >= 0.5))}


def _compare_store() -> dict[str, Any]:
    score = {"overall": _old_group(list(MEANS.values()), 0.9),
             "per_domain": {"classic": _old_group([1.0, 0.5], 0.95), "metaworld": _old_group([0.2], 0.0)}}
    row = {"score": score, "tasks": {t: {"normalized": m, "normalized_ci": [m, m]} for t, m in MEANS.items()},
           "val_nll": {"modality": {}, "domain": {}}}
    return {"settings": {"eval_episodes": 5, "tasks": ",".join(MEANS), "seed": 0}, "models": {"gato": row}}


def test_compare_json_keeps_the_episode_level_iqm_and_adds_the_task_level_one():
    store = _compare_store()
    assert recompute(store) == "compare"
    overall = store["models"]["gato"]["score"]["overall"]
    assert overall["iqm_episode_level"] == 0.9 and overall["iqm_ci_episode_level"] == pytest.approx([0.8, 0.9])
    assert overall["iqm"] == pytest.approx(1.7 / 3)  # three task means: a 25% cut trims none
    assert overall["median"] == 0.5 and overall["frac_ge_50"] == pytest.approx(2 / 3)
    assert overall["iqm_ci"] is None and overall["median_ci"] is None  # no episodes stored to resample
    assert overall["mean_ci"] == [0.4, 0.7] and overall["ci"] == "episodes"  # the same statistic before and after
    assert (overall["unit"], overall["n_runs"]) == ("task", 1)
    assert overall["episodes_per_task"] == {t: 5 for t in MEANS}
    classic = store["models"]["gato"]["score"]["per_domain"]["classic"]
    assert classic["iqm"] == pytest.approx(0.75) and classic["iqm_episode_level"] == 0.95
    assert classic["episodes_per_task"] == {"cartpole": 5, "acrobot": 5}
    once = copy.deepcopy(store)
    recompute(store)
    assert store == once  # a second run changes nothing


def test_a_compare_row_scored_over_tasks_by_compare_itself_keeps_its_cis():
    from gatosuite.evaluation.scores import by_domain

    store = _compare_store()
    episodes = {"cartpole": [1.0] * 5, "acrobot": [0.0, 1.0] * 2 + [0.5], "mw-reach": [1.0] + [0.0] * 4}
    store["models"]["gato"]["score"] = by_domain(episodes, reps=50)
    written = copy.deepcopy(store)
    recompute(store)
    assert store == written and written["models"]["gato"]["score"]["overall"]["iqm_ci"] is not None


@pytest.mark.parametrize("name", ["compare-nano.json", "demo_mix.json"])
def test_the_stored_results_hold_task_level_aggregates(name: str, tmp_path: Path):
    """benchmarks/results/ was rewritten by the tool: running it again changes nothing."""
    stored = json.loads((RESULTS / name).read_text())
    again = copy.deepcopy(stored)
    recompute(again)
    assert again == stored
    if name == "compare-nano.json":
        assert stored["models"]["gato"]["score"]["overall"]["iqm_episode_level"] == pytest.approx(0.671, abs=5e-4)
        md = write_compare_report(stored, tmp_path)["markdown"].read_text()
        assert ("IQM, median and mean over 8 tasks x 1 training run (each task's mean over its 5 episodes); 95% CI "
                "of the mean only") in md
        assert "| gato | 0.55 [0.49, 0.60] |" in md


def test_stored_means_that_do_not_give_the_stored_mean_are_refused_and_the_file_kept(tmp_path: Path, capsys):
    store = _compare_store()
    store["models"]["gato"]["score"]["overall"]["mean"] = 0.8
    path = tmp_path / "compare.json"
    path.write_text(json.dumps(store))
    before = path.read_text()
    assert main([str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "the stored task means give mean" in err and err.count("\n") == 1
    assert path.read_text() == before


def test_task_means_entries_get_an_aggregate_and_the_command_prints_it(tmp_path: Path, capsys):
    path = tmp_path / "demo_mix.json"
    path.write_text(json.dumps({"run": {"steps": 10, "scores": MEANS, "mean": 1.7 / 3}}, indent=2))
    assert main([str(path)]) == 0
    agg = json.loads(path.read_text())["run"]["aggregate"]
    assert agg["overall"]["iqm"] == pytest.approx(1.7 / 3) and agg["overall"]["iqm_ci"] is None
    assert set(agg["per_domain"]) == {"classic", "metaworld"} and "recomputed" in agg
    assert "run.aggregate.overall: task-level IQM 0.567, median 0.500" in capsys.readouterr().out


def test_a_task_means_entry_with_episodes_gets_cis_and_one_the_benchmark_aggregated_is_left_alone():
    from gatosuite.evaluation.scores import by_domain

    episodes = {"cartpole": [1.0, 1.0], "mw-reach": [1.0, 0.0, 0.0, 0.0]}
    store = {"old": {"scores": {"cartpole": 1.0, "mw-reach": 0.25}, "episodes": episodes},
             "new": {"scores": {"cartpole": 1.0, "mw-reach": 0.25}, "aggregate": by_domain(episodes, reps=50)}}
    written = copy.deepcopy(store["new"])
    recompute(store)
    assert store["new"] == written
    overall = store["old"]["aggregate"]["overall"]
    assert overall["iqm"] == pytest.approx(0.625) and overall["ci"] == "episodes"
    assert overall["iqm_ci"][0] <= 0.625 <= overall["iqm_ci"][1]


@pytest.mark.slow
def test_eval_info_is_recomputed_from_its_episodes_with_cis():
    def task(norm: list[float], heldout: bool = False) -> dict[str, Any]:
        return {"heldout": heldout, "episodes": [{"normalized": x} for x in norm]}

    info = {"checkpoint": "/nonexistent/checkpoint", "tasks": {
        "mw-reach": task([1.0] * 4 + [0.0]), "cartpole": task([1.0] * 5), "dmc-cartpole-swingup": task([0.0], True)},
        "aggregate": {"overall": {"n_tasks": 2, "iqm": 1.0}}, "profile": {"tau": [0.5], "fraction": [0.9]}}
    assert recompute(info) == "eval_info"
    assert info["aggregate_episode_level"]["overall"]["iqm"] == 1.0
    assert info["profile_episode_level"]["fraction"] == [0.9]
    overall = info["aggregate"]["overall"]
    assert overall["iqm"] == pytest.approx(0.9) and overall["unit"] == "task"  # (0.8 + 1.0) / 2, held-out left out
    assert overall["iqm_ci"][0] <= 0.9 <= overall["iqm_ci"][1] and overall["ci"] == "episodes"
    assert info["profile"]["unit"] == "task" and info["profile"]["n_tasks"] == 2
    once = copy.deepcopy(info)
    recompute(info)
    assert info == once


def test_a_file_with_nothing_to_recompute_is_an_error(tmp_path: Path, capsys):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"machine": "x86_64", "cases": []}))
    assert main([str(path)]) == 1
    assert "holds none of the results this tool knows" in capsys.readouterr().err
