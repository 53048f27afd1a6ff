"""The documentation: the README stays a front door, its links and the site's links resolve, every table is
what its JSON gives, and the code in the README and the guides runs."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _tables():
    spec = importlib.util.spec_from_file_location("tables", REPO / "benchmarks" / "tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_readme_is_a_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    assert "make demo" in text and "make test" in text
    assert not re.search(r"\d+ passed", text), "test-suite times do not belong in the README"


@pytest.mark.parametrize("page", ["README.md", "CHANGELOG.md"])
def test_relative_links_resolve(page):
    text = (REPO / page).read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    targets = [link for link in links if "://" not in link]
    assert targets, f"{page} links to nothing"
    missing = [t for t in targets if not (REPO / t).exists()]
    assert not missing, missing


def test_every_table_is_what_its_json_gives():
    tables = _tables()
    assert tables.stale() == []


def test_an_empty_or_hand_edited_table_is_stale(tmp_path):
    tables = _tables()
    page = tmp_path / "page.md"
    page.write_text("<!-- table:tokenizer-speed -->\n<!-- /table -->\n")
    assert tables.stale([page]) == [f"{page}: tokenizer-speed"]
    page.write_text(tables.render(page.read_text(), {}))
    assert tables.stale([page]) == []
    page.write_text(page.read_text().replace("×", "x", 1))  # one character of the table edited by hand
    assert tables.stale([page]) == [f"{page}: tokenizer-speed"]


def test_an_unknown_table_name_is_an_error(tmp_path):
    tables = _tables()
    with pytest.raises(KeyError, match="unknown table 'nope'"):
        tables.render("<!-- table:nope -->\n<!-- /table -->\n", {})


def test_every_experiment_page_keeps_its_date_machine_and_command():
    pages = sorted((REPO / "docs" / "experiments").glob("*.md"))
    assert len(pages) >= 9
    for page in pages:
        if page.name == "index.md":
            continue
        head = page.read_text()[:1500]
        for field in ("**Date:**", "**Machine:**", "**Command:**"):
            assert field in head, f"{page.name} lacks {field}"


def test_the_site_builds_with_strict_links(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    out = subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=REPO,
                         capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "faults" / "index.html").is_file()


def _run_python_blocks(page: Path, cwd: Path, replace: dict[str, str] | None = None) -> str:
    """Run a page's ```python blocks, in order, as one script in a fresh process in `cwd`; its stdout."""
    code = "\n".join(PYTHON_BLOCK.findall(page.read_text()))
    for old, new in (replace or {}).items():
        assert old in code, f"{page.name} no longer holds {old!r}"
        code = code.replace(old, new)
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=900,
                         env={**os.environ, "MUJOCO_GL": "egl"})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_the_readme_python_example_acts_in_gymnasium(tmp_path, text_model):
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.datasets.collect import collect

    collect("cartpole", 6, tmp_path, noise=0.2, progress=False)
    train(TrainArgs(tasks="cartpole", root=tmp_path, out=tmp_path / "run", window=60, batch_size=4, steps=3,
                    val_every=0), text_model, progress=False)
    example = README.read_text().split("<!-- example:python -->")[1].split("<!-- /example -->")[0]
    page = tmp_path / "example.md"
    page.write_text(example)
    out = _run_python_blocks(page, tmp_path, {"runs/cartpole/checkpoint": str(tmp_path / "run" / "checkpoint")})
    returns = [float(x) for line in out.splitlines() if line.startswith("returns:")
               for x in line.split(":", 1)[1].strip(" []").split()]
    assert returns and all(r >= 1 for r in returns)  # finished CartPole episodes, each at least one step long


@pytest.mark.slow
@pytest.mark.parametrize("guide", ["adding-a-task.md", "adding-a-model-family.md"])
def test_a_guides_code_runs(tmp_path, guide):
    _run_python_blocks(REPO / "docs" / "guides" / guide, tmp_path)
