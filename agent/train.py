"""`gatosuite train`: masked-NLL training of the Gato model on a mix of tasks.

AdamW with warmup + cosine decay, gradient clipping, bf16 autocast on CPU, optional torch.compile. A run
is bounded by --steps and/or --minutes, logs to TensorBoard and CSV (loss per modality and per domain,
validation NLL, throughput, the share of step time spent on data), and checkpoints atomically; --resume
continues from the last checkpoint exactly (model, optimizer, schedule step, sampler and torch RNG).
"""

from __future__ import annotations

import csv
import math
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gatosuite.datasets.cache import TokenCache
from gatosuite.datasets.sampler import MixedSampler
from gatosuite.envs import SUITE
from gatosuite.tokenization import TextModel, TokenKind, Vocabulary

from .batch import collate
from .checkpoint import load_model, load_trainer_state, save_checkpoint
from .configuration_gato import GatoConfig, preset
from .modeling_gato import GatoModel


@dataclass
class TrainArgs:
    """Train one Gato model on a mix of tasks (`gatosuite train`)."""

    tasks: str = "train"
    """Task selector (ids, tags, 'train'); env tasks need a collected dataset under --root."""
    root: Path = Path("data")
    """Where `gatosuite collect` put datasets and token caches."""
    out: Path = Path("runs/train")
    """Run folder: checkpoint/, train.csv, tensorboard/."""
    preset: str = "nano"
    """Model preset: nano, tiny, small, gato-79m."""
    window: int = 256
    """Tokens per training window (the model's context)."""
    batch_size: int = 16
    """Windows per optimizer step."""
    lr: float = 1e-3
    """Peak learning rate."""
    min_lr_ratio: float = 0.1
    """Cosine decay ends at lr * min_lr_ratio."""
    warmup: int = 100
    """Linear warmup steps."""
    steps: int = 2000
    """Optimizer steps (the cosine schedule's length)."""
    minutes: float | None = None
    """Stop after this many minutes even if --steps is not reached."""
    weight_decay: float = 0.1
    """AdamW weight decay on matrices (not on norms, biases or embeddings)."""
    grad_clip: float = 1.0
    """Clip the global gradient norm."""
    bf16: bool = True
    """bf16 autocast (1.4-1.7x faster on this AMX CPU)."""
    compile: bool = False
    """torch.compile the model (first compile takes ~15-25 s)."""
    seed: int = 0
    """Seed for weights, sampling and dropout."""
    log_every: int = 20
    """Steps between log rows."""
    val_every: int = 200
    """Steps between validation NLL measurements (0: never)."""
    val_batches: int = 4
    """Batches per validation measurement."""
    ckpt_every: int = 200
    """Steps between checkpoints (one is always written at the end)."""
    resume: bool = False
    """Continue the run in --out from its checkpoint."""
    text_vocab: int = 4096
    """SentencePiece vocabulary size."""
    allow_heldout: list[str] = field(default_factory=list)
    """Held-out task ids allowed into this mix (named explicitly)."""
    stop_at: int | None = None
    """Stop after this step while the schedule still spans --steps (train in slices with --resume)."""
    init_from: Path | None = None
    """Start from this checkpoint's weights (fine-tuning); its shape and tokenizer are kept."""
    val_fraction: float = 0.1
    """Share of each task's episodes held out for validation NLL; 0 trains on every episode."""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.window < 8:
            raise ValueError("steps and batch_size must be >= 1 and window >= 8")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


