"""evaluation/continual_run.py: the protocol's bookkeeping. Training and env scoring are replaced by recorded
fakes here (a real run trains and plays every stage; benchmarks and the docs measure that): what is checked
is the order of stages, what each starts from, what is measured when, that a killed run resumes (also one
killed half-way through a stage), and that the sequence and each reference run are parts with records of their
own, which run in any order."""

from pathlib import Path

import numpy as np
import pytest

from gatosuite.errors import ConfigError, CorruptFileError, RunExistsError
from gatosuite.evaluation import continual_run as cr


@pytest.fixture
def fakes(monkeypatch):
    calls = {"train": [], "success": []}

    def train(args, text_model, progress=True):
        calls["train"].append((args.out.name, args.tasks, args.stop_at, args.resume,
                               args.init_from and args.init_from.parent.name))
        if not args.resume and (args.out / "checkpoint").exists():  # as the real trainer refuses a used folder
            raise RunExistsError(f"'{args.out}' already holds a run")
        (args.out / "checkpoint").mkdir(parents=True, exist_ok=True)

    def success(checkpoint, task_id, s, record=None):
        calls["success"].append((checkpoint.parent.name, task_id))
        return {"cartpole": 0.5, "acrobot": 0.25, "pendulum": 0.75}[task_id]

    monkeypatch.setattr(cr, "train", train)
    monkeypatch.setattr(cr, "success", success)
    return calls


SETTINGS = cr.ContinualSettings(tasks=("cartpole", "acrobot", "pendulum"), steps=6, points=2)


def test_stages_train_in_order_from_the_previous_stage_and_measure_the_seen_tasks(fakes, tmp_path):
    run = cr.run_sequence(SETTINGS, Path("data"), tmp_path, text_model=None)
    assert fakes["train"] == [
        ("stage0-cartpole", "cartpole", 3, False, None), ("stage0-cartpole", "cartpole", 6, True, None),
        ("stage1-acrobot", "acrobot", 3, False, "stage0-cartpole"), ("stage1-acrobot", "acrobot", 6, True, None),
        ("stage2-pendulum", "pendulum", 3, False, "stage1-acrobot"), ("stage2-pendulum", "pendulum", 6, True, None),
        # references: each later task alone from scratch; the first task's is the sequence's first stage
        ("alone-acrobot", "acrobot", 3, False, None), ("alone-acrobot", "acrobot", 6, True, None),
        ("alone-pendulum", "pendulum", 3, False, None), ("alone-pendulum", "pendulum", 6, True, None)]
    expected = np.array([[0.5, np.nan, np.nan], [0.5, 0.25, np.nan], [0.5, 0.25, 0.75]])
    np.testing.assert_array_equal(run.success, expected)  # tasks yet to come are not played
    assert [len(c) for c in run.curves] == [2, 2, 2] and np.array_equal(run.reference[0], run.curves[0])
    assert ("stage0-cartpole", "acrobot") not in fakes["success"]


def test_a_killed_run_resumes_after_its_last_finished_stage(fakes, tmp_path, monkeypatch):
    real_train = cr.train

    def dies_in_stage2(args, text_model, progress=True):
        if args.out.name.startswith("stage2"):
            raise KeyboardInterrupt
        real_train(args, text_model, progress)

    monkeypatch.setattr(cr, "train", dies_in_stage2)
    with pytest.raises(KeyboardInterrupt):
        cr.run_sequence(SETTINGS, Path("data"), tmp_path, text_model=None)
    monkeypatch.setattr(cr, "train", real_train)
    before = len(fakes["train"])
    with pytest.raises(ConfigError, match="--resume"):
        cr.run_sequence(SETTINGS, Path("data"), tmp_path, text_model=None)
    run = cr.run_sequence(SETTINGS, Path("data"), tmp_path, text_model=None, resume=True)
    redone = [c[0] for c in fakes["train"][before:]]
    assert redone[:2] == ["stage2-pendulum"] * 2 and "stage0-cartpole" not in redone
    assert fakes["train"][before][4] == "stage1-acrobot"  # stage 2 still starts from stage 1's weights
    assert run.success.shape == (3, 3)
    other = cr.ContinualSettings(tasks=SETTINGS.tasks, steps=8, points=2)
    with pytest.raises(ConfigError, match="settings differ"):
        cr.run_sequence(other, Path("data"), tmp_path, text_model=None, resume=True)


def test_bad_sequences_are_refused():
    with pytest.raises(ConfigError, match="distinct"):
        cr.ContinualSettings(tasks=("cartpole", "cartpole"))
    with pytest.raises(ConfigError, match="not an environment"):
        cr.ContinualSettings(tasks=("cartpole", "text-lm"))


