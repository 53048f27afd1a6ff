"""The root-as-package layout must not hijack bare top-level names such as `datasets`."""

import importlib.util
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import gatosuite

REPO = Path(gatosuite.__file__).resolve().parent


def _outside_repo(spec) -> bool:
    return spec is None or not str(Path(spec.origin or "").resolve()).startswith(str(REPO) + "/")


def test_subpackages_import_as_gatosuite_children():
    import gatosuite.agent
    import gatosuite.datasets
    import gatosuite.envs
    import gatosuite.evaluation
    import gatosuite.tokenization  # noqa: F401

    assert Path(gatosuite.datasets.__file__).resolve() == REPO / "datasets" / "__init__.py"


def test_bare_datasets_is_not_ours_in_tests():
    assert _outside_repo(importlib.util.find_spec("datasets"))


def test_bare_datasets_is_not_ours_even_when_run_from_the_repo_root():
    # `python -c` from the repo root puts the root on sys.path; importing gatosuite removes it.
    code = ("import importlib.util, gatosuite; s = importlib.util.find_spec('datasets'); "
            "print(s.origin if s else 'none')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    origin = out.stdout.strip()
    assert origin == "none" or not origin.startswith(str(REPO) + "/"), origin


def test_console_script_is_registered():
    (ep,) = entry_points(group="console_scripts", name="gatosuite")
    assert ep.value == "gatosuite.cli:main"


def test_every_subpackage_is_listed_for_installation():
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    skip = {"tests", "benchmarks", ".venv", "data", "runs"}
    found = {"gatosuite" + "".join("." + part for part in p.parent.relative_to(REPO).parts)
             for p in REPO.rglob("__init__.py") if not skip & set(p.relative_to(REPO).parts)}
    assert found == listed, f"add to or remove from pyproject.toml's packages: {sorted(found ^ listed)}"


def test_only_the_model_families_import_gato_modules():
    """The shared harness (trainer, checkpoints, policy factory, sampler, evaluation, CLI, demo) is
    family-agnostic: outside agent/models/ nothing imports gato's configuration or modeling module. (The
    `moe` family builds on Gato's model on purpose: Gato-MoE is Gato with MoE FFNs.)"""
    import ast

    offenders = []
    for path in REPO.rglob("*.py"):
        rel = path.relative_to(REPO)
        if rel.parts[0] in ("tests", "benchmarks", ".venv", "build") or rel.parts[:2] == ("agent", "models"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any("models.gato" in n and "gato_moe" not in n for n in names):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, offenders
