"""`gatosuite demo --quick`: the whole mission end to end in a couple of minutes, leaving a complete
eval_info.json, figures, videos and both reports."""

import json

import pytest

from gatosuite.cli import main


@pytest.mark.slow
def test_quick_demo_writes_the_whole_report(tmp_path, capsys):
    out = tmp_path / "run"
    main(["demo", "--quick", "--out", str(out), "--root", str(tmp_path / "data")])
    printed = capsys.readouterr().out
    assert "expect the demo to end within about" in printed and "training steps/s" in printed
    assert "phase timings:" in printed and f"report: {out / 'report.md'}" in printed
    assert "IQM, median and mean over 3 tasks x 1 training run (each task's mean over its 3 episodes)" in printed
    info = json.loads((out / "eval_info.json").read_text())
    assert info["schema"] == 1 and len(info["checkpoint_sha256"]) == 64
    assert set(info["tasks"]) == {"cartpole", "mw-reach", "babyai-gotoredball"}
    for t, entry in info["tasks"].items():
        assert entry["seeds"] == [5000, 5001, 5002] and [e["seed"] for e in entry["episodes"]] == [5000, 5001, 5002]
        assert {"return", "length", "success", "score", "normalized"} <= set(entry["episodes"][0])
        assert entry["normalized_ci"][0] <= entry["normalized"] <= entry["normalized_ci"][1]
        assert (out / entry["video"]).stat().st_size > 1000
    overall = info["aggregate"]["overall"]
    assert overall["n_tasks"] == 3 and {"mean", "median", "iqm", "iqm_ci", "frac_ge_50"} <= set(overall)
    assert set(info["aggregate"]["per_domain"]) == {"classic", "metaworld", "babyai"}
    few = info["fewshot"]["dmc-cartpole-swingup"]
    assert set(few["methods"]) == {"zero-shot", "prompting", "finetune", "scratch"}
    assert few["seeds"] == [5000, 5001]  # few-shot has its own episode count
    assert set(info["timings"]) == {"collect_s", "train_s", "train_goal_s", "evaluate_s", "fewshot_s"}
    for fig in ("task_scores", "training_curve", "performance_profile", "fewshot"):
        assert (out / "figures" / f"{fig}.png").stat().st_size > 5000
    md = (out / "report.md").read_text()
    assert "## Few-shot" in md and "mw-reach" in md and "figures/training_curve.png" in md
    assert "data:image/png;base64," in (out / "report.html").read_text()
