"""gatosuite: a Gato-style generalist agent and the environment suite around it.

The repository root is this package, so its subpackages (`datasets`, `agent`, ...) sit in the root
folder. If that folder were on sys.path (``python -m`` or ``python -c`` started from the repo root
puts it there), a bare ``import datasets`` would find our subpackage instead of the PyPI package of
that name. Importing gatosuite removes the folder from sys.path so bare names keep their usual meaning.
"""

from __future__ import annotations

import os as _os
import sys as _sys

__version__ = "0.1.0"

_HERE = _os.path.dirname(_os.path.abspath(__file__))
_sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or _os.curdir) != _HERE]

# Headless MuJoCo/dm_control rendering must be chosen before mujoco is first imported; a user's own
# choice (e.g. MUJOCO_GL=glfw on a desktop) wins.
_os.environ.setdefault("MUJOCO_GL", "egl")
