"""Normalized scores and rliable-style aggregates against values computed by hand."""

import numpy as np
import pytest

from gatosuite.envs import SUITE
from gatosuite.evaluation.scores import (
    STATS,
    RunTaskScores,
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


def test_a_success_task_at_80_percent_contributes_0_8_not_1():
    # 16 successes in 20 episodes: trimming the lowest quarter of the 0/1 episodes would leave only successes
    episodes = np.array([1.0] * 16 + [0.0] * 4)
    assert iqm(episodes) == 1.0  # what the episode-level IQM reported
    agg = aggregate({"mw-reach": episodes}, reps=500)
    assert agg["iqm"] == agg["median"] == agg["mean"] == pytest.approx(0.8)
    assert agg["frac_ge_50"] == 1.0
    assert (agg["unit"], agg["n_tasks"], agg["n_runs"], agg["ci"]) == ("task", 1, 1, "episodes")
    assert agg["episodes_per_task"] == {"mw-reach": 20}
    for k in ("iqm", "median", "mean"):
        assert agg[f"{k}_ci"][0] <= 0.8 <= agg[f"{k}_ci"][1] and agg[f"{k}_ci"][0] < agg[f"{k}_ci"][1]


def test_the_iqm_is_over_task_means_not_pooled_episodes():
    per_task = {"a": [1.0, 1.0, 1.0, 0.0], "b": [1.0, 0.0, 0.0, 0.0], "c": [0.5] * 4, "d": [0.9] * 4}
    # task means 0.75, 0.25, 0.5, 0.9; sorted 0.25 | 0.5 0.75 | 0.9: the middle half's mean is 0.625
    agg = aggregate(per_task, reps=500)
    assert agg["iqm"] == pytest.approx(0.625)
    assert agg["median"] == pytest.approx(0.625) and agg["mean"] == pytest.approx(0.6)
    assert agg["frac_ge_50"] == pytest.approx(0.75)
    # the 16 pooled episodes, sorted: 0 x4 | 0.5 x4, 0.9 x4 | 1 x4, would give (4 * 0.5 + 4 * 0.9) / 8 = 0.7
    assert iqm(np.concatenate([np.asarray(v) for v in per_task.values()])) == pytest.approx(0.7)
    for k in ("iqm", "median", "mean", "frac_ge_50"):
        assert agg[f"{k}_ci"][0] <= agg[k] <= agg[f"{k}_ci"][1], k


def test_one_run_cis_resample_episodes_within_each_task():
    # each task is constant, so resampling its episodes never moves its mean: a zero-width CI
    # (resampling the pooled 8 episodes instead would give anything from 0 to 1)
    agg = aggregate({"a": np.zeros(4), "b": np.ones(4)})
    assert agg["iqm"] == 0.5 and agg["iqm_ci"] == [0.5, 0.5] and agg["mean_ci"] == [0.5, 0.5]
    # one task of {0, 1}: resampled means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4, so the interval is [0, 1]
    assert aggregate({"t": [0.0, 1.0]}, reps=4000)["iqm_ci"] == [0.0, 1.0]


def test_aggregate_by_hand():
    per_task = {"cartpole": np.array([0.2, 0.2]), "acrobot": np.array([0.4, 0.6]), "pendulum": np.array([0.9, 0.9])}
    agg = aggregate(per_task, reps=200)
    assert agg["mean"] == pytest.approx((0.2 + 0.5 + 0.9) / 3)
    assert agg["median"] == pytest.approx(0.5)
    assert agg["frac_ge_50"] == pytest.approx(2 / 3)
    # three task means 0.2, 0.5, 0.9: a 25% cut of 3 is 0 whole values, so the IQM is their mean
    # (the pooled 6 episodes gave (0.2 + 0.4 + 0.6 + 0.9) / 4 = 0.525)
    assert agg["iqm"] == pytest.approx(1.6 / 3)
    assert agg["iqm_ci"][0] <= agg["iqm"] <= agg["iqm_ci"][1]
    with pytest.raises(ValueError, match="at least one episode"):
        aggregate({"cartpole": np.array([])})


def test_several_training_runs_by_hand_and_as_a_matrix():
    per_task = {"a": [[1.0, 0.0, 1.0, 1.0], [1.0, 1.0]], "b": [[0.2, 0.4], [0.6, 0.6]], "c": [[0.0], [0.3]]}
    # (runs x tasks) of task means: run 1 = 0.75, 0.3, 0.0; run 2 = 1.0, 0.6, 0.3
    agg = aggregate(per_task, reps=500)
    assert (agg["n_tasks"], agg["n_runs"], agg["ci"]) == (3, 2, "runs")
    assert agg["episodes_per_task"] == {"a": [4, 2], "b": 2, "c": 1}
    # IQM over the 6 entries: cut 1 at each end of 0 | 0.3 0.3 0.6 0.75 | 1 -> 1.95 / 4
    assert agg["iqm"] == pytest.approx(0.4875)
    # median and mean over tasks of each task's mean over runs: 0.875, 0.45, 0.15
    assert agg["median"] == pytest.approx(0.45) and agg["mean"] == pytest.approx(1.475 / 3)
    assert agg["frac_ge_50"] == pytest.approx(3 / 6)  # 0.75, 1.0, 0.6
    for k in ("iqm", "median", "mean", "frac_ge_50"):
        assert agg[f"{k}_ci"][0] <= agg[k] <= agg[f"{k}_ci"][1], k
    matrix = aggregate(np.array([[0.75, 0.3, 0.0], [1.0, 0.6, 0.3]]), reps=500)
    assert {k: matrix[k] for k in STATS} == pytest.approx({k: agg[k] for k in STATS})
    assert matrix["iqm_ci"] == pytest.approx(agg["iqm_ci"]) and matrix["episodes_per_task"] is None


def test_several_runs_resample_runs_not_episodes():
    # both runs score 0.5 from very different episodes: over runs there is nothing to vary
    agg = aggregate({"t": [[0.0, 1.0], [1.0, 0.0]]}, reps=500)
    assert agg["iqm"] == 0.5 and agg["iqm_ci"] == [0.5, 0.5]
    with pytest.raises(ValueError, match="same number of training runs"):
        aggregate({"a": [[1.0], [1.0]], "b": [1.0, 0.0]})


def test_task_means_of_one_run_have_no_ci():
    agg = aggregate(RunTaskScores.from_means([[0.1, 0.5, 0.9]], ["cartpole", "acrobot", "mw-reach"]))
    assert agg["iqm"] == pytest.approx(0.5) and agg["ci"] is None
    assert agg["iqm_ci"] is agg["mean_ci"] is agg["episodes_per_task"] is None


def test_aggregates_leave_numpys_global_generator_where_it_was():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    aggregate({"a": [0.0, 1.0, 1.0], "b": [0.5, 0.25]}, reps=100)
    performance_profile({"a": [0.0, 1.0]}, np.array([0.5]), reps=100)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_by_domain_splits_by_the_registry():
    out = by_domain({"cartpole": np.ones(2), "mw-reach": np.zeros(2)}, reps=50)
    assert set(out["per_domain"]) == {"classic", "metaworld"}
    assert out["per_domain"]["classic"]["mean"] == 1.0 and out["overall"]["mean"] == 0.5
    assert out["per_domain"]["metaworld"]["episodes_per_task"] == {"mw-reach": 2}


def test_performance_profile_counts_tasks_above_each_threshold():
    # task means 0.5, 1.0, 0.1: two of three are above 0.25, one above 0.75
    # (the 11 pooled episodes would give 6/11 and 6/11)
    per_task = {"a": [0.0, 0.0, 1.0, 1.0], "b": [1.0] * 4, "c": [0.1] * 3}
    prof = performance_profile(per_task, np.array([0.25, 0.75]), reps=200)
    np.testing.assert_allclose(prof["fraction"], [2 / 3, 1 / 3])
    assert (prof["unit"], prof["n_tasks"], prof["n_runs"], prof["ci"]) == ("task", 3, 1, "episodes")
    assert all(lo <= f <= hi for lo, f, hi in zip(prof["lo"], prof["fraction"], prof["hi"]))


def test_performance_profile_over_runs_counts_run_task_entries():
    prof = performance_profile(np.array([[0.75, 0.3, 0.0], [1.0, 0.6, 0.3]]), np.array([0.5]), reps=200)
    assert prof["fraction"] == [0.5] and prof["n_runs"] == 2 and prof["ci"] == "runs"  # 0.75, 1.0, 0.6 of 6
    assert prof["lo"][0] <= 0.5 <= prof["hi"][0]
    assert performance_profile(RunTaskScores.from_means([[0.2, 0.8]]), np.array([0.5]))["lo"] is None
