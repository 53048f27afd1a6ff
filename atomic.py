"""Writing a small JSON record so that a reader, or a resumed run, sees the old file or the new one, whole."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gatosuite.errors import disk_full_is_an_error


def write_json(path: Path, obj: Any, fix: str, indent: int = 1) -> None:
    """`obj` as JSON (no NaN) into `path`, through a temporary file in its folder and os.replace; a full disk
    is one error naming `fix` (what to do after freeing space), and the old file stays as it was."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with disk_full_is_an_error(path, fix):
            tmp.write_text(json.dumps(obj, indent=indent, allow_nan=False))
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
