"""Training and scoring one candidate of an evolution (evaluation/population.py), for any family.

A family's `evolution` binding (agent/families.py) builds a candidate's starting model; this module trains it
T optimizer steps with the shared trainer (agent/train.py, in a temporary run folder) and measures its masked
NLL on validation windows that are the same for every candidate of a run. torch runs on one thread in a job,
so a job gives the same score in this process and in any Ray worker.

Data: with a dataset root, the task's collected dataset, tokenized and cached as `gatosuite train` does
(`load_caches`); without one, synthetic episodes (`synthetic_caches`), for tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.errors import ConfigError

SYNTHETIC_EPISODES = 8
SYNTHETIC_STEPS = 30


@dataclass(frozen=True)
class CandidateData:
    """Where a candidate's data comes from and how it is windowed and scored, the same for a whole run: the
    fields every evolving family's job options share (each family's options class extends it)."""

    root: str | None = None
    """Dataset root holding the task's collected data (as `gatosuite train --root`); None: synthetic episodes."""
    text_model: str | None = None
    """A SentencePiece `.model` file; None: `gatosuite train`'s default with a root, or a small model trained
    on the suite's own texts for synthetic episodes."""
    text_vocab: int = 4096
    """Size of the default text model (with `root` and no `text_model`)."""
    window: int = 64
    """Tokens per training and validation window (the model's context)."""
    batch_size: int = 4
    eval_seed: int = 1
    """Seed of the validation windows every candidate is scored on."""
    eval_batches: int = 2
    """Validation batches the score averages over."""

    def __post_init__(self) -> None:
        if self.window < 8 or self.batch_size < 1 or self.eval_batches < 1:
            raise ConfigError(f"a candidate needs window >= 8 and batch_size and eval_batches >= 1 (got "
                              f"{self.window}, {self.batch_size}, {self.eval_batches})")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """The options from a job's plain JSON; an unknown field is one error naming the known ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} field {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**d)


@contextmanager
def one_thread() -> Iterator[None]:
    """One core per job: K jobs on K cores, and the same floating-point order everywhere."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def candidate_args(start: Path, out: Path, task: str, data: CandidateData, steps: int, seed: int, lr: float,
                   model: str, preset: str = "nano", overrides: tuple[str, ...] = ()) -> Any:
    """The shared trainer's arguments for T = `steps` steps on `task` from the checkpoint `start` into `out`,
    under the default recipe (its overrides merged into `overrides`, as `gatosuite train` merges them)."""
    from gatosuite.agent.train import TrainArgs

    return TrainArgs(tasks=task, root=Path(data.root or out), out=out, model=model, preset=preset,
                     overrides=list(overrides), window=data.window, batch_size=data.batch_size, steps=steps,
                     warmup=max(1, steps // 10), lr=lr, val_every=0, log_every=steps, ckpt_every=10**9, seed=seed,
                     device="cpu", precision="fp32", text_vocab=data.text_vocab, init_from=start)


def data_for(args: Any, data: CandidateData) -> tuple[Any, dict[str, Any]]:
    """(text model, token caches) of the run `args` describes (cached per process)."""
    return task_data(args.tasks, data.root, data.text_model, data.text_vocab, args.obs_norm)


def train_steps(args: Any, text_model: Any, caches: dict[str, Any]) -> float:
    """Train as `args` says; the final training loss."""
    from gatosuite.agent.train import train

    return float(train(args, text_model, caches, progress=False)["loss"])


@torch.no_grad()
def validation_nll(model: Any, caches: dict[str, Any], data: CandidateData, vocab: Any, val_fraction: float = 0.1,
                   segment_steps: int | None = None) -> float:
    """Mean masked NLL of `model` on `eval_batches` validation batches drawn from `eval_seed` (the trainer's
    validation split and windows, the same for every candidate)."""
    from gatosuite.agent.batch import collate_tasks, task_vocabulary
    from gatosuite.agent.families import family_of_config
    from gatosuite.datasets.sampler import MixedSampler

    model.eval()
    family = family_of_config(model.cfg)
    val = MixedSampler(caches, window=data.window, seed=data.eval_seed, split="val", prompt_prob=0.0,
                       val_fraction=val_fraction, segment_steps=segment_steps)
    task_vocab = task_vocabulary(model.cfg, val.tasks)
    losses = []
    for _ in range(data.eval_batches):
        batch = collate_tasks(val.sample_rows(data.batch_size), vocab, data.window, task_vocab)
        losses.append(float(model(family.adapt(batch, model.cfg))[1]))
    return float(np.mean(losses))


def checkpoint_nll(checkpoint: Path, caches: dict[str, Any], data: CandidateData, args: Any, text_model: Any) -> float:
    """`validation_nll` of a checkpoint, with the trainer's validation split and segments."""
    from gatosuite.agent.checkpoint import load_model
    from gatosuite.tokenization import Vocabulary

    model, _ = load_model(checkpoint)
    return validation_nll(model, caches, data, Vocabulary(text_model.vocab_size), args.val_fraction,
                          args.segment_length)


@functools.lru_cache(maxsize=4)
def task_data(task: str, root: str | None, text_model: str | None, text_vocab: int,
              obs_norm: bool) -> tuple[Any, dict[str, Any]]:
    """(text model, token caches) a worker trains its candidates on, read once per process."""
    from gatosuite.tokenization import TextModel

    if root is None:
        from gatosuite.tokenization.corpus import suite_texts
        from gatosuite.tokenization.text import train_text_model

        text = TextModel.load(text_model) if text_model else train_text_model(list(suite_texts()), vocab_size=400)
        folder = Path(tempfile.mkdtemp(prefix="gatosuite-synthetic-"))
        try:  # the cache's arrays are memory-mapped, so its files can go at once (a Ray worker may die unwarned)
            return text, synthetic_caches(task, folder, text.vocab_size)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    from gatosuite.agent.train import TrainArgs, load_caches
    from gatosuite.tokenization.text import default_text_model

    text = TextModel.load(text_model) if text_model else default_text_model(text_vocab)
    args = TrainArgs(tasks=task, root=Path(root), obs_norm=obs_norm, text_vocab=text_vocab)
    return text, load_caches(args, text)


def synthetic_caches(task: str, folder: Path, text_vocab: int) -> dict[str, Any]:
    """A token cache of SYNTHETIC_EPISODES seeded episodes in cartpole's shapes (a 4-d state, 2 actions) whose
    action is whether the state's first entry is positive, filed under `task` whatever its real spaces: there
    is something to learn, and no simulator or dataset is needed."""
    from gymnasium import spaces

    from gatosuite.datasets.cache import write_cache
    from gatosuite.tokenization import Tokenizer, Vocabulary

    tok = Tokenizer.from_spaces(spaces.Box(-np.inf, np.inf, (4,), np.float32), spaces.Discrete(2),
                                vocab=Vocabulary(text_vocab))
    rng = np.random.default_rng(0)
    seqs = []
    for _ in range(SYNTHETIC_EPISODES):
        obs = rng.normal(size=(SYNTHETIC_STEPS, 4)).astype(np.float32)
        seqs.append(tok.encode_episode(obs, (obs[:, 0] > 0).astype(np.int64)))
    return {task: write_cache(folder / task, seqs, {"task": task,
                                                    "tokens_per_timestep": tok.spec.tokens_per_timestep})}
