"""`gatosuite compare`: two families on the same data and budget, every column measured, the report
written, and a killed comparison resumed without redoing a finished family."""

import json

import numpy as np
import pytest

from gatosuite.datasets.collect import collect
from gatosuite.evaluation import compare as compare_mod
from gatosuite.evaluation.compare import CompareArgs, compare


def _args(tmp_path, models, **kw):
    base = dict(models=models, tasks="cartpole", root=tmp_path / "data", out=tmp_path / "cmp", tokens=2 * 4 * 60,
                window=60, batch_size=4, eval_episodes=1, val_batches=1, fewshot="", precision="fp32")
    base.update(kw)
    return CompareArgs(**base)


@pytest.mark.slow
def test_two_families_on_the_same_budget_and_a_resumed_comparison(tmp_path, monkeypatch):
    collect("cartpole", 4, tmp_path / "data", progress=False)
    report = compare(_args(tmp_path, ["gato"]))
    store = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    gato = store["models"]["gato"]
    assert gato["train"]["step"] == 2 and gato["tokens_seen"] > 0 and gato["train"]["cpu_seconds"] > 0
    assert gato["active_parameters"] == gato["parameters_non_embedding"]
    phases = gato["phase_seconds"]  # where the time went: the parts are timed within the row's total
    assert set(phases) == {"train", "validation", "evaluation"} and 0 < sum(phases.values()) <= gato["seconds"]
    assert set(gato["val_nll"]["modality"]) == {"action_discrete"} and "classic" in gato["val_nll"]["domain"]
    assert "classic" in gato["score"]["per_domain"] and len(gato["tasks"]["cartpole"]["normalized_ci"]) == 2
    # one seed per family: the aggregate is over (1 x tasks), its CIs over episodes
    assert (gato["score"]["overall"]["n_runs"], gato["score"]["overall"]["ci"]) == (1, "episodes")
    line = "IQM, median and mean over 1 task x 1 training run (each task's mean over its 1 episode)"
    assert line in report.read_text()
    calls = []
    real = compare_mod._train
    monkeypatch.setattr(compare_mod, "_train", lambda name, *a: calls.append(name) or real(name, *a))
    compare(_args(tmp_path, ["gato,gato-moe", "unit"]))  # resumes: gato is finished, only the others train
    assert calls == ["gato-moe", "unit"]
    store = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert store["models"]["gato"] == gato
    moe = store["models"]["gato-moe"]
    assert moe["active_parameters"] < moe["parameters_non_embedding"] and moe["train"]["aux_loss"] > 0
    unit = store["models"]["unit"]  # an encoder-decoder family: every column, through its adapter and policy
    assert unit["title"] == "UniT" and unit["flops_per_token"] > 0 and unit["train"]["step"] == 2
    assert set(unit["val_nll"]["modality"]) == {"action_discrete"} and "classic" in unit["val_nll"]["domain"]
    assert len(unit["tasks"]["cartpole"]["normalized_ci"]) == 2
    text = report.read_text()
    assert "| UniT |" in text and "| Gato |" in text and "| MultiModel |" in text
    munet = next(line for line in text.splitlines() if line.startswith("| muNet |"))
    assert munet.endswith("| no |")  # registered, acts, not in this comparison
    assert "measured apart: it cannot act" in text  # LIMoE's row
    assert "gato-moe" in (tmp_path / "cmp" / "compare.md").read_text()
    assert (tmp_path / "cmp" / "figures" / "expert_load.png").is_file()
    with pytest.raises(ValueError, match="holds a comparison with other settings"):
        compare(_args(tmp_path, ["gato"], seed=1))


def test_models_may_be_given_with_commas(tmp_path):
    assert _args(tmp_path, ["gato,gato-moe", "moe"]).models == ["gato", "gato-moe", "moe"]


def test_a_family_that_cannot_act_is_refused_with_the_way_it_is_measured(tmp_path):
    from gatosuite.errors import ConfigError

    with pytest.raises(ConfigError, match="'limoe' cannot act.*bench_limoe"):
        _args(tmp_path, ["gato", "limoe"])


@pytest.mark.slow
def test_a_comparison_killed_while_training_resumes_that_training(tmp_path):
    """A rerun finds the family's checkpoint and resumes it with the arguments it was started with, which
    `train --resume`'s check of the run-defining arguments accepts."""
    from gatosuite.tokenization import default_text_model

    collect("cartpole", 2, tmp_path / "data", progress=False)
    a, text, family_dir = _args(tmp_path, ["gato"]), default_text_model(4096), tmp_path / "cmp" / "gato"
    first = compare_mod._train("gato", a, text, family_dir)
    again = compare_mod._train("gato", a, text, family_dir)  # what compare() does after a kill
    assert not first["resumed"] and again["resumed"] and again["step"] == first["step"] == 2


@pytest.mark.slow
def test_the_fewshot_columns_train_and_play_without_prompting(tmp_path, monkeypatch):
    """compare reports zero-shot, fine-tuned and from-scratch play on the held-out task; the prompted
    play, which no column shows, is not run (it cost a fifth of a family's time)."""
    import gatosuite.evaluation.fewshot as fewshot_mod

    collect("inverted-pendulum", 2, tmp_path / "data", progress=False)
    monkeypatch.setattr(fewshot_mod, "prompt_for", lambda *a, **k: pytest.fail("compare played a prompt"))
    a = _args(tmp_path, ["gato"])
    a.tasks, a.fewshot, a.fewshot_steps = "inverted-pendulum", "inverted-double-pendulum", 2
    compare(a)
    gato = json.loads((tmp_path / "cmp" / "compare.json").read_text())["models"]["gato"]
    assert set(gato["fewshot"]) == {"task", "zero-shot", "finetune", "scratch"}
    assert gato["fewshot"]["task"] == "inverted-double-pendulum" and "fewshot" in gato["phase_seconds"]
    work = tmp_path / "cmp" / "gato" / "fewshot" / "inverted-double-pendulum"
    assert (work / "finetune-k1").is_dir() and (work / "scratch-k1").is_dir()  # both adapted models trained
    assert all(np.isfinite(gato["fewshot"][m]["normalized"]) for m in ("zero-shot", "finetune", "scratch"))
