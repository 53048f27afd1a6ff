"""Errors the user can fix. The CLI prints any of them as one `error: ...` line and exits with status
EXIT_STATUS (1), with no traceback (set GATOSUITE_DEBUG=1 to see one). Each message says what was wrong and what to do.

Each class also derives from the built-in exception a caller would expect (ValueError, KeyError, ...), so
code that catches those keeps working.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator

EXIT_STATUS = 1
"""The exit status of a command stopped by a known error (what `SystemExit("error: ...")` gives); the CLI
reference (docs/reference/cli.md) says the same, and a test checks both. tyro's own usage errors exit 2."""

INTERRUPTED_STATUS = 130
"""The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it."""

class GatosuiteError(Exception):
    """Base class of every error whose message names the problem and the fix."""

    def __str__(self) -> str:  # KeyError quotes its message; these are sentences
        return str(self.args[0]) if self.args else ""


class ConfigError(GatosuiteError, ValueError):
    """A command-line argument or config value outside its allowed range."""


class UnknownTaskError(GatosuiteError, KeyError):
    """A task id (or tag) that the suite does not have."""


class DataNotFoundError(GatosuiteError, FileNotFoundError):
    """A dataset, checkpoint or file that is not where the command looked."""


class RunExistsError(GatosuiteError, FileExistsError):
    """An output folder that already holds a run."""


class UnknownNameError(GatosuiteError, KeyError):
    """A preset, expert or model family name that is not registered."""


class CorruptFileError(GatosuiteError, ValueError):
    """A file that exists but cannot be read as what it should be."""


class StateError(GatosuiteError, RuntimeError):
    """Something on disk that needs the user's decision first (an interrupted collection, say)."""


class DiskFullError(GatosuiteError, OSError):
    """No space left on the device (or the disk quota is used up) while writing a file. The writer removed
    its partial file, so what was written before (staged chunks, the last checkpoint) is intact."""


NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
RESUME_FIX = "free space on that disk, then rerun the same command with --resume"


def is_no_space(e: BaseException) -> bool:
    """An OSError for a full disk; HDF5 reports it only in its message ("... No space left on device")."""
    if isinstance(e, GatosuiteError) or not isinstance(e, OSError):
        return False
    return e.errno in NO_SPACE or os.strerror(errno.ENOSPC) in str(e)


@contextlib.contextmanager
def disk_full_is_an_error(path: str | os.PathLike, fix: str = RESUME_FIX) -> Iterator[None]:
    """Turn a full disk while writing `path` into a DiskFullError that names it and the fix. The caller
    cleans up its own partial files; this only names the problem."""
    try:
        yield
    except OSError as e:
        if is_no_space(e):
            raise DiskFullError(f"no space left on device while writing '{path}'; {fix}") from e
        raise
