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

import dataclasses
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
class CandidateOptions:
    """The settings every job of a PathNet run shares (EvolveSettings.options, as a dict)."""

    preset: str = "nano"
    """PathNet preset the model is built from (configuration_pathnet.py)."""
    overrides: dict[str, Any] = field(default_factory=lambda: dict(SMALL))
    """Config fields set over the preset (as `gatosuite train --overrides`)."""
    root: str | None = None
    """Dataset root holding the task's collected data (as `gatosuite train --root`); None: synthetic episodes."""
    text_model: str | None = None
    """A SentencePiece `.model` file; None: `gatosuite train`'s default with --root data, or a small model
    trained on the suite's own texts for synthetic episodes."""
    text_vocab: int = 4096
    """Size of the default text model (with `root` and no `text_model`)."""
    init_from: str | None = None
    """A PathNet checkpoint every candidate starts from (its frozen modules stay frozen); None: fresh weights."""
    init_seed: int = 0
    """Seed of the fresh starting weights (the same for every candidate)."""
    eval_seed: int = 1
    """Seed of the validation windows every candidate is scored on."""
    window: int = 64
    """Tokens per training and validation window (the model's context)."""
    batch_size: int = 4
    lr: float = 1e-3
    eval_batches: int = 2
    """Validation batches the score averages over."""

    def __post_init__(self) -> None:
        if self.window < 8 or self.batch_size < 1 or self.eval_batches < 1 or not self.lr > 0:
            raise ConfigError(f"a candidate needs window >= 8, batch_size and eval_batches >= 1 and lr > 0 (got "
                              f"{self.window}, {self.batch_size}, {self.eval_batches}, {self.lr})")

    def data(self) -> CandidateData:
        return CandidateData(self.root, self.text_model, self.text_vocab, self.window, self.batch_size, self.eval_seed,
                             self.eval_batches)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CandidateOptions:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown PathNet candidate option {', '.join(unknown)}; known: "
                              f"{', '.join(sorted(names))}")
        return cls(**d)

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

    data = opts.data()
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
