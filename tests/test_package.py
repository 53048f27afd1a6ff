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


def test_only_the_model_families_import_a_familys_modules():
    """The shared harness (trainer, checkpoints, policies, sampler, evaluation, CLI, demo) and the benchmarks
    are family-agnostic: outside agent/models/ nothing imports a family's package (they go through the
    registry, agent/families.py). Inside, a family may build on another's modules on purpose (Gato-MoE is
    Gato with MoE FFNs; the encoder-decoders subclass Gato's config for its input fields)."""
    import ast

    offenders = []
    for path in REPO.rglob("*.py"):
        rel = path.relative_to(REPO)
        if rel.parts[0] in ("tests", ".venv", "build") or rel.parts[:2] == ("agent", "models"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(n.startswith("gatosuite.agent.models.") and n != "gatosuite.agent.models.config_base"
                   for n in names):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, offenders


KNOWN_CYCLES: list[set[str]] = []
"""Import cycles inside the package that are accepted for now, each with the reason (none today)."""


def _package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name (the repo root is `gatosuite`), tests and scripts aside."""
    out = {}
    for path in REPO.rglob("*.py"):
        rel = path.relative_to(REPO)
        if rel.parts[0] in ("tests", "benchmarks", "build", "data", "runs", "docs") or rel.parts[0].startswith("."):
            continue
        parts = rel.with_suffix("").parts
        out[".".join(("gatosuite",) + (parts[:-1] if parts[-1] == "__init__" else parts))] = path
    return out


def _intra_package_imports(name: str, path: Path, modules: dict[str, Path]) -> set[tuple[str, str | None]]:
    """(module, imported name or None) of every import of another package module, at any depth (a function's
    deferred import closes a cycle at call time as well), except under `if TYPE_CHECKING:`, which never runs."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in
                   ast.unparse(node.test) for n in ast.walk(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out |= {(a.name, None) for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join(base + [node.module] if node.module else base) if node.level else node.module or ""
            for a in node.names:
                if f"{source}.{a.name}" in modules:  # `from package import module`
                    out.add((f"{source}.{a.name}", None))
                elif source in modules:
                    out.add((source, a.name))
    return out


def test_no_import_cycles_and_no_private_names_across_modules():
    """Parsed, not imported: the graph of imports between the package's modules has no cycle (two modules
    that need each other share a third), and no module takes another's `_private` name (what two modules
    share is public in the module that owns it)."""
    modules = _package_modules()
    graph = {m: _intra_package_imports(m, p, modules) for m, p in modules.items()}
    private = sorted(f"{m} imports {n} from {src}" for m, imports in graph.items() for src, n in imports
                     if n and n.startswith("_") and not n.startswith("__") and src != m)
    assert not private, private
    edges = {m: {src for src, _ in imports if src != m} for m, imports in graph.items()}
    cycles = []
    for start in sorted(edges):  # a cycle through `start`: a path from one of its imports back to it
        seen, stack = set(), [(dep, [start, dep]) for dep in sorted(edges[start])]
        while stack:
            node, path = stack.pop()
            if node == start:
                cycles.append(path)
            elif node not in seen:
                seen.add(node)
                stack.extend((dep, path + [dep]) for dep in sorted(edges.get(node, ())))
    unknown = {frozenset(c): " -> ".join(c) for c in cycles if set(c) not in KNOWN_CYCLES}
    assert not unknown, f"import cycles (move what both sides need into a third module): {sorted(unknown.values())}"
