"""Shared fixtures. Tests never write into the user's ~/.cache: trained text models go to a temp dir."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import settings

settings.register_profile("default", deadline=None, max_examples=60)
settings.load_profile("default")


def pytest_configure(config: pytest.Config) -> None:
    os.environ["GATOSUITE_CACHE"] = tempfile.mkdtemp(prefix="gatosuite-test-cache-")
    os.environ.setdefault("MUJOCO_GL", "egl")
    # Tests run on the CPU, also on a machine with a GPU: `--device auto` would otherwise move models to
    # it, where TF32 convolutions and other kernels change numerics that tests compare to 1e-4. The GPU
    # path is exercised by benchmarks/bench_gpu.py. Set before anything initializes CUDA.
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    # Under pytest-xdist (make test), the workers share the cores: each gets its share of threads, set before
    # torch is imported (it reads OMP_NUM_THREADS once) and inherited by the subprocesses tests start.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
    # The default precision stays `auto` (measured per machine), so both paths run across machines;
    # GATOSUITE_PRECISION, when set, is honoured.


@pytest.fixture(scope="session")
def text_model():
    """A small SentencePiece model trained on the suite's own texts plus a few lines (about 1 s)."""
    from gatosuite.tokenization.corpus import suite_texts
    from gatosuite.tokenization.text import train_text_model

    extra = ["the quick brown fox jumps over the lazy dog", "Return the number of items in the list.",
             "what colour is the box?", "a red ball and a grey key"] * 20
    return train_text_model(list(suite_texts()) + extra, vocab_size=400)


UNIT_TIER_METAWORLD = "mw-reach"
"""Building a Meta-World env takes about a second, against milliseconds for the other suites: the unit tier
(`make test-fast`, `-m "not slow"`) runs each env test parameterized over tasks on this one Meta-World task
and leaves the others to `make test`."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        params = getattr(item, "callspec", None)
        task = params.params.get("task_id") if params else None
        if isinstance(task, str) and task.startswith("mw-") and task != UNIT_TIER_METAWORLD:
            item.add_marker(pytest.mark.slow)
