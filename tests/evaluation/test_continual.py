"""evaluation/continual.py: Continual World's metrics on small success matrices computed by hand."""

import numpy as np
import pytest

from gatosuite.errors import ConfigError
from gatosuite.evaluation.continual import ContinualRun, forward_transfer, run_metrics, seed_ci, summarize

# Three tasks. Row i: success on each task after training task i.
SUCCESS = np.array([[0.8, 0.1, 0.0],
                    [0.4, 0.9, 0.2],
                    [0.2, 0.6, 1.0]])
CURVES = (np.array([0.2, 0.6, 0.8]), np.array([0.5, 0.8, 0.9]), np.array([0.6, 0.9, 1.0]))
REFERENCE = (np.array([0.2, 0.6, 0.8]), np.array([0.2, 0.5, 0.8]), np.array([1.0, 1.0, 1.0]))


def _run(success=SUCCESS, curves=CURVES, reference=REFERENCE):
    return ContinualRun(tasks=("a", "b", "c"), success=success, curves=curves, reference=reference,
                        params_added=(10, 4, 4))


def test_metrics_match_hand_computed_values():
    m = run_metrics(_run())
    assert m["performance"] == pytest.approx((0.2 + 0.6 + 1.0) / 3)
    # forgetting: a 0.8 -> 0.2, b 0.9 -> 0.6, c (last) 0 by definition; the mean is over all three tasks
    assert [m["per_task"][t]["forgetting"] for t in "abc"] == pytest.approx([0.6, 0.3, 0.0])
    assert m["forgetting"] == pytest.approx(0.3)
    # transfer: a equals its baseline (0); b: AUC 2.2/3 against 1.5/3 -> (0.7/3) / (1 - 0.5) = 0.4667;
    # c's baseline AUC is 1, so its transfer is undefined and left out of the mean
    assert m["per_task"]["a"]["forward_transfer"] == pytest.approx(0.0)
    assert m["per_task"]["b"]["forward_transfer"] == pytest.approx((2.2 / 3 - 0.5) / 0.5)
    assert np.isnan(m["per_task"]["c"]["forward_transfer"]) and m["undefined_transfer"] == ["c"]
    assert m["forward_transfer"] == pytest.approx((0.0 + (2.2 / 3 - 0.5) / 0.5) / 2)


def test_negative_transfer_when_slower_than_from_scratch():
    ft = forward_transfer([np.array([0.0, 0.2])], [np.array([0.4, 0.8])])
    assert ft[0] == pytest.approx((0.1 - 0.6) / 0.4)


def test_bad_inputs_are_one_clear_error():
    with pytest.raises(ConfigError, match="3 x 3"):
        _run(success=SUCCESS[:2])
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        _run(success=SUCCESS * 2)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        _run(curves=(np.array([np.nan]), *CURVES[1:]))
    with pytest.raises(ConfigError, match="one learning curve"):
        _run(curves=CURVES[:2])


def test_seed_cis_resample_runs_and_bracket_the_mean():
    ci = seed_ci([0.1, 0.3, 0.5, 0.7])
    assert ci.mean == pytest.approx(0.4) and ci.seeds == 4
    assert 0.1 <= ci.ci[0] < 0.4 < ci.ci[1] <= 0.7
    assert seed_ci([0.5]).ci is None  # one seed: no interval, never an interval over episodes


def test_summary_over_seeds():
    runs = [_run(), _run(success=np.clip(SUCCESS + 0.1, 0, 1))]
    row = summarize(runs, reps=500)
    assert row["seeds"] == 2 and row["performance"]["seeds"] == 2
    assert row["performance"]["mean"] == pytest.approx(np.mean([0.6, np.mean([0.3, 0.7, 1.0])]))
    assert np.allclose(row["success_matrix"], (SUCCESS + np.clip(SUCCESS + 0.1, 0, 1)) / 2)
    assert row["params_added"] == [10, 4, 4]
    with pytest.raises(ConfigError, match="same task sequence"):
        summarize([_run(), ContinualRun(("a", "c", "b"), SUCCESS, CURVES, REFERENCE)])


def test_an_undefined_transfer_is_null_in_the_row_which_is_strict_json():
    """c's baseline AUC is 1: its transfer is None in the row (a NaN would break strict JSON), and a family
    whose every transfer is undefined has a None mean, not NaN."""
    import json

    row = summarize([_run(), _run()], reps=100)
    assert row["per_run"][0]["per_task"]["c"]["forward_transfer"] is None
    assert row["per_run"][0]["undefined_transfer"] == ["c"]
    assert row["forward_transfer"]["mean"] == pytest.approx((0.0 + (2.2 / 3 - 0.5) / 0.5) / 2)
    json.dumps(row, allow_nan=False)
    solved = tuple(np.ones(3) for _ in range(3))  # every baseline solves its task from its first point
    row = summarize([_run(reference=solved)], reps=100)
    assert row["forward_transfer"] == {"mean": None, "ci": None, "seeds": 0}
    json.dumps(row, allow_nan=False)


def test_tasks_yet_to_come_may_be_unmeasured_but_seen_ones_may_not():
    upper = SUCCESS.copy()
    upper[0, 1:] = np.nan
    upper[1, 2] = np.nan
    assert run_metrics(_run(success=upper))["performance"] == pytest.approx(0.6)
    below = SUCCESS.copy()
    below[2, 0] = np.nan
    with pytest.raises(ConfigError, match="every task seen so far"):
        _run(success=below)
