"""`gatosuite compare --continual`: families and the multi-task upper bound over one sequence and several
training seeds, with training and env scoring replaced by recorded fakes (evaluation/continual_run.py's own
tests check the protocol; here: what is run per family and seed, the numbers in the table, resuming)."""

import json
from pathlib import Path

import numpy as np
import pytest

import gatosuite.agent.train as agent_train
from gatosuite.errors import ConfigError
from gatosuite.evaluation import compare_continual as cc
from gatosuite.evaluation import continual_run as cr

TASKS = ("cartpole", "acrobot")


@pytest.fixture
def fakes(monkeypatch):
    calls = []

    def train(args, text_model, progress=True):
        calls.append((str(args.out.relative_to(args.out.parents[2])), args.tasks, args.steps))
        (args.out / "checkpoint").mkdir(parents=True, exist_ok=True)

    def success(checkpoint, task_id, s, record=None):
        # seed 1 scores 0.2 above seed 0; a later stage forgets cartpole; alone runs and multi-task differ
        stage, seed = checkpoint.parent.name, s.train_seed
        base = {"stage0-cartpole": {"cartpole": 0.6}, "stage1-acrobot": {"cartpole": 0.2, "acrobot": 0.5},
                "alone-acrobot": {"acrobot": 0.3}, "train": {"cartpole": 0.7, "acrobot": 0.6}}[stage][task_id]
        return base + 0.2 * seed

    monkeypatch.setattr(cr, "train", train)
    monkeypatch.setattr(cr, "success", success)
    monkeypatch.setattr(agent_train, "train", train)
    return calls


BASE = cr.ContinualSettings(tasks=TASKS, steps=4, points=1)


def test_every_family_runs_per_seed_and_the_table_holds_their_metrics(fakes, tmp_path):
    md = cc.compare_continual(["gato", cc.MULTITASK], TASKS, Path("data"), tmp_path, 2, BASE, text_model=None)
    store = json.loads((tmp_path / "continual.json").read_text())
    gato, multi = store["families"]["gato"], store["families"][cc.MULTITASK]
    # performance: mean final success over tasks, per seed (0.35, 0.55), then over seeds
    assert gato["performance"]["mean"] == pytest.approx(0.45) and gato["seeds"] == 2
    assert gato["forgetting"]["mean"] == pytest.approx(0.2)  # cartpole: 0.6 -> 0.2 (seed 0), 0.8 -> 0.4; / 2 tasks
    # forward transfer: the first task's is 0 (its reference is its own first stage); acrobot's is
    # (0.5 - 0.3) / 0.7 on seed 0 and (0.7 - 0.5) / 0.5 on seed 1; each run averages its tasks
    assert gato["forward_transfer"]["mean"] == pytest.approx(np.mean([(0 + 0.2 / 0.7) / 2, (0 + 0.2 / 0.5) / 2]))
    assert gato["success_matrix"][0][1] is None and gato["success_matrix"][1] == pytest.approx([0.3, 0.6])
    assert gato["seed_table"]["year"] == 2022
    # the upper bound trains once per seed on all tasks together, for the sequence's total steps
    assert [c for c in fakes if c[0].startswith(cc.MULTITASK)] == [
        (f"{cc.MULTITASK}/seed0/train", "cartpole,acrobot", 8), (f"{cc.MULTITASK}/seed1/train", "cartpole,acrobot", 8)]
    assert multi["performance"]["mean"] == pytest.approx(np.mean([0.65, 0.85])) and multi["forgetting"] is None
    text = md.read_text()
    assert "| gato |" in text and "| gato-multitask |" in text and "0.450 [" in text
    assert (tmp_path / "gato-success.png").stat().st_size > 1000


def test_forward_transfer_is_continual_worlds_per_task_then_averaged(fakes, tmp_path):
    cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 1, BASE, text_model=None)
    row = json.loads((tmp_path / "continual.json").read_text())["families"]["gato"]
    per_task = row["per_run"][0]["per_task"]
    assert per_task["acrobot"]["forward_transfer"] == pytest.approx((0.5 - 0.3) / (1 - 0.3))
    assert per_task["cartpole"]["forward_transfer"] == pytest.approx(0.0)  # its reference is its own first stage
    assert row["forward_transfer"]["ci"] is None  # one seed gives no interval


def test_an_undefined_transfer_is_written_and_shown_not_a_crash(fakes, tmp_path, monkeypatch):
    """A from-scratch reference that succeeds at every point leaves that task's transfer undefined (Continual
    World's formula divides by 1 - AUC^b): continual.json records null and the table still writes."""
    scored = cr.success

    def solved_alone(checkpoint, task_id, s, record=None):
        return 1.0 if checkpoint.parent.name == "alone-acrobot" else scored(checkpoint, task_id, s, record)

    monkeypatch.setattr(cr, "success", solved_alone)
    md = cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 2, BASE, text_model=None)
    row = json.loads((tmp_path / "continual.json").read_text())["families"]["gato"]
    assert [r["per_task"]["acrobot"]["forward_transfer"] for r in row["per_run"]] == [None, None]
    assert row["forward_transfer"]["mean"] == pytest.approx(0.0)  # cartpole's, the only defined one
    assert "| gato |" in md.read_text()


def test_a_finished_family_is_not_run_again_and_other_settings_are_refused(fakes, tmp_path):
    cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 1, BASE, text_model=None)
    n = len(fakes)
    cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 1, BASE, text_model=None)
    assert len(fakes) == n
    with pytest.raises(ConfigError, match="other settings"):
        cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 2, BASE, text_model=None)


