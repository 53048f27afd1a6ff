"""Normalized scores and rliable-style aggregates against values computed by hand."""

import numpy as np
import pytest

from gatosuite.envs import SUITE
from gatosuite.evaluation.scores import (
    aggregate,
    by_domain,
    iqm,
    normalize,
    normalize_task,
    performance_profile,
    stratified_bootstrap_ci,
)


def test_normalize_maps_random_to_0_and_expert_to_1():
    assert normalize(5.0, 0.0, 10.0) == pytest.approx(0.5)
    assert normalize(-500.0, -500.0, -63.72) == pytest.approx(0.0)
    np.testing.assert_allclose(normalize(np.array([10.0, 20.0]), 10.0, 20.0), [0.0, 1.0])
    with pytest.raises(ValueError, match="must be finite and differ"):
        normalize(1.0, 3.0, 3.0)


def test_normalize_task_reads_the_reference_file():
    ref = SUITE["cartpole"].reference()
    np.testing.assert_allclose(normalize_task("cartpole", [ref["random"], ref["expert"]]), [0.0, 1.0])
    with pytest.raises(KeyError, match="unknown task"):
        normalize_task("no-such-task", [1.0])


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # (3 + 4 + 5 + 6) / 4
    assert iqm(np.array([0, 0, 0, 0, 100.0])) == pytest.approx(0.0)  # trims one from each end of five
    assert iqm(np.array([[1.0, 2.0], [3.0, 4.0]])) == pytest.approx(2.5)  # flattened; 4 values, cut 1 each end


def test_bootstrap_of_a_two_point_task_spans_its_support():
    # resampled means of {0, 1} are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4: the 95% interval is [0, 1]
    lo, hi = stratified_bootstrap_ci({"t": np.array([0.0, 1.0])}, lambda d: float(d["t"].mean()), reps=4000)
    assert (lo, hi) == (0.0, 1.0)


def test_bootstrap_is_stratified_by_task():
    # each task is constant, so resampling within tasks never changes the pooled values: a zero-width CI.
    # (resampling the pooled 8 episodes instead would give IQMs anywhere from 0 to 1)
    per_task = {"a": np.zeros(4), "b": np.ones(4)}
    lo, hi = stratified_bootstrap_ci(per_task, lambda d: iqm(np.concatenate(list(d.values()))))
    assert lo == hi == pytest.approx(0.5)


def test_aggregate_by_hand():
    per_task = {"cartpole": np.array([0.2, 0.2]), "acrobot": np.array([0.4, 0.6]), "pendulum": np.array([0.9, 0.9])}
    agg = aggregate(per_task, reps=200)
    assert agg["mean"] == pytest.approx((0.2 + 0.5 + 0.9) / 3)
    assert agg["median"] == pytest.approx(0.5)
    assert agg["frac_ge_50"] == pytest.approx(2 / 3)
    assert agg["iqm"] == pytest.approx(np.mean([0.2, 0.4, 0.6, 0.9]))  # of the 6 values, trims one at each end
    assert agg["iqm_ci"][0] <= agg["iqm"] <= agg["iqm_ci"][1]
    with pytest.raises(ValueError, match="at least one episode"):
        aggregate({"cartpole": np.array([])})


def test_by_domain_splits_by_the_registry():
    out = by_domain({"cartpole": np.ones(2), "mw-reach": np.zeros(2)}, reps=50)
    assert set(out["per_domain"]) == {"classic", "metaworld"}
    assert out["per_domain"]["classic"]["mean"] == 1.0 and out["overall"]["mean"] == 0.5


def test_performance_profile_counts_scores_above_each_threshold():
    prof = performance_profile({"a": np.array([0.0, 0.5, 1.0])}, np.array([0.25, 0.75]), reps=100)
    np.testing.assert_allclose(prof["fraction"], [2 / 3, 1 / 3])
    assert all(lo <= f <= hi for lo, f, hi in zip(prof["lo"], prof["fraction"], prof["hi"]))
