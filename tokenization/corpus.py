"""The default text corpus, built at run time with no network and nothing copied into the repo.

Three sources, in order:
  1. docstrings of the installed Python standard library, read with `ast` (no module is imported, so
     nothing runs: `antigravity` does not open a browser);
  2. the suite's own texts: instructions and captions, from generators registered with
     :func:`register_text_source` (the env and caption modules add theirs);
  3. any `.txt` files the user passes.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from gatosuite.errors import CorruptFileError, DataNotFoundError

TEXT_SOURCES: dict[str, Callable[[], Iterable[str]]] = {}
"""Registered generators of the suite's own texts, by name."""

_SKIP_DIRS = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__", "turtledemo"}


def register_text_source(name: str) -> Callable[[Callable[[], Iterable[str]]], Callable[[], Iterable[str]]]:
    """Decorator: add a generator of suite texts (missions, captions, QA) to the default corpus."""

    def wrap(fn: Callable[[], Iterable[str]]) -> Callable[[], Iterable[str]]:
        if name in TEXT_SOURCES and TEXT_SOURCES[name] is not fn:
            raise ValueError(f"text source '{name}' is already registered")
        TEXT_SOURCES[name] = fn
        return fn

    return wrap


COLORS = ("red", "green", "blue", "purple", "yellow", "grey")
OBJECTS = ("ball", "box", "key")
LOCATIONS = ("", " on your left", " on your right", " in front of you", " behind you")


@register_text_source("instruction-grammar")
def instruction_grammar() -> Iterator[str]:
    """BabyAI-style instructions from its grammar (verbs, objects, locations, connectors)."""
    things = [f"{c} {o}" for c in COLORS for o in OBJECTS + ("door",)] + list(OBJECTS) + ["door"]
    for t in things:
        for det in ("the", "a"):
            for loc in LOCATIONS:
                yield f"go to {det} {t}{loc}"
                if not t.endswith("door"):
                    yield f"pick up {det} {t}{loc}"
                else:
                    yield f"open {det} {t}{loc}"
    for a, b in itertools.permutations([t for t in things if not t.endswith("door")], 2):
        yield f"put the {a} next to the {b}"
    for c1, c2 in itertools.product(COLORS, repeat=2):
        for o1, o2 in itertools.product(OBJECTS, repeat=2):
            yield f"pick up a {c1} {o1}, then go to the {c2} {o2}"
            yield f"go to the {c1} {o1} and pick up a {c2} {o2}"
            yield f"open a {c1} door after you put the {c2} {o2} next to a {c1} {o1}"


NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six")
PLURALS = {"ball": "balls", "box": "boxes", "key": "keys", "door": "doors"}


@register_text_source("caption-grammar")
def caption_grammar() -> Iterator[str]:
    """Every caption, question and answer form the BabyAI caption/VQA data uses (datasets/captions.py)."""
    for c in COLORS:
        for o in OBJECTS + ("door",):
            yield f"a {c} {o}"
            yield f"what colour is the {o}? {c}"
    for o in OBJECTS + ("door",):
        for n, word in enumerate(NUMBER_WORDS):
            yield f"how many {PLURALS[o]} are there? {word}"
    yield "nothing but walls"


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_docstrings(root: Path | None = None) -> Iterator[str]:
    """Non-empty lines of every module, class and function docstring in the standard library."""
    root = root or stdlib_dir()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            try:
                tree = ast.parse(Path(dirpath, name).read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue  # a few stdlib files are deliberately broken test data
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc:
                        yield from (ln.strip() for ln in doc.splitlines() if len(ln.strip()) > 2)


def suite_texts() -> Iterator[str]:
    for name in sorted(TEXT_SOURCES):
        yield from TEXT_SOURCES[name]()


def read_txt_files(paths: Iterable[str | os.PathLike]) -> Iterator[str]:
    """Lines of the user's .txt files; a missing or non-UTF-8 file is a clear error."""
    for p in paths:
        path = Path(p)
        if not path.is_file():
            raise DataNotFoundError(f"text corpus file '{path}' does not exist; pass existing .txt files")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise CorruptFileError(f"text corpus file '{path}' is not UTF-8 ({e}); re-encode it as UTF-8") from e
        yield from (ln.strip() for ln in text.splitlines() if ln.strip())


def corpus_key(extra_txt: Iterable[str | os.PathLike] = (), include_stdlib: bool = True) -> str:
    """A fingerprint of the corpus that changes whenever its content could: the Python version (which
    fixes the stdlib), the suite texts, and the bytes of the user's files."""
    h = hashlib.sha256()
    h.update(f"{sys.version}|{stdlib_dir()}|{include_stdlib}".encode())
    for line in suite_texts():
        h.update(line.encode() + b"\n")
    for p in extra_txt:
        h.update(Path(p).read_bytes() if Path(p).is_file() else str(p).encode())
    return h.hexdigest()[:16]


def default_corpus(extra_txt: Iterable[str | os.PathLike] = (), include_stdlib: bool = True) -> Iterator[str]:
    """All lines of the default corpus: suite texts first, then the user's files, then the stdlib."""
    yield from suite_texts()
    yield from read_txt_files(extra_txt)
    if include_stdlib:
        yield from stdlib_docstrings()
