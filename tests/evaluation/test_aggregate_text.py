"""The one line that says what an aggregate was over, built from what `scores.py` records."""

import numpy as np

from gatosuite.evaluation.aggregate_text import LEGACY, describe_aggregate, profile_ylabel
from gatosuite.evaluation.scores import RunTaskScores, aggregate, performance_profile


def test_one_training_run_names_tasks_episodes_and_evaluation_noise():
    agg = aggregate({"cartpole": np.ones(20), "mw-reach": np.r_[np.ones(16), np.zeros(4)]}, reps=50)
    assert describe_aggregate(agg) == (
        "IQM, median and mean over 2 tasks x 1 training run (each task's mean over its 20 episodes); 95% CIs: "
        "stratified bootstrap over episodes within each task (evaluation noise only: one training run says "
        "nothing about another).")


def test_episode_counts_that_differ_read_as_a_range():
    agg = aggregate({"cartpole": np.ones(5), "mw-reach": np.ones(20)}, reps=50)
    assert "(each task's mean over its 5–20 episodes)" in describe_aggregate(agg)


def test_several_training_runs_name_the_run_bootstrap():
    agg = aggregate({"a": [[1.0, 0.0], [1.0, 1.0]], "b": [[0.5], [0.25]]}, reps=50)
    assert describe_aggregate(agg) == (
        "IQM, median and mean over 2 tasks x 2 training runs (each run's mean on each task over its 1–2 "
        "episodes); 95% CIs: rliable's stratified bootstrap over training runs within each task.")


def test_stored_task_means_say_there_is_no_ci():
    agg = aggregate(RunTaskScores.from_means([[0.2, 0.9, 0.4]]))
    line = describe_aggregate(agg)
    assert line.startswith("IQM, median and mean over 3 tasks x 1 training run (each task's mean as stored; ")
    assert "no CIs" in line
    # a recomputed compare.json keeps the mean's episode-bootstrap CI, and says the others have none
    line = describe_aggregate({**agg, "ci": "episodes", "mean_ci": [0.3, 0.6]})
    assert "95% CI of the mean only (no per-episode scores were stored for the rest): stratified bootstrap" in line


def test_an_aggregate_from_before_task_level_says_it_is_episode_level():
    old = {"n_tasks": 8, "mean": 0.907, "median": 0.95, "iqm": 0.999, "iqm_ci": [0.997, 1.0], "frac_ge_50": 1.0}
    assert describe_aggregate(old) == LEGACY and "episode-level IQM" in LEGACY
    assert describe_aggregate(None) == "No aggregate was computed."


def test_the_profile_axis_counts_what_the_profile_counts():
    taus = np.array([0.5])
    one_run = performance_profile({"a": [1.0]}, taus, reps=20)
    assert profile_ylabel(one_run) == r"fraction of tasks with mean score > $\tau$"
    runs = performance_profile(np.array([[0.2, 0.8], [0.4, 0.6]]), taus, reps=20)
    assert profile_ylabel(runs) == r"fraction of (run, task) mean scores > $\tau$"
    assert "episode" in profile_ylabel({"tau": [0.5], "fraction": [1.0]})
