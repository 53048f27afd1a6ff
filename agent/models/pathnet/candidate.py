"""PathNet's candidates for the evolution driver (evaluation/population.py): train a path T steps, score it.

`run_candidate(job)` switches a PathNet onto the job's path, trains it `job["steps"]` optimizer steps with
the shared trainer (agent/train.py, in a temporary run folder), and returns minus its NLL on fixed
validation windows as the score. Every candidate of a run starts from the same weights (built from
`init_seed`, or loaded from `init_from`: a checkpoint with frozen paths, whose modules a new path reuses as
transfer) and is scored on the same windows (drawn from `eval_seed`), so the two paths of a tournament differ
only in their modules and in what the job's seed draws (the training windows, dropout). torch is seeded
from the job's seed and runs on one thread, so a job gives the same score in this process and in any Ray
worker.

Data: with `root`, the task's collected dataset, tokenized and cached as `gatosuite train` does
(`load_caches`, under the same recipe); without it, synthetic episodes (`synthetic_caches`), for tests and
benchmarks.

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
import functools
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.errors import ConfigError

from .evolution import Tournaments

SMALL = dict(n_layer=2, n_head=2, n_embd=32, ffn=64, modules_per_layer=4, active=2)
"""The default overrides of `nano`: a 2-layer grid of 4 modules (2 active) of width 32, which trains a step in
milliseconds on one core."""
SYNTHETIC_EPISODES = 8
SYNTHETIC_STEPS = 30


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
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core per job: K jobs on K cores
    try:
        with tempfile.TemporaryDirectory(prefix="gatosuite-candidate-") as tmp:
            nll, loss = _train_and_score(job, opts, Path(tmp))
    finally:
        torch.set_num_threads(threads)
    return {"score": -nll, "val_nll": nll, "train_loss": loss, "seconds": time.perf_counter() - t0}


def _train_and_score(job: dict[str, Any], opts: CandidateOptions, tmp: Path) -> tuple[float, float]:
    from gatosuite.agent.checkpoint import load_model, save_checkpoint
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.tokenization import Vocabulary

    steps = int(job["steps"])
    args = TrainArgs(tasks=job["task"], root=Path(opts.root or tmp), out=tmp / "run", model="pathnet",
                     preset=opts.preset, overrides=[f"{k}={v}" for k, v in opts.overrides.items()],
                     window=opts.window, batch_size=opts.batch_size, steps=steps, warmup=max(1, steps // 10),
                     lr=opts.lr, val_every=0, log_every=steps, ckpt_every=10**9, seed=int(job["seed"]),
                     device="cpu", precision="fp32", text_vocab=opts.text_vocab, init_from=tmp / "start")
    text_model, caches = task_data(job["task"], opts.root, opts.text_model, opts.text_vocab, args.obs_norm)
    vocab = Vocabulary(text_model.vocab_size)
    if opts.init_from is not None:
        model, _ = load_model(Path(opts.init_from))
    else:
        from gatosuite.agent.families import get_family

        torch.manual_seed(opts.init_seed)  # every candidate of the run starts from these weights
        model = get_family("pathnet").model(_config(opts, vocab.size, args.overrides))
    model.set_path(job["candidate"]["path"])
    save_checkpoint(tmp / "start", model, text_model)
    summary = train(args, text_model, caches, progress=False)
    return validation_nll(tmp / "run" / "checkpoint", caches, args, opts, vocab), float(summary["loss"])


@torch.no_grad()
def validation_nll(checkpoint: Path, caches: dict[str, Any], args: Any, opts: CandidateOptions,
                   vocab: Any) -> float:
    """Mean masked NLL of the checkpoint on `eval_batches` validation batches drawn from `eval_seed` (the
    trainer's validation split and windows, the same for every candidate)."""
    from gatosuite.agent.batch import collate_tasks, task_vocabulary
    from gatosuite.agent.checkpoint import load_model
    from gatosuite.agent.families import family_of_config
    from gatosuite.datasets.sampler import MixedSampler

    model, _ = load_model(checkpoint)
    model.eval()
    family = family_of_config(model.cfg)
    val = MixedSampler(caches, window=args.window, seed=opts.eval_seed, split="val", prompt_prob=0.0,
                       val_fraction=args.val_fraction, segment_steps=args.segment_length)
    task_vocab = task_vocabulary(model.cfg, val.tasks)
    losses = []
    for _ in range(opts.eval_batches):
        batch = collate_tasks(val.sample_rows(opts.batch_size), vocab, args.window, task_vocab)
        losses.append(float(model(family.adapt(batch, model.cfg))[1]))
    return float(np.mean(losses))


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
    args = TrainArgs(tasks=task, root=Path(root), model="pathnet", obs_norm=obs_norm, text_vocab=text_vocab)
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
