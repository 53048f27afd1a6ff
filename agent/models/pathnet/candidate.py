"""PathNet's candidates for the evolution driver (evaluation/population.py): train a path T steps, score it.

`run_candidate(job)` switches a PathNet onto the job's path, trains it `job["steps"]` optimizer steps with
the shared trainer (agent/train.py, in a temporary run folder), and returns minus its NLL on fixed
validation windows as the score (agent/candidate_training.py, shared with muNet's binding: the data, the
T steps and the score). Every candidate of a run starts from the same weights (built from `init_seed`, or
loaded from `init_from`: a checkpoint with frozen paths, whose modules a new path reuses as transfer) and is
scored on the same windows (drawn from `eval_seed`), so the two paths of a tournament differ only in their
modules and in what the job's seed draws (the training windows, dropout).

Not done here: the paper keeps training the shared modules as tournaments go on; here a candidate's trained
weights are dropped once it is scored, so what evolves is which of the starting (or frozen) modules a path
uses.

`options(...)` and `strategy(...)` make a run's job options and starting population (with `run_candidate`,
the family's `evolution` binding, agent/families.py). `distance_candidate(job)` scores a path with no
training at all (minus its distance to a target path, plus seeded noise): a driver is checked with it in
milliseconds.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.agent.candidate_training import (
    CandidateData,
    candidate_args,
    checkpoint_nll,
    data_for,
    one_thread,
    train_steps,
)
from gatosuite.errors import ConfigError

from .evolution import Tournaments

SMALL = dict(n_layer=2, n_head=2, n_embd=32, ffn=64, modules_per_layer=4, active=2)
"""The default overrides of `nano`: a 2-layer grid of 4 modules (2 active) of width 32, which trains a step in
milliseconds on one core."""


@dataclass(frozen=True)
class CandidateOptions(CandidateData):
    """The settings every job of a PathNet run shares (EvolveSettings.options, as a dict): the data and scoring
    fields of CandidateData, and the model's."""

    preset: str = "nano"
    """PathNet preset the model is built from (configuration_pathnet.py)."""
    overrides: dict[str, Any] = field(default_factory=lambda: dict(SMALL))
    """Config fields set over the preset (as `gatosuite train --overrides`)."""
    init_from: str | None = None
    """A PathNet checkpoint every candidate starts from (its frozen modules stay frozen); None: fresh weights."""
    init_seed: int = 0
    """Seed of the fresh starting weights (the same for every candidate)."""
    lr: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.lr > 0:
            raise ConfigError(f"a candidate's learning rate must be positive, got {self.lr}")

    def path_shape(self) -> tuple[int, int, int]:
        """(L, N, M) of the model's paths: layers, modules a path switches on per layer, modules per layer."""
        if self.init_from is not None:
            from gatosuite.agent.checkpoint import config_of

            cfg = config_of(Path(self.init_from))
        else:
            cfg = _config(self, vocab_size=1)
        return cfg.n_layer, cfg.active, cfg.modules_per_layer


def options(**fields: Any) -> dict[str, Any]:
    """The jobs' options (CandidateOptions' fields, checked) as plain JSON, for EvolveSettings.options."""
    return CandidateOptions(**fields).to_dict()


def strategy(options: dict[str, Any], size: int, parallel: int, seed: int) -> Tournaments:
    """A population of `size` random paths of the options' shape, with `parallel` tournaments a generation."""
    return Tournaments.random(size, parallel, CandidateOptions.from_dict(options).path_shape(), seed)


def _config(opts: CandidateOptions, vocab_size: int, overrides: list[str] | None = None) -> Any:
    from gatosuite.agent.families import get_family
    from gatosuite.agent.train import parse_overrides

    family = get_family("pathnet")
    given = parse_overrides(overrides, family.config) if overrides is not None else dict(opts.overrides)
    return family.build(opts.preset, vocab_size, **{"context": opts.window, **given})


def distance_candidate(job: dict[str, Any]) -> dict[str, Any]:
    """Score = minus the L1 distance of the job's path to options["target"], plus options["noise"] (default 0)
    times a normal draw from the job's seed. No training: for checking an evolution driver."""
    path = np.asarray(job["candidate"]["path"], dtype=np.int64)
    target = np.asarray(job["options"]["target"], dtype=np.int64)
    noise = float(job["options"].get("noise", 0.0)) * np.random.default_rng(job["seed"]).normal()
    return {"score": -float(np.abs(path - target).sum()) + noise}


def run_candidate(job: dict[str, Any]) -> dict[str, Any]:
    """Train the job's path `job["steps"]` steps on `job["task"]` and score it: {"score": -val_nll, "val_nll",
    "train_loss", "seconds"}."""
    t0 = time.perf_counter()
    opts = CandidateOptions.from_dict(job["options"])
    with one_thread(), tempfile.TemporaryDirectory(prefix="gatosuite-candidate-") as tmp:
        nll, loss = _train_and_score(job, opts, Path(tmp))
    return {"score": -nll, "val_nll": nll, "train_loss": loss, "seconds": time.perf_counter() - t0}


def _train_and_score(job: dict[str, Any], opts: CandidateOptions, tmp: Path) -> tuple[float, float]:
    from gatosuite.agent.checkpoint import load_model, save_checkpoint

    data = opts
    args = candidate_args(tmp / "start", tmp / "run", job["task"], data, int(job["steps"]), int(job["seed"]),
                          opts.lr, "pathnet", opts.preset, tuple(f"{k}={v}" for k, v in opts.overrides.items()))
    text_model, caches = data_for(args, data)
    if opts.init_from is not None:
        model, _ = load_model(Path(opts.init_from))
    else:
        from gatosuite.agent.families import get_family

        torch.manual_seed(opts.init_seed)  # every candidate of the run starts from these weights
        from gatosuite.tokenization import Vocabulary

        vocab_size = Vocabulary(text_model.vocab_size).size
        model = get_family("pathnet").model(_config(opts, vocab_size, args.overrides))
    model.set_path(job["candidate"]["path"])
    save_checkpoint(tmp / "start", model, text_model)
    loss = train_steps(args, text_model, caches)
    return checkpoint_nll(tmp / "run" / "checkpoint", caches, data, args, text_model), loss