def lr_at(step: int, args: TrainArgs) -> float:
    """Linear warmup to args.lr, then cosine decay to args.lr * min_lr_ratio at args.steps."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def load_caches(args: TrainArgs, text_model: TextModel) -> dict[str, TokenCache]:
    """Token caches of the selected tasks that have data; held-out tasks only if allowed."""
    from gatosuite.datasets import minari_store
    from gatosuite.datasets.cache import open_cache, task_tokenizer
    from gatosuite.datasets.captions import build_caption_cache
    from gatosuite.datasets.text_data import build_text_cache

    caches = {}
    for task in SUITE.select(args.tasks):
        if task.heldout and task.id not in args.allow_heldout:
            continue
        if task.domain == "text":
            caches[task.id] = build_text_cache(args.root, text_model)
        elif task.domain == "caption":
            caches[task.id] = build_caption_cache(args.root, text_model)
        elif (minari_store.dataset_dir(args.root, task.id) / "data").is_dir():
            caches[task.id] = open_cache(args.root, task.id, task_tokenizer(task.id, text_model))
    if not caches:
        raise FileNotFoundError(f"no training data for '{args.tasks}' under '{args.root}'; collect some first: "
                                f"gatosuite collect --task {args.tasks} --root {args.root}")
    return caches


def _param_groups(model: GatoModel, weight_decay: float) -> list[dict[str, Any]]:
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and not n.startswith(("tok.", "pos.", "local.",
                                                                                          "row.", "col."))]
    keep = [p for n, p in model.named_parameters() if not any(p is q for q in decay)]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]


def modalities(caches: dict[str, TokenCache]) -> list[str]:
    """Names of the token kinds present in the training data; a policy refuses a task that needs others."""
    counts = sum(np.bincount(np.asarray(c.arrays["kinds"]), minlength=len(TokenKind)) for c in caches.values())
    return sorted(TokenKind(k).name.lower() for k in np.flatnonzero(counts) if k != TokenKind.PAD)


def train(args: TrainArgs, text_model: TextModel | None = None, caches: dict[str, TokenCache] | None = None,
          progress: bool = True, cfg: GatoConfig | None = None) -> dict[str, Any]:
    """Run training; returns a summary (final step, last losses, tokens/s). `cfg` overrides the preset
    (e.g. a model of another run's shape, trained from scratch)."""
    from gatosuite.tokenization import default_text_model

    rank, world = _init_distributed()
    if args.batch_size % world:
        raise ValueError(f"--batch-size {args.batch_size} must be divisible by the {world} processes")
    text_model = text_model or default_text_model(args.text_vocab)
    vocab = Vocabulary(text_model.vocab_size)
    caches = caches or load_caches(args, text_model)
    torch.manual_seed(args.seed)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
    base = None
    if args.init_from is not None:
        base, _ = load_model(Path(args.init_from))
        cfg = base.cfg
    cfg = cfg or preset(args.preset, vocab.size, context=args.window)
    if args.window > cfg.context:
        raise ValueError(f"--window {args.window} exceeds the model's context of {cfg.context}")
    if cfg.vocab_size != vocab.size:
        raise ValueError(f"the model has {cfg.vocab_size} token ids but the text model gives {vocab.size}; "
                         "pass the text model the model was trained with")
    ckpt = args.out / "checkpoint"
    sampler = MixedSampler(caches, window=args.window, seed=args.seed, allow_heldout=args.allow_heldout,
                           split="train" if args.val_fraction > 0 else "all", val_fraction=args.val_fraction)
    val = MixedSampler(caches, window=args.window, seed=args.seed + 1, allow_heldout=args.allow_heldout,
                       split="val", prompt_prob=0.0, val_fraction=args.val_fraction) if args.val_fraction else None
    kinds = modalities(caches)  # recorded in every checkpoint; counted once
    if args.resume:
        model, _ = load_model(ckpt, expected=cfg)
    else:
        if ckpt.exists():
            raise FileExistsError(f"'{args.out}' already holds a run; pass --resume to continue it, or another --out")
        model = base if base is not None else GatoModel(cfg)
    opt = torch.optim.AdamW(_param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.95), fused=False)
    step = 0
    if args.resume:
        state = load_trainer_state(ckpt)
        opt.load_state_dict(state["optimizer"])
        sampler.load_state_dict(state["sampler"])
        step = int(state["step"])
        if world == 1:
            torch.set_rng_state(state["torch_rng"])
        else:  # the saved generator is rank 0's; give every rank its own stream from here
            torch.manual_seed(args.seed + 1000 * rank + step)
    else:
        torch.manual_seed(args.seed + 1000 * rank)  # dropout and patch-position draws differ by rank
    fwd = torch.compile(model) if args.compile else model
    if world > 1:
        # A rank whose windows hold no image (or no text) leaves the patch embedding without gradient
        # that step, so DDP must look for unused parameters.
        fwd = torch.nn.parallel.DistributedDataParallel(fwd, find_unused_parameters=True)
    lead = rank == 0  # only rank 0 logs and checkpoints
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "train.csv"
    from torch.utils.tensorboard import SummaryWriter

    tb = SummaryWriter(str(args.out / "tensorboard")) if lead else None
    t_start, tokens_seen, last = time.perf_counter(), 0, {}
    deadline = None if args.minutes is None else t_start + args.minutes * 60
    bar = tqdm(total=args.steps, initial=step, desc="train", unit="step", disable=not (progress and lead))
    acc: dict[str, list[float]] = defaultdict(list)
    data_time = 0.0
    model.train()
    stop = min(args.steps, args.stop_at or args.steps)
    while step < stop and (deadline is None or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        tasks, seqs = sampler.sample_many(args.batch_size)  # the same global batch on every rank
        tasks, seqs = tasks[rank::world], seqs[rank::world]  # this rank's share
        batch = collate(seqs, vocab, args.window)
        t1 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            _, loss, info = fwd(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        data_time += t1 - t0
        tokens_seen += int(batch.ids.numel()) * world
        acc["loss"].append(loss.item())
        for k in ("loss_text", "loss_action"):
            if k in info:
                acc[k].append(info[k])
        rows = batch.target_mask.nonzero()[:, 0]
        for dom in {SUITE[t].domain for t in tasks}:
            sel = torch.tensor([SUITE[tasks[r]].domain == dom for r in rows.tolist()], dtype=torch.bool)
            if sel.any():
                acc[f"loss_domain/{dom}"].append(float(info["token_loss"][sel].mean()))
        validating = val is not None and args.val_every > 0 and step % args.val_every == 0
        if lead and (step % args.log_every == 0 or step == args.steps or validating):
            elapsed = time.perf_counter() - t_start
            last = {k: sum(v) / len(v) for k, v in acc.items()}
            last.update(step=step, lr=lr_at(step - 1, args), tokens_per_s=tokens_seen / elapsed,
                        data_fraction=data_time / elapsed)
            acc.clear()
            if validating:
                last["val_loss"] = validate(model, val, vocab, args)
            _log(csv_path, tb, last)
            bar.set_postfix(loss=f"{last['loss']:.3f}", tok_s=f"{last['tokens_per_s']:,.0f}")
        if lead and step % args.ckpt_every == 0:
            _save(ckpt, model, text_model, opt, sampler, step, args, kinds)
        bar.update(1)
    bar.close()
    if lead:
        _save(ckpt, model, text_model, opt, sampler, step, args, kinds)
        tb.close()
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return {"step": step, **last}


def _init_distributed() -> tuple[int, int]:
    """Join the torchrun process group when launched by torchrun: gloo on CPU, NCCL on GPU."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return torch.distributed.get_rank(), world


@torch.no_grad()
def validate(model: GatoModel, val: MixedSampler, vocab: Vocabulary, args: TrainArgs) -> float:
    """Masked NLL on validation episodes (the last 10% of each task's episodes, never trained on)."""
    model.eval()
    losses = []
    for _ in range(args.val_batches):
        _, seqs = val.sample_many(args.batch_size)
        _, loss, _ = model(collate(seqs, vocab, args.window))
        if loss is not None:
            losses.append(loss.item())
    model.train()
    return sum(losses) / max(1, len(losses))


def _save(ckpt: Path, model: GatoModel, text_model: TextModel, opt, sampler: MixedSampler, step: int,
          args: TrainArgs, kinds: list[str]) -> None:
    state = {"optimizer": opt.state_dict(), "sampler": sampler.state_dict(), "step": step,
             "torch_rng": torch.get_rng_state()}
    save_checkpoint(ckpt, model, text_model, {"train_args": {k: str(v) for k, v in asdict(args).items()},
                                              "tasks": sampler.tasks, "modalities": kinds},
                    state)


def _log(csv_path: Path, tb, row: dict[str, Any]) -> None:
    new = not csv_path.exists()
    with csv_path.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["step", "key", "value"])
        for k, v in row.items():
            if k != "step":
                w.writerow([row["step"], k, v])
                tb.add_scalar(k, v, row["step"])
