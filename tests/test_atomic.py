"""atomic.py: a JSON record is replaced whole or not at all; a full disk is one error and keeps the old file."""

import errno
import json
import os
from pathlib import Path

import pytest

from gatosuite.atomic import write_json
from gatosuite.errors import DiskFullError


def test_a_record_is_replaced_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "record.json"
    write_json(path, {"a": 1}, "fix")
    write_json(path, {"a": [1.5, None]}, "fix")
    assert json.loads(path.read_text()) == {"a": [1.5, None]} and os.listdir(tmp_path) == ["record.json"]


def test_a_full_disk_names_the_file_and_the_fix_and_keeps_the_old_record(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    write_json(path, {"generation": 3}, "fix")
    real = Path.write_text

    def full(self, *args, **kwargs):
        real(self, "{\"gener", **{k: v for k, v in kwargs.items() if k == "encoding"})  # a partial write
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(DiskFullError, match="record.json'; free space, then resume"):
        write_json(path, {"generation": 4}, "free space, then resume")
    monkeypatch.setattr(Path, "write_text", real)
    assert json.loads(path.read_text()) == {"generation": 3} and os.listdir(tmp_path) == ["record.json"]


def test_nan_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError):
        write_json(tmp_path / "r.json", {"x": float("nan")}, "fix")
    assert not list(tmp_path.iterdir())
