"""Collection on Ray (datasets/collect_ray.py): the same episodes as one worker, bitwise; loopback only;
a killed run resumes with exactly the missing episodes; a second collector on the root refuses."""

import numpy as np
import pytest

from gatosuite.datasets import minari_store
from gatosuite.datasets import playing as playing_mod
from gatosuite.datasets.collect import collect, lock_file, staging_dir
from gatosuite.datasets.collect_ray import collect_tasks, jobs
from gatosuite.datasets.staging import staged_episodes
from gatosuite.locks import BusyError, exclusive
from gatosuite.raytools import init_ray

# each module run starts one local Ray (about 5 s): one xdist worker runs the whole module (make test's loadgroup)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

TASKS = ["babyai-gotoredball", "pendulum"]  # a rendered task with text, and a continuous state task


@pytest.fixture(scope="module")
def ray_local():
    init_ray(2)  # before `import ray`: a local Ray is kept on loopback by a variable ray reads on import
    import ray

    yield ray
    ray.shutdown()


def _fields(ep):
    out = {"actions": ep.actions, "rewards": ep.rewards, "terminations": ep.terminations,
           "truncations": ep.truncations}
    out.update({f"obs.{k}": np.asarray(v) for k, v in ep.observations.items()})
    return out


def _assert_same(root_a, root_b, task_id):
    a = list(minari_store.iter_episodes(root_a, task_id))
    b = list(minari_store.iter_episodes(root_b, task_id))
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        fx, fy = _fields(x), _fields(y)
        assert fx.keys() == fy.keys()
        for k in fx:
            assert fx[k].dtype == fy[k].dtype and np.array_equal(fx[k], fy[k]), (task_id, x.index, k)
        assert x.seed == y.seed and x.success == y.success


def test_ray_runs_on_loopback_only(ray_local):
    node = ray_local.nodes()[0]
    assert node["NodeManagerAddress"] == "127.0.0.1"
    assert ray_local.get_runtime_context().gcs_address.startswith("127.0.0.1:")


def test_two_actors_collect_bitwise_the_episodes_of_one_worker(ray_local, tmp_path):
    for t in TASKS:
        collect(t, 5, tmp_path / "one", progress=False, noise=0.2 if t == "pendulum" else 0.0)
    rs = collect_tasks(TASKS[:1], 5, tmp_path / "ray", workers=2, chunk_episodes=2, progress=False)
    rs += collect_tasks(TASKS[1:], 5, tmp_path / "ray", workers=2, chunk_episodes=2, progress=False, noise=0.2)
    assert [r.task for r in rs] == TASKS and all(r.episodes == 5 and r.collected_now == 5 for r in rs)
    for t in TASKS:
        _assert_same(tmp_path / "one", tmp_path / "ray", t)
    ds = minari_store.load(tmp_path / "ray", "pendulum")  # the noisy dataset keeps the expert's labels
    assert "random-action noise" in ds.storage.metadata["algorithm_name"]


def test_a_killed_collection_resumes_with_exactly_the_missing_episodes(ray_local, tmp_path, monkeypatch):
    collect("babyai-gotoredball", 6, tmp_path / "one", progress=False)
    real, staged = playing_mod.Sink.put_chunk, []

    def dies_after_two_chunks(self, data, episodes):
        if len(staged) == 2:
            raise KeyboardInterrupt  # the driver is stopped with two chunks staged
        staged.append(1)
        real(self, data, episodes)

    monkeypatch.setattr(playing_mod.Sink, "put_chunk", dies_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        collect_tasks(["babyai-gotoredball"], 6, tmp_path / "ray", workers=2, chunk_episodes=2, progress=False)
    assert sorted(staged_episodes(staging_dir(tmp_path / "ray", "babyai-gotoredball"))) == [0, 1, 2, 3]
    monkeypatch.undo()
    [r] = collect_tasks(["babyai-gotoredball"], 6, tmp_path / "ray", workers=2, chunk_episodes=2, resume=True,
                        progress=False)
    assert r.collected_now == 2 and r.episodes == 6
    _assert_same(tmp_path / "one", tmp_path / "ray", "babyai-gotoredball")


def test_a_second_collector_on_the_root_refuses_before_staging_anything(ray_local, tmp_path):
    with exclusive(lock_file(tmp_path, "pendulum"), "collecting", "wait"):
        with pytest.raises(BusyError, match="collecting"):
            collect_tasks(["cartpole", "pendulum"], 2, tmp_path, workers=2, progress=False)
    assert not staging_dir(tmp_path, "cartpole").exists()  # no lock held: nothing started


def test_progress_shows_tasks_done_and_steps_per_second(ray_local, tmp_path, capsys):
    collect_tasks(["cartpole", "pendulum"], 2, tmp_path, workers=2, chunk_episodes=1, progress=True)
    err = capsys.readouterr().err
    assert "tasks=2/2" in err and "steps_s=" in err


def test_jobs_cut_the_missing_indices_in_order():
    class P:
        todo = [0, 1, 2, 5, 6]

    assert list(jobs(P, 2)) == [[0, 1], [2, 5], [6]]


def test_the_cli_collects_a_tag_on_ray_and_prints_each_task(ray_local, tmp_path, capsys):
    from gatosuite.cli import main

    main(["collect", "--task", "cartpole,pendulum", "--episodes", "2", "--workers", "2", "--root", str(tmp_path)])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.split(":")[0] in ("cartpole", "pendulum")]
    assert [ln.split(":")[0] for ln in lines] == ["cartpole", "pendulum"]
    assert all("2 episodes" in ln and "2 collected now" in ln for ln in lines), lines
