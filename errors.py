"""Errors the user can fix. The CLI prints any of them as one `error: ...` line and exits with status 2,
with no traceback (set GATOSUITE_DEBUG=1 to see one). Each message says what was wrong and what to do.

Each class also derives from the built-in exception a caller would expect (ValueError, KeyError, ...), so
code that catches those keeps working.
"""

from __future__ import annotations


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
