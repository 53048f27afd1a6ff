"""The evaluation report: figures and both documents from a synthetic eval_info dict, checked by content."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gatosuite.evaluation import figures
from gatosuite.evaluation.report import fewshot_verdict, fmt_norm_ci, seed_range, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _task(domain: str, metric: str, random: float, expert: float, returns: list[float], heldout: bool = False,
          video: str | None = None) -> dict[str, Any]:
    seeds = list(range(1000, 1000 + len(returns)))
    norm = [(r - random) / (expert - random) for r in returns]
    mean = sum(norm) / len(norm)
    return {"domain": domain, "metric": metric, "heldout": heldout, "random": random, "expert": expert,
            "seeds": seeds,
            "episodes": [{"seed": s, "return": r, "length": 40, "success": None if metric == "return" else r,
                          "score": r, "normalized": n} for s, r, n in zip(seeds, returns, norm)],
            "score": sum(returns) / len(returns), "normalized": mean, "normalized_ci": [mean - 0.05, mean + 0.05],
            "video": video}


def _entry(normalized: float, score: float) -> dict[str, Any]:
    return {"score": score, "normalized": normalized, "normalized_ci": [normalized - 0.1, normalized + 0.1]}


def _fewshot_task(zero: float, prompting: dict[str, float], finetune: dict[str, float],
                  scratch: dict[str, float]) -> dict[str, Any]:
    def raw(x: float) -> float:
        return 1000.0 * x

    return {"seeds": [2000, 2001, 2002], "random": 0.0, "expert": 1000.0, "metric": "return",
            "methods": {"zero-shot": {"0": _entry(zero, raw(zero))},
                        "prompting": {k: _entry(v, raw(v)) for k, v in prompting.items()},
                        "finetune": {k: _entry(v, raw(v)) for k, v in finetune.items()},
                        "scratch": {k: _entry(v, raw(v)) for k, v in scratch.items()}}}


def _agg(means: dict[str, float], iqm: float, median: float, ci: list[float]) -> dict[str, Any]:
    """An aggregate block as scores.aggregate writes it, over one run of five episodes per task."""
    mean = sum(means.values()) / len(means)
    return {"unit": "task", "n_tasks": len(means), "n_runs": 1, "episodes_per_task": {t: 5 for t in means},
            "ci": "episodes", "iqm": iqm, "iqm_ci": ci, "median": median, "median_ci": ci, "mean": mean,
            "mean_ci": ci, "frac_ge_50": sum(m >= 0.5 for m in means.values()) / len(means), "frac_ge_50_ci": ci}


@pytest.fixture
def info() -> dict[str, Any]:
    return {
        "schema": 1, "checkpoint": "runs/<x>", "checkpoint_sha256": "ab12cd34ef56ab12cd34ef56",
        "created": "2026-11-29T10:00:00Z", "episodes_per_task": 5,
        "tasks": {
            "cartpole": _task("classic", "return", 22.0, 500.0, [480.0, 500.0, 455.0, 500.0, 490.0],
                              video="videos/cartpole.mp4"),
            "mw-reach": _task("metaworld", "success", 0.0, 1.0, [1.0, 0.0, 1.0, 1.0, 0.0]),
            "babyai-gotoredball": _task("babyai", "return", 0.1, 0.93, [0.9, 0.85, 0.2, 0.0, 0.95]),
            "dmc-cartpole-swingup": _task("dmc", "return", 27.0, 850.0, [300.0, 320.0, 250.0, 410.0, 380.0],
                                          heldout=True),
        },
        # over the three trained tasks' means (the held-out one stays out), worked out by hand from the
        # episodes above: cartpole (2315 / 478) / 5, mw-reach 3 / 5, babyai-gotoredball (2.4 / 0.83) / 5;
        # the CIs are made up (the report prints them, it does not compute them)
        "aggregate": {
            "overall": _agg({"cartpole": 2315 / 2390, "mw-reach": 0.6, "babyai-gotoredball": 2.4 / 4.15},
                            iqm=(2315 / 2390 + 0.6 + 2.4 / 4.15) / 3,  # a 25% cut of 3 tasks trims none
                            median=0.6, ci=[0.62, 0.80]),
            "per_domain": {d: _agg({t: m}, iqm=m, median=m, ci=[m - 0.1, m + 0.1]) for d, t, m in (
                ("classic", "cartpole", 2315 / 2390), ("metaworld", "mw-reach", 0.6),
                ("babyai", "babyai-gotoredball", 2.4 / 4.15))},
        },
        "profile": {"tau": [i / 20 for i in range(25)], "fraction": [1 - i / 25 for i in range(25)],
                    "lo": [max(0.0, 0.95 - i / 25) for i in range(25)],
                    "hi": [min(1.0, 1.05 - i / 25) for i in range(25)], "unit": "task", "n_tasks": 3, "n_runs": 1,
                    "ci": "episodes"},
        "fewshot": {
            # prompting at k=2 (0.55) beats zero-shot (0.2) and scratch at k=2 (0.3)
            "dmc-cartpole-swingup": _fewshot_task(0.2, {"1": 0.25, "2": 0.55}, {"1": 0.1, "4": 0.35},
                                                  {"1": 0.15, "2": 0.3, "4": 0.6}),
            # everything beats zero-shot, nothing beats scratch at its k
            "mw-door-close": _fewshot_task(0.1, {"1": 0.2, "2": 0.3}, {"1": 0.25, "4": 0.5},
                                           {"1": 0.3, "2": 0.4, "4": 0.7}),
        },
        "timings": {"collect_s": 61.0, "train_s": 3725.5, "evaluate_s": 120.0, "fewshot_s": 300.0},
    }


@pytest.fixture
def train_csv(tmp_path: Path) -> Path:
    rows = ["step,key,value"]
    for step in range(20, 1001, 20):
        loss = 5.0 / (1 + step / 100)
        rows += [f"{step},loss,{loss}", f"{step},loss_domain/classic,{loss * 0.8}",
                 f"{step},loss_domain/metaworld,{loss * 1.3}", f"{step},tokens_per_s,13000", f"{step},lr,0.001"]
        if step % 200 == 0:
            rows.append(f"{step},val_loss,{loss * 1.1}")
    rows.append("1000,val_lo")  # a truncated last line, as a killed run leaves: skipped, not fatal
    path = tmp_path / "train.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "eval"
    (out / "videos").mkdir(parents=True)
    (out / "videos" / "cartpole.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not a real video")
    return out


def test_writes_every_file_with_real_pngs(info: dict[str, Any], out_dir: Path, train_csv: Path):
    written = write_report(info, out_dir, train_csv)
    assert set(written) == {"markdown", "html", "task_scores", "performance_profile", "training_curve", "fewshot"}
    for key, path in written.items():
        assert path.is_file(), key
        if path.suffix == ".png":
            data = path.read_bytes()
            assert data.startswith(PNG_SIGNATURE), key
            assert len(data) > 5000, f"{key} is only {len(data)} bytes"
            assert path.parent == out_dir / "figures"


def test_markdown_has_tasks_aggregates_fewshot_rows_and_image_links(info: dict[str, Any], out_dir: Path,
                                                                    train_csv: Path):
    md = write_report(info, out_dir, train_csv)["markdown"].read_text()
    for task in info["tasks"]:
        assert task in md
    overall = next(line for line in md.splitlines() if line.startswith("| overall |"))
    assert overall.startswith("| overall | 3 | 0.716 | 0.600 | 0.716 [0.620, 0.800] |")  # 3 decimals
    assert "1.000 (3/3)" in overall
    assert ("IQM, median and mean over 3 tasks x 1 training run (each task's mean over its 5 episodes); 95% CIs: "
            "stratified bootstrap over episodes within each task (evaluation noise only") in md
    assert "| cartpole | classic | return | no | 5 | 1000–1004 | 485.0 | 22.0 | 500.0 |" in md  # raw: 1 decimal
    # returns in 0..1 get 3 decimals: 1 would show BabyAI's expert 0.93 as 0.9
    assert "| babyai-gotoredball | babyai | return | no | 5 | 1000–1004 | 0.580 | 0.100 | 0.930 |" in md
    assert "| mw-reach | metaworld | success | no | 5 | 1000–1004 | 0.600 |" in md
    assert "| tokens_per_s | 1000 | 13,000 |" in md
    assert "| dmc-cartpole-swingup | prompting | 2 | 0.550 [0.450, 0.650] | 550.0 |" in md
    assert "| mw-door-close | scratch | 4 | 0.700 [0.600, 0.800] | 700.0 |" in md
    assert "| dmc-cartpole-swingup | zero-shot | 0 | 0.200 [0.100, 0.300] | 200.0 |" in md
    assert "[video](videos/cartpole.mp4)" in md
    assert "| train_s | 3725.5 | 1:02:06 |" not in md and "| train | 3725.5 | 1:02:06 |" in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert {Path(x).name for x in links} == {"task_scores.png", "performance_profile.png", "training_curve.png",
                                             "fewshot.png"}
    for link in links:
        assert not link.startswith("/") and (out_dir / link).is_file(), link


def test_html_is_self_contained_escaped_and_embeds_the_video(info: dict[str, Any], out_dir: Path, train_csv: Path):
    page = write_report(info, out_dir, train_csv)["html"].read_text()
    assert page.count("data:image/png;base64,") == 4
    assert '<video controls width="360" src="videos/cartpole.mp4">' in page
    assert page.count("<video") == 1  # only cartpole has a video
    assert "runs/&lt;x&gt;" in page and "runs/<x>" not in page
    assert "<script" not in page and "<link" not in page and "http" not in page  # nothing fetched from elsewhere


def test_task_ids_are_escaped_in_both_documents(info: dict[str, Any], out_dir: Path):
    info["tasks"]["evil<b>|task"] = info["tasks"].pop("mw-reach")
    written = write_report(info, out_dir)
    assert "evil&lt;b&gt;|task" in written["html"].read_text()
    md = written["markdown"].read_text()
    assert "evil&lt;b&gt;\\|task" in md and "evil<b>" not in md  # a raw | would split the table row


def test_without_train_csv_the_figure_is_omitted_with_a_note(info: dict[str, Any], out_dir: Path, tmp_path: Path):
    for csv in (None, tmp_path / "missing.csv"):
        written = write_report(info, out_dir, csv)
        assert "training_curve" not in written
        md = written["markdown"].read_text()
        assert "training-curve figure is omitted" in md and "training_curve.png" not in md
        assert "training-curve figure is omitted" in written["html"].read_text()
    empty = tmp_path / "empty.csv"
    empty.write_text("step,key,value\n")
    assert figures.training_curve(empty, tmp_path / "curve.png") is None


def test_an_episode_level_aggregate_from_an_older_version_is_labelled_so(info: dict[str, Any], out_dir: Path):
    for group in [info["aggregate"]["overall"], *info["aggregate"]["per_domain"].values()]:
        for k in ("unit", "n_runs", "episodes_per_task", "ci"):
            del group[k]
    md = write_report(info, out_dir)["markdown"].read_text()
    assert "an episode-level IQM written by an older gatosuite" in md
    assert "over 3 tasks x 1 training run" not in md


def test_optional_sections_can_be_absent(info: dict[str, Any], out_dir: Path):
    for key in ("profile", "fewshot", "timings"):
        del info[key]
    written = write_report(info, out_dir)
    assert set(written) == {"markdown", "html", "task_scores"}
    md = written["markdown"].read_text()
    assert "Few-shot" not in md and "Timings" not in md and "cartpole" in md


def test_fewshot_verdict_in_both_directions(info: dict[str, Any], out_dir: Path):
    fs = info["fewshot"]
    yes, sentence = fewshot_verdict("dmc-cartpole-swingup", fs["dmc-cartpole-swingup"])
    assert yes is True
    assert sentence.startswith("dmc-cartpole-swingup: yes — prompting at k=2 (0.550) beats both zero-shot (0.200) "
                               "and scratch at k=2 (0.300)")
    no, sentence = fewshot_verdict("mw-door-close", fs["mw-door-close"])
    assert no is False
    assert sentence.startswith("mw-door-close: no — no prompting or finetune result beats both zero-shot (0.100)")
    md = write_report(info, out_dir)["markdown"].read_text()
    assert "dmc-cartpole-swingup: yes —" in md and "mw-door-close: no —" in md


def test_fewshot_verdict_edge_cases():
    # no scratch at the same k: compared with the best scratch result, the stricter bar
    entry = _fewshot_task(0.1, {"3": 0.5}, {}, {"1": 0.2, "4": 0.6})
    ok, sentence = fewshot_verdict("t", entry)
    assert ok is False and "the best scratch result (k=4) (0.600)" in sentence
    # a tie is not a win
    assert fewshot_verdict("t", _fewshot_task(0.1, {"1": 0.4}, {}, {"1": 0.4}))[0] is False
    # without a baseline the question is undecided, and the sentence says which one is missing
    entry = _fewshot_task(0.1, {"1": 0.9}, {}, {})
    undecided, sentence = fewshot_verdict("t", entry)
    assert undecided is None and "no scratch result" in sentence


@pytest.mark.parametrize("mutate, match", [
    (lambda i: i.pop("tasks"), "no 'tasks'"),
    (lambda i: i.update(schema=2), "schema 2"),
])
def test_bad_info_raises_with_the_fix(info: dict[str, Any], out_dir: Path, mutate, match: str):
    bad = copy.deepcopy(info)
    mutate(bad)
    with pytest.raises(ValueError, match=match) as err:
        write_report(bad, out_dir)
    assert "gatosuite evaluate" in str(err.value)
    assert not (out_dir / "report.md").exists()


def test_formatting_helpers():
    assert fmt_norm_ci(0.87349, [0.8, float("nan")]) == "0.873"
    assert fmt_norm_ci(None, None) == "—"
    assert seed_range([1002, 1000, 1001, 1004]) == "1000–1002, 1004"
    assert seed_range(list(range(0, 20, 2))) == "0–18 (10 seeds)"


def test_training_log_rejects_a_foreign_csv(tmp_path: Path):
    bad = tmp_path / "other.csv"
    bad.write_text("epoch,loss\n1,2.0\n")
    with pytest.raises(ValueError, match="step,key,value"):
        figures.read_train_log(bad)


@pytest.mark.slow
def test_a_goal_familys_side_by_side_video_is_linked_and_its_frames_shown(info: dict[str, Any], out_dir: Path,
                                                                     train_csv: Path):
    import imageio.v2 as imageio

    entry = _fewshot_task(0.2, {"1": 0.6}, {"1": 0.7}, {"1": 0.1})
    entry["video"] = "fewshot/reacher-goal-heldout-zero-vs-prompted.mp4"
    info["fewshot"]["reacher-goal-heldout"] = entry
    (out_dir / "fewshot").mkdir()
    (out_dir / entry["video"]).write_bytes(b"\x00\x00\x00\x18ftypmp42 not a real video")
    md = write_report(info, out_dir, train_csv)["markdown"].read_text()
    assert "the same held-out seed zero-shot and prompted: [fewshot/reacher-goal-heldout-zero-vs-prompted.mp4]" in md
    assert "zero-vs-prompted.png" not in md  # no frames written, none shown
    imageio.imwrite(out_dir / "fewshot" / "reacher-goal-heldout-zero-vs-prompted.png", np.zeros((8, 8, 3), np.uint8))
    md = write_report(info, out_dir, train_csv)["markdown"].read_text()
    assert "](fewshot/reacher-goal-heldout-zero-vs-prompted.png)" in md
