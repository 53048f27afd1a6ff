"""Collection faults, each injected: a full disk (staged chunk, Minari build), a second collector on the same
task and root, and a vector-env worker killed with SIGKILL. Each test checks the error names the fix,
that every finished episode stays staged, and that the next run (--resume) completes the same dataset."""

import errno
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from gatosuite.datasets import collect_vector, minari_store, staging
from gatosuite.datasets.collect import collect, lock_file, staging_dir
from gatosuite.datasets.collect_vector import WorkerDiedError
from gatosuite.errors import DiskFullError
from gatosuite.locks import BusyError


def _enospc(*a, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _same_episodes(root_a, root_b, task="cartpole"):
    a, b = list(minari_store.iter_episodes(root_a, task)), list(minari_store.iter_episodes(root_b, task))
    assert [e.seed for e in a] == [e.seed for e in b] == list(range(len(a)))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.actions, y.actions)
        np.testing.assert_array_equal(x.observations["state"], y.observations["state"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """6 CartPole episodes collected without a fault."""
    root = tmp_path_factory.mktemp("reference")
    collect("cartpole", 6, root, chunk_episodes=2, progress=False)
    return root


def test_a_full_disk_while_staging_keeps_the_chunks_before_it(tmp_path, monkeypatch, reference):
    real, calls = staging.os.fsync, []

    def third_chunk_fills_the_disk(fd):
        calls.append(1)
        if len(calls) == 3:  # the chunk's bytes were written; the disk filled before they reached it
            _enospc()
        return real(fd)

    monkeypatch.setattr(staging.os, "fsync", third_chunk_fills_the_disk)
    stage = staging_dir(tmp_path, "cartpole")
    with pytest.raises(DiskFullError, match=r"no space left on device while writing '.*chunk-000002.npz'; free space "
                                            r"on that disk, then rerun the same command with --resume"):
        collect("cartpole", 6, tmp_path, chunk_episodes=2, progress=False)
    assert sorted(p.name for p in stage.iterdir()) == ["chunk-000000.npz", "chunk-000001.npz", "plan.json"]
    assert sorted(staging.staged_episodes(stage)) == [0, 1, 2, 3]  # the chunks before it read back whole
    monkeypatch.undo()
    r = collect("cartpole", 6, tmp_path, chunk_episodes=2, resume=True, progress=False)
    assert r.collected_now == 2 and not stage.exists()
    _same_episodes(tmp_path, reference)


def test_a_full_disk_while_building_the_dataset_keeps_every_episode_staged(tmp_path, monkeypatch, reference):
    import shutil

    monkeypatch.setattr(minari_store.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    stage = staging_dir(tmp_path, "cartpole")
    with pytest.raises(DiskFullError, match=r"not enough space on device to build the dataset of 'cartpole' in .*: it "
                                            r"needs about .* MiB and 0.0 MiB are free; free space on that disk, then "
                                            r"rerun the same command with --resume \(the 6 episodes collected stay"):
        collect("cartpole", 6, tmp_path, chunk_episodes=2, progress=False)
    assert len(staging.staged_episodes(stage)) == 6
    monkeypatch.undo()

    import minari

    real = minari.create_dataset_from_buffers

    def fill_up(dataset_id, *a, **kw):  # the disk fills up while HDF5 writes, after the check
        scratch = tmp_path / ".building" / "cartpole"
        scratch.mkdir(parents=True)
        (scratch / "partial.hdf5").write_bytes(b"\0" * 100)
        _enospc()

    monkeypatch.setattr(minari, "create_dataset_from_buffers", fill_up)
    with pytest.raises(DiskFullError, match=r"while writing '.*\.building/cartpole'"):
        collect("cartpole", 6, tmp_path, chunk_episodes=2, resume=True, progress=False)
    assert not (tmp_path / ".building" / "cartpole").exists() and len(staging.staged_episodes(stage)) == 6
    monkeypatch.setattr(minari, "create_dataset_from_buffers", real)
    assert collect("cartpole", 6, tmp_path, chunk_episodes=2, resume=True, progress=False).collected_now == 0
    _same_episodes(tmp_path, reference)


HOLD = """
import sys
from gatosuite.locks import exclusive
with exclusive(sys.argv[1], "testing", "wait"):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until killed
"""


def test_a_second_collector_refuses_while_the_first_runs(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_file(tmp_path.resolve(), "cartpole"))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        stage = staging_dir(tmp_path, "cartpole")
        stage.mkdir(parents=True)  # what the live collector has staged so far
        (stage / "plan.json").write_text("{}")
        for resume in (False, True):  # not taken for an interrupted collection, even with --resume
            with pytest.raises(BusyError, match=rf"another process \(pid {holder.pid}\) is collecting 'cartpole' "
                                                r"into .*; wait for it to finish, or collect into another --root"):
                collect("cartpole", 2, tmp_path, resume=resume, progress=False)
        assert [p.name for p in stage.iterdir()] == ["plan.json"] and (stage / "plan.json").read_text() == "{}"
        collect("cartpole", 2, tmp_path / "other", progress=False)  # another root is free
    finally:
        holder.kill()
        holder.wait()
    (stage / "plan.json").unlink()  # the killed collector's lock is free again
    assert collect("cartpole", 2, tmp_path, resume=True, progress=False).episodes == 2


def _kill_a_worker_at(monkeypatch, at):
    """Make the first vector env SIGKILL its worker 0 before its `at`-th step."""
    real, killed = collect_vector.make_vector_env, []

    def make(*a, **kw):
        envs = real(*a, **kw)
        if killed:
            return envs
        real_step, calls = envs.step, []

        def step(actions):
            calls.append(1)
            if len(calls) == at:
                worker = envs.processes[0]
                os.kill(worker.pid, signal.SIGKILL)
                worker.join()
                killed.append(worker.pid)
            return real_step(actions)

        envs.step = step
        return envs

    monkeypatch.setattr(collect_vector, "make_vector_env", make)
    return killed


@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_its_episode_replayed(tmp_path, monkeypatch, capsys, reference):
    killed = _kill_a_worker_at(monkeypatch, 700)  # episodes 0, 1 done (500 steps each); 2, 3 in flight
    r = collect("cartpole", 6, tmp_path, workers=2, chunk_episodes=2, progress=False)
    assert killed and r.episodes == 6
    assert f"worker pid {killed[0]} died); restarting the workers and replaying the episodes of seeds 2, 3" in \
        capsys.readouterr().err
    _same_episodes(tmp_path, reference)


@pytest.mark.slow
def test_a_worker_that_keeps_dying_is_an_error_naming_the_seeds(tmp_path, monkeypatch, reference):
    monkeypatch.setattr(collect_vector, "MAX_RESTARTS", 0)
    _kill_a_worker_at(monkeypatch, 700)
    with pytest.raises(WorkerDiedError, match=r"a worker process collecting 'cartpole' died \(worker pid \d+ died; 1 "
                                              r"deaths in this run\) with the episodes of seeds 2, 3 in flight; .*"
                                              r"Rerun the same `gatosuite collect ... --resume`"):
        collect("cartpole", 6, tmp_path, workers=2, chunk_episodes=2, progress=False)
    assert sorted(staging.staged_episodes(staging_dir(tmp_path, "cartpole"))) == [0, 1]
    monkeypatch.undo()
    r = collect("cartpole", 6, tmp_path, workers=2, chunk_episodes=2, resume=True, progress=False)
    assert r.collected_now == 4
    _same_episodes(tmp_path, reference)
