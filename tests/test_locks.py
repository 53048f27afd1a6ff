"""locks.exclusive: a second holder is refused at once with the first one's pid; the lock is free again
when the first one leaves its block, or when its process dies (the kernel drops a dead process's flock)."""

import os
import subprocess
import sys

import pytest

from gatosuite.locks import BusyError, exclusive, holder_pid


def test_a_second_holder_is_refused_until_the_first_leaves(tmp_path):
    lock = tmp_path / "sub" / "x.lock"
    with exclusive(lock, "writing x", "wait"):
        assert holder_pid(lock) == os.getpid()
        with pytest.raises(BusyError, match=rf"another process \(pid {os.getpid()}\) is writing x \(lock '{lock}'\); "
                                            "wait$"):
            with exclusive(lock, "writing x", "wait"):
                pass
    with exclusive(lock, "writing x", "wait"):  # released on leaving the block
        pass
    with pytest.raises(ZeroDivisionError):  # and when the block raises
        with exclusive(lock, "writing x", "wait"):
            1 / 0
    with exclusive(lock, "writing x", "wait"):
        pass


def test_a_killed_holders_lock_is_free(tmp_path):
    lock = tmp_path / "x.lock"
    hold = ("import sys\nfrom gatosuite.locks import exclusive\nwith exclusive(sys.argv[1], 'w', 'f'):\n"
            "    print('locked', flush=True)\n    sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", hold, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline() == "locked\n"
        with pytest.raises(BusyError, match=rf"pid {proc.pid}\)"):
            with exclusive(lock, "w", "f"):
                pass
    finally:
        proc.kill()  # SIGKILL: no cleanup code runs in the holder
        proc.wait()
    with exclusive(lock, "w", "f"):
        assert holder_pid(lock) == os.getpid()