def test_a_familys_own_steps_run_between_tasks_and_its_records_choose_what_earlier_tasks_are_scored_with(
        fakes, tmp_path, monkeypatch):
    seen = {"init": [], "select": []}

    class Hooks:  # PathNet's shape: a starting checkpoint per later task, a record per task, a switch
        @staticmethod
        def stage_init(prev, out, stage, seed, text_model):
            seen["init"].append((prev.parent.name, out.parent.name, stage, seed))
            (out).mkdir(parents=True)

        @staticmethod
        def stage_end(checkpoint):
            return {"path": checkpoint.parent.name, "params_added": 10 * len(seen["init"]) + 1}

    monkeypatch.setattr(cr, "get_family", lambda name: type("F", (), {"continual": Hooks})())
    real = fakes  # the fake success ignores the record; wrap it to see which record each score used
    success = cr.success

    def recorded(checkpoint, task_id, s, record=None):
        seen["select"].append((checkpoint.parent.name, task_id, record and record["path"]))
        return success(checkpoint, task_id, s, record)

    monkeypatch.setattr(cr, "success", recorded)
    run = cr.run_sequence(SETTINGS, Path("data"), tmp_path, text_model=None)
    assert seen["init"] == [("stage0-cartpole", "stage1-start", 1, 0), ("stage1-acrobot", "stage2-start", 2, 0)]
    assert ("stage1-acrobot", "acrobot", 3, False, "stage1-start") in real["train"]  # trains from its start
    # scoring an earlier task after a later stage uses that task's own record; the arriving task none
    assert ("stage2-pendulum", "cartpole", "stage0-cartpole") in seen["select"]
    assert ("stage2-pendulum", "acrobot", "stage1-acrobot") in seen["select"]
    assert run.params_added == (1, 11, 21)


def test_a_stage_killed_half_way_is_trained_again_from_its_start(fakes, tmp_path, monkeypatch):
    real_train = cr.train

    def dies_in_the_second_slice_of_stage1(args, text_model, progress=True):
        if args.out.name.startswith("stage1") and args.resume:
            raise KeyboardInterrupt  # its first slice's checkpoint is on disk
        real_train(args, text_model, progress)

    monkeypatch.setattr(cr, "train", dies_in_the_second_slice_of_stage1)
    with pytest.raises(KeyboardInterrupt):
        cr.run_sequence(SETTINGS, Path("data"), tmp_path, text_model=None)
    assert (tmp_path / "stage1-acrobot" / "checkpoint").exists()
    monkeypatch.setattr(cr, "train", real_train)
    before = len(fakes["train"])
    run = cr.run_sequence(SETTINGS, Path("data"), tmp_path, text_model=None, resume=True)
    assert fakes["train"][before][:5] == ("stage1-acrobot", "acrobot", 3, False, "stage0-cartpole")
    assert run.success.shape == (3, 3)


def test_the_sequence_and_each_reference_run_are_parts_that_run_in_any_order(fakes, tmp_path):
    for task in SETTINGS.tasks[:0:-1]:  # the references first, the last task's before the second's
        assert cr.run_reference(SETTINGS, task, Path("data"), tmp_path, None) == [
            {"acrobot": 0.25, "pendulum": 0.75}[task]] * 2
    with pytest.raises(ConfigError, match="sequence .* has not run"):
        cr.assemble(SETTINGS, tmp_path)
    cr.run_stages(SETTINGS, Path("data"), tmp_path, None)
    run = cr.assemble(SETTINGS, tmp_path)
    whole = cr.run_sequence(SETTINGS, Path("data"), tmp_path / "whole", text_model=None)
    for a, b in zip((run.success, *run.curves, *run.reference), (whole.success, *whole.curves, *whole.reference)):
        np.testing.assert_array_equal(a, b)
    n = len(fakes["train"])
    cr.run_reference(SETTINGS, "acrobot", Path("data"), tmp_path, None, resume=True)  # a finished part is read back
    assert len(fakes["train"]) == n
    with pytest.raises(ConfigError, match="--resume"):
        cr.run_reference(SETTINGS, "acrobot", Path("data"), tmp_path, None)
    with pytest.raises(ConfigError, match="not a later task"):
        cr.run_reference(SETTINGS, "cartpole", Path("data"), tmp_path, None)
    (tmp_path / "reference-acrobot.json").write_text("{trunc")
    with pytest.raises(CorruptFileError, match="delete it"):
        cr.run_reference(SETTINGS, "acrobot", Path("data"), tmp_path, None, resume=True)


def test_a_run_recorded_before_the_references_had_records_of_their_own_is_read(fakes, tmp_path):
    import json

    cr.run_sequence(SETTINGS, Path("data"), tmp_path, text_model=None)
    state = json.loads((tmp_path / "continual.json").read_text())
    state["reference"] = {t: [0.1, 0.2] for t in SETTINGS.tasks[1:]}  # where runs before 2026-12-05 kept them
    (tmp_path / "continual.json").write_text(json.dumps(state))
    for t in SETTINGS.tasks[1:]:
        (tmp_path / f"reference-{t}.json").unlink()
    run = cr.assemble(SETTINGS, tmp_path)
    np.testing.assert_array_equal(run.reference[1], [0.1, 0.2])
    (tmp_path / "continual.json").write_text(json.dumps({**state, "reference": {}}))
    with pytest.raises(ConfigError, match="reference run of acrobot .* has not finished"):
        cr.assemble(SETTINGS, tmp_path)