def test_sequences_by_name_or_ids():
    assert cc.sequence_tasks("cw10")[0] == "mw-hammer" and len(cc.sequence_tasks("cw10")) == 10
    assert len(cc.sequence_tasks("cw3")) == 3
    assert cc.sequence_tasks("cartpole,acrobot") == TASKS
    with pytest.raises(ConfigError, match="at least two"):
        cc.sequence_tasks("cartpole")


@pytest.mark.parametrize("measured", ["fp32", "bf16"])
def test_auto_precision_is_resolved_once_and_recorded_for_every_part(fakes, tmp_path, monkeypatch, measured):
    import gatosuite.agent.runtime as runtime

    asked = []

    def resolve(device=None, precision=None, announce=True, workload="train"):
        asked.append(precision)
        return runtime.Runtime(runtime.resolve_device("cpu"), measured if precision == "auto" else precision, "test")

    monkeypatch.setattr(runtime, "resolve", resolve)
    auto = cr.ContinualSettings(tasks=TASKS, steps=4, points=1, precision="auto")
    cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 2, auto, text_model=None)
    assert asked == ["auto"]  # once, before any job
    assert json.loads((tmp_path / "continual.json").read_text())["settings"]["precision"] == measured
    for k in range(2):
        for record in ("continual.json", "reference-acrobot.json"):
            recorded = json.loads((tmp_path / "gato" / f"seed{k}" / record).read_text())
            assert recorded["settings"]["precision"] == measured


@pytest.fixture(scope="module")
def ray_local():
    from gatosuite.raytools import init_ray

    init_ray(2)  # before `import ray`: a local Ray is kept on loopback by a variable ray reads on import
    import ray

    yield ray
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.xdist_group("ray")
def test_runs_on_two_ray_workers_record_what_one_thread_in_this_process_records(ray_local, tmp_path, text_model):
    """Real training and rollouts (tiny): the sequence and the reference run go to Ray workers of one thread each
    and write the same records, bitwise, as the same parts run here on one thread."""
    import torch

    from gatosuite.datasets.collect import collect

    for t in TASKS:
        collect(t, 2, tmp_path / "data", progress=False)
    base = cr.ContinualSettings(tasks=TASKS, steps=2, points=1, episodes=1, envs=1, batch_size=2, window=64,
                                precision="fp32")
    cc.compare_continual(["gato"], TASKS, tmp_path / "data", tmp_path / "ray", 1, base, text_model, workers=2)
    store = json.loads((tmp_path / "ray" / "continual.json").read_text())
    assert store["families"]["gato"]["workers"] == 2 and store["families"]["gato"]["seeds"] == 1
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cr.run_sequence(base, tmp_path / "data", tmp_path / "here", text_model)
    finally:
        torch.set_num_threads(threads)
    for record in ("continual.json", "reference-acrobot.json"):
        there = json.loads((tmp_path / "ray" / "gato" / "seed0" / record).read_text())
        here = json.loads((tmp_path / "here" / record).read_text())
        assert there == here
    stages = json.loads((tmp_path / "here" / "continual.json").read_text())["stages"]
    assert [st["task"] for st in stages] == list(TASKS) and all(0.0 <= st["curve"][-1] <= 1.0 for st in stages)


def test_a_familys_searches_are_counted_in_its_row_and_named_in_the_table(fakes, tmp_path, monkeypatch):
    """With --search, a family that evolves records its searches' candidate steps (on top of the stage's)."""

    def search(s, prev, start, task, stage, root, run_dir, text_model):
        return {"generations": s.search, "candidate_steps": 40 + 20 * s.train_seed, "candidates_trained": 2}

    class Hooks:  # an evolving family's steps between tasks, as continual_run calls them
        @staticmethod
        def stage_init(prev, out, stage, seed, text_model):
            out.mkdir(parents=True)

        @staticmethod
        def stage_end(checkpoint):
            return {"params_added": 1}

    monkeypatch.setattr(cr, "get_family", lambda name: type("F", (), {"continual": Hooks})())
    monkeypatch.setattr(cr, "search_stage", search)
    base = cr.ContinualSettings(tasks=TASKS, steps=4, points=1, search=2, search_steps=20)
    md = cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 2, base, text_model=None)
    store = json.loads((tmp_path / "continual.json").read_text())
    assert store["settings"]["search"] == 2 and store["settings"]["search_steps"] == 20
    row = store["families"]["gato"]
    assert row["search_steps"] == {"acrobot": 50.0}  # the later task's, mean over seeds 0 and 1
    assert [r["candidate_steps"] for r in row["searches"]["acrobot"]] == [40, 60]
    assert "Searches (2 generations at each later task's start; candidates of 20 steps, on top of the 4 per " \
           "task): gato 50 candidate steps." in md.read_text()
    with pytest.raises(ConfigError, match="other settings"):  # a search is part of the settings
        cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 2, BASE, text_model=None)


def test_a_comparison_stored_before_searches_existed_resumes_without_one(fakes, tmp_path):
    cc.compare_continual(["gato"], TASKS, Path("data"), tmp_path, 1, BASE, text_model=None)
    for path in [tmp_path / "continual.json", *tmp_path.glob("gato/seed0/*.json")]:
        state = json.loads(path.read_text())
        for k in ("search", "search_size", "search_steps"):
            state["settings"].pop(k, None)
        path.write_text(json.dumps(state))
    n = len(fakes)
    cc.compare_continual(["gato", cc.MULTITASK], TASKS, Path("data"), tmp_path, 1, BASE, text_model=None)
    assert not any(c[0].startswith("gato/") for c in fakes[n:])  # gato's records are read, not rerun
