"""The fault catalogue through the real command line: each fault is injected into a real `gatosuite`
process (or `cli.main` in-process), and the user sees a non-zero exit, no traceback, and one line that
starts with `error:` and names the fix; then nothing on disk was lost and the next run works.

The faults that need code injected (a NaN loss, a dead env worker, ENOSPC in one writer) are tested
in-process next to their code: tests/agent/test_train_faults.py, tests/datasets/test_collect_faults.py.
"""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gatosuite.agent.checkpoint import MODEL_FILE, load_trainer_state
from gatosuite.cli import main
from gatosuite.datasets.collect import lock_file, staging_dir

TRAIN = ["--tasks", "cartpole", "--window", "60", "--batch-size", "2", "--val-every", "0", "--precision", "fp32"]


def _cli(*argv: str, check_error: bool = False) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "gatosuite", *argv], capture_output=True, text=True, timeout=600)
    if check_error:
        _assert_one_error_line(out)
    return out


def _assert_one_error_line(out) -> str:
    """Non-zero exit, no traceback, and exactly one stderr line that starts with 'error:'; returns it."""
    assert out.returncode != 0, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, out.stderr
    return errors[0]


def _error(argv: list[str]) -> str:
    """Run the CLI in-process; return the one-line error it exits with."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    msg = e.value.code
    assert isinstance(msg, str) and msg.startswith("error: ") and "\n" not in msg, msg
    return msg


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-episode CartPole dataset and a 4-step run trained on it."""
    root = tmp_path_factory.mktemp("faults")
    main(["collect", "--task", "cartpole", "--episodes", "2", "--root", str(root / "data")])
    main(["train", *TRAIN, "--root", str(root / "data"), "--out", str(root / "run"), "--steps", "4"])
    return root


HOLD = """
import sys
from gatosuite.locks import exclusive
with exclusive(sys.argv[1], "testing", "wait"):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until killed
"""


class Holder:
    """A real process that holds a lock file, as a live collector or trainer would."""

    def __init__(self, lock: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline() == "locked\n"
        self.pid = self.proc.pid

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: the kernel releases the lock
        self.proc.wait()


@pytest.mark.slow
def test_a_flipped_bit_in_the_weights_is_refused(run, tmp_path):
    ckpt = tmp_path / "checkpoint"
    shutil.copytree(run / "run" / "checkpoint", ckpt)
    good = (ckpt / MODEL_FILE).read_bytes()
    flipped = bytearray(good)
    flipped[-100] ^= 0x01
    (ckpt / MODEL_FILE).write_bytes(bytes(flipped))
    rollout = ["rollout", "--checkpoint", str(ckpt), "--task", "cartpole", "--episodes", "1", "--envs", "1",
               "--precision", "fp32"]
    line = _assert_one_error_line(_cli(*rollout))
    assert line.startswith(f"error: '{ckpt / MODEL_FILE}' is not the file that was saved") and \
        "copy the checkpoint again" in line
    (ckpt / MODEL_FILE).write_bytes(good)  # the copy made again: the next run works
    assert _cli(*rollout).returncode == 0


@pytest.mark.slow
def test_two_collectors_on_one_root(tmp_path):
    root = tmp_path.resolve()
    holder = Holder(lock_file(root, "acrobot"))
    try:
        cmd = ["collect", "--task", "acrobot", "--episodes", "2", "--root", str(root)]
        line = _assert_one_error_line(_cli(*cmd))
        assert line == (f"error: another process (pid {holder.pid}) is collecting 'acrobot' into '{root}' (lock "
                        f"'{lock_file(root, 'acrobot')}'); wait for it to finish, or collect into another --root")
        _assert_one_error_line(_cli(*cmd, "--resume"))  # "--resume" is no way around a live collector
        assert not staging_dir(root, "acrobot").exists()
    finally:
        holder.kill()
    assert _cli(*cmd).returncode == 0  # the killed holder's lock is free again


def test_two_trainers_on_one_run_folder(run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run / "run", out)
    before = {p.name: p.read_bytes() for p in (out / "checkpoint").iterdir()}
    holder = Holder(out / ".lock")
    try:
        msg = _error(["train", *TRAIN, "--root", str(run / "data"), "--out", str(out), "--steps", "4", "--resume"])
        assert msg == (f"error: another process (pid {holder.pid}) is training in '{out}' (lock '{out / '.lock'}'); "
                       "wait for it to finish, or train into another --out")
    finally:
        holder.kill()
    assert {p.name: p.read_bytes() for p in (out / "checkpoint").iterdir()} == before


@pytest.mark.slow
def test_sigterm_during_training_says_how_to_resume(run, tmp_path):
    out = tmp_path / "sig"
    argv = [sys.executable, "-m", "gatosuite", "train", *TRAIN, "--root", str(run / "data"), "--out", str(out),
            "--steps", "100000", "--log-every", "1", "--ckpt-every", "100000"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    csv, deadline = out / "train.csv", time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline and len(_lines(csv)) < 2:
        time.sleep(0.05)  # wait until it is training (a logged step), then signal it mid-run
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=300)
    line = _assert_one_error_line(subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr))
    step = load_trainer_state(out / "checkpoint")["step"]  # the step reached, not the last --ckpt-every
    assert line == (f"error: training stopped by SIGTERM at step {step}; checkpoint saved in '{out / 'checkpoint'}'; "
                    "continue with the same `gatosuite train` arguments plus --resume")
    assert step >= 1
    resumed = _cli("train", *TRAIN, "--root", str(run / "data"), "--out", str(out), "--steps", "100000",
                   "--resume", "--stop-at", str(step + 2))
    assert resumed.returncode == 0 and f"trained to step {step + 2}" in resumed.stdout


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def test_resume_with_other_tasks_or_steps(run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(run / "run", out)
    argv = ["train", *TRAIN, "--root", str(run / "data"), "--out", str(out), "--resume"]
    msg = _error([*argv[:2], "acrobot", *argv[3:], "--steps", "4"])
    assert "tasks: run 'cartpole' vs requested 'acrobot'" in msg and "start a new run in another --out" in msg
    msg = _error([*argv, "--steps", "60"])
    assert "steps: run '4' vs requested '60' (the run's cosine schedule is 4 steps long; resume with --steps 4" in msg


def test_a_full_disk_that_no_writer_named_is_still_one_line(monkeypatch):
    from gatosuite import cli

    def full(self):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cli.Tasks, "run", full)
    assert _error(["tasks"]) == ("error: no space left on device; free space on that disk, then rerun the same "
                                 "command with --resume")


