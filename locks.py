"""One writer per dataset or run folder: an exclusive `fcntl.flock` on a lock file.

Two `gatosuite collect` of one task into one --root, or two `gatosuite train` into one --out, would
write into each other's files. The second one refuses at once, naming the folder, the holder's pid and
the fix. The lock belongs to an open file, so the kernel releases it when the holder exits, however it
exits (SIGKILL, a crash, a reboot): a lock is never stale, and there is nothing to clean up. The lock
file itself stays behind (empty but for the holder's pid); deleting it while a process holds it would
let a third process lock a new file of the same name, so it is never deleted.

Only POSIX systems have flock; where `fcntl` is missing the lock is a no-op.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from gatosuite.errors import GatosuiteError

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]


class BusyError(GatosuiteError, BlockingIOError):
    """Another live process is writing the same dataset or run folder."""


def holder_pid(lock_file: Path) -> int | None:
    """The pid the lock's holder wrote into the lock file, if it got that far."""
    try:
        text = Path(lock_file).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def exclusive(lock_file: Path, what: str, fix: str) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` for the block, or raise BusyError at once (never wait).

    `what` says what the holder is doing ("collecting 'acrobot' into '<root>'") and `fix` what the user can
    do ("wait for it to finish, or use another --root")."""
    lock_file = Path(lock_file)
    if fcntl is None:
        yield
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    f = open(lock_file, "a+")  # noqa: SIM115 - held open for the whole block
    try:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = holder_pid(lock_file)
            holder = f"another process (pid {pid})" if pid else "another process"
            raise BusyError(f"{holder} is {what} (lock '{lock_file}'); {fix}") from None
        _write_pid(f)
        yield
    finally:
        f.close()  # closing the file releases the lock


@contextlib.contextmanager
def waiting(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_file` for the block, waiting for another holder to let go: for writes
    that take milliseconds (a read-merge-write of a small file), where two writers should take turns rather
    than one refuse."""
    lock_file = Path(lock_file)
    if fcntl is None:
        yield
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _write_pid(f) -> None:
    """Record our pid for the error message of a process that finds the lock taken; best effort (a full
    disk must not stop the lock from working: the lock is the flock, not this text)."""
    try:
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
    except OSError:
        pass
