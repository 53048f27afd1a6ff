"""envs/reference.py: reference rows merge into one file, also from two measurements at once."""

import json
import subprocess
import sys

WRITER = """
import sys
from pathlib import Path
from gatosuite.envs.reference import update_reference_file
for i in range(30):
    update_reference_file({f"{sys.argv[2]}-{i}": {"expert": i}}, Path(sys.argv[1]))
"""


def test_two_writers_at_once_lose_no_rows(tmp_path):
    path = tmp_path / "refs.json"
    path.write_text(json.dumps({"kept": {"expert": 1}}))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in ("a", "b")]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    data = json.loads(path.read_text())
    assert set(data) == {"kept"} | {f"{n}-{i}" for n in "ab" for i in range(30)}
    assert not list(tmp_path.glob("*.tmp"))


def test_rebar_rejudges_stored_rows_against_todays_bars(tmp_path):
    """A changed bar changes a stored verdict; the measured numbers and other rows stay as they were."""
    from gatosuite.envs import SUITE
    from gatosuite.envs.reference import rebar

    task = SUITE["dmc-cartpole-swingup"]  # bar 876 (published), expert measured below it
    path = tmp_path / "refs.json"
    stale = {"expert": 840.2, "random": 26.5, "metric": "return", "bar": 800, "bar_met": True}
    path.write_text(json.dumps({task.id: stale, "other": {"expert": 1}}))
    assert rebar([task], path) == [task.id]
    data = json.loads(path.read_text())
    assert data[task.id] == {**stale, "bar": task.bar, "bar_met": False}
    assert data["other"] == {"expert": 1}
    assert rebar([task], path) == []  # judged once: nothing left to change