@pytest.fixture
def tmpfs(tmp_path):
    """A real 3 MiB tmpfs (root only; skipped elsewhere), unmounted afterwards."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("this machine does not let us mount a tmpfs")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.slow
def test_collecting_into_a_full_disk_then_resuming(tmpfs):
    """The issue's probe: halfcheetah into a 3 MiB tmpfs printed a raw OSError traceback, and so did --resume."""
    cmd = ["collect", "--task", "halfcheetah", "--episodes", "40", "--root", str(tmpfs)]
    stage = staging_dir(tmpfs, "halfcheetah")
    full = (f"error: no space left on device while writing '{stage / 'chunk-000003.npz'}'; free space on that disk, "
            "then rerun the same command with --resume")
    assert _assert_one_error_line(_cli(*cmd)) == full  # three chunks of 10 episodes (0.9 MB each) fit
    assert _assert_one_error_line(_cli(*cmd, "--resume")) == full  # the disk is still full
    assert sorted(p.name for p in stage.iterdir()) == ["chunk-000000.npz", "chunk-000001.npz", "chunk-000002.npz",
                                                       "plan.json"]  # whole chunks only, no temp file
    subprocess.run(["mount", "-o", "remount,size=64m", str(tmpfs)], check=True)  # space freed
    done = _cli(*cmd, "--resume")
    assert done.returncode == 0 and "halfcheetah: 40 episodes" in done.stdout, done.stderr
    assert "10 collected now" in done.stdout  # only the episodes no chunk held


def test_ctrl_c_outside_training_is_one_line_and_exit_130(monkeypatch, capsys, tmp_path):
    import gatosuite.datasets.collect as collect_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(collect_module, "collect", interrupted)
    with pytest.raises(SystemExit) as stop:
        main(["collect", "--task", "cartpole", "--episodes", "3", "--root", str(tmp_path)])
    assert stop.value.code == 130
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: interrupted (Ctrl-C)") and "--resume" in lines[0]
