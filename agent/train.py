"""`gatosuite train`: masked-NLL training of a model of the zoo on a mix of tasks, by a named recipe.

The recipe (agent/recipes.py) sets how windows are cut, how observations are tokenized and the model's
input, target and decoding choices. The default, `gatosuite-2026`, is the recipe that learns continuous
control; `--recipe gato-2022` trains the Gato paper's plain recipe. Flags given explicitly win over the
recipe's values, and the values a run trains with are recorded in its checkpoint (train_args).

AdamW with warmup + cosine decay, gradient clipping, autocast where the hardware makes bf16 fast
(`--precision auto`, see `agent/runtime.py`), any device (`--device`), optional torch.compile, DDP under
torchrun. A run is bounded by --steps and/or --minutes; with `--fit-schedule` the cosine schedule's
length is set from the step rate measured over the first steps, so that it ends inside --minutes on
whatever machine runs it. It logs to TensorBoard and CSV (loss per modality and per domain, any scalar
the model reports, validation NLL, throughput, the share of step time spent on data), and checkpoints
atomically; --resume continues from the last checkpoint exactly (model, optimizer, schedule, sampler
and torch RNG).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gatosuite.datasets.cache import TokenCache
from gatosuite.datasets.sampler import MixedSampler, evaluation_prompt_mode
from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError, DataNotFoundError, RunExistsError
from gatosuite.locks import exclusive
from gatosuite.tokenization import TextModel, TokenKind, Vocabulary

from .batch import collate_tasks, target_task_names, task_vocabulary
from .checkpoint import load_model, load_trainer_state, read_config, save_checkpoint, train_args_of
from .contract import Objective
from .families import ModelFamily, get_family
from .nonfinite import is_finite, non_finite_error
from .resume_check import check_resume
from .runtime import Runtime, resolve
from .stop_signals import StopSignals, TrainingStopped
from .train_args import TrainArgs
from .train_log import RunLog


def parse_task_weights(items: list[str], tasks: list[str]) -> dict[str, float]:
    """['task=weight', ...] -> a weight for every task of the mix (1 unless named)."""
    weights = dict.fromkeys(tasks, 1.0)
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not sep or weight < 0:
            raise ConfigError(f"bad task weight '{item}'; use task=weight with a weight >= 0")
        if name not in weights:
            raise ConfigError(f"task weight '{item}' names a task outside the mix; the mix has: "
                              f"{', '.join(tasks)}")
        weights[name] = weight
    if sum(weights.values()) <= 0:
        raise ConfigError("--task-weights leave every task at weight 0; give at least one a positive weight")
    return weights


def _bool(value: str) -> bool:
    """'true'/'false' (any case, or 1/0) -> bool; anything else is not a bool."""
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise ValueError(value)


_bool.__name__ = "bool (true or false)"


def parse_overrides(items: list[str], config: type | None = None) -> dict[str, Any]:
    """['name=value', ...] -> {name: value} typed like the field of the family's config class (Gato's by
    default); unknown names are an error."""
    import dataclasses

    if config is None:
        config = get_family("gato").config
    types = {f.name: f.type for f in dataclasses.fields(config)}
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in types:
            raise ConfigError(f"bad model override '{item}'; use name=value with a name among "
                              f"{', '.join(sorted(types))}")
        kind = {"int": int, "float": float, "float | None": float, "bool": _bool}.get(str(types[name]), str)
        try:
            out[name] = kind(value)
        except ValueError:
            raise ConfigError(f"model override '{item}': '{value}' is not a valid {kind.__name__}") from None
    return out


def lr_at(step: int, args: TrainArgs, total: int | None = None) -> float:
    """Linear warmup to args.lr, then cosine decay to args.lr * min_lr_ratio at `total` (args.steps)."""
    total = args.steps if total is None else total
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


class BudgetFit:
    """Fits the schedule's length to a time budget from the measured step rate.

    The first `skip` steps (allocation, first-call overheads) are not timed; the rate over the next
    `measure` steps sets the length, with a margin for validation and checkpoints. At half the budget the
    length is fitted again from the rate since the first fit, which by then includes those overheads.
    """

    def __init__(self, deadline: float, skip: int = 3, measure: int = 20, margin: float = 0.96) -> None:
        self.deadline, self.skip, self.measure, self.margin = deadline, skip, measure, margin
        self.t_skip = self.t_fit = 0.0
        self.s_fit = 0
        self.refitted = False
        self.rate: float | None = None

    def update(self, step: int, now: float, start: float) -> int | None:
        """Called after each step; a new schedule length when it is (re)fitted, else None."""
        if step == self.skip:
            self.t_skip = now
        elif step == self.skip + self.measure:
            self.rate = self.measure / (now - self.t_skip)
            self.t_fit, self.s_fit = now, step
            return step + int(self.rate * (self.deadline - now) * self.margin)
        elif self.rate is not None and not self.refitted and now - start >= (self.deadline - start) / 2:
            self.refitted = True
            self.rate = (step - self.s_fit) / (now - self.t_fit)
            return step + int(self.rate * (self.deadline - now) * self.margin)
        return None


def load_caches(args: TrainArgs, text_model: TextModel) -> dict[str, TokenCache]:
    """Token caches of the selected tasks that have data; held-out tasks only if allowed."""
    from gatosuite.datasets import minari_store
    from gatosuite.datasets.cache import dataset_obs_stats, open_cache
    from gatosuite.datasets.captions import build_caption_cache
    from gatosuite.datasets.text_data import build_text_cache
    from gatosuite.tokenization.task import task_tokenizer

    caches = {}
    for task in SUITE.select(args.tasks):
        if task.heldout and task.id not in args.allow_heldout:
            continue
        if task.domain == "text":
            caches[task.id] = build_text_cache(args.root, text_model)
        elif task.domain == "caption":
            caches[task.id] = build_caption_cache(args.root, text_model)
        elif (minari_store.dataset_dir(args.root, task.id) / "data").is_dir():
            stats = dataset_obs_stats(args.root, task.id) if args.obs_norm else None
            caches[task.id] = open_cache(args.root, task.id, task_tokenizer(task.id, text_model, stats))
    if not caches:
        raise DataNotFoundError(f"no training data for '{args.tasks}' under '{args.root}'; collect some first: "
                                f"gatosuite collect --task {args.tasks} --root {args.root}")
    return caches


def modalities(caches: dict[str, TokenCache]) -> list[str]:
    """Names of the token kinds present in the training data; a policy refuses a task that needs others."""
    counts = sum(np.bincount(np.asarray(c.arrays["kinds"]), minlength=len(TokenKind)) for c in caches.values())
    return sorted(TokenKind(k).name.lower() for k in np.flatnonzero(counts) if k != TokenKind.PAD)


def _init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the torchrun process group when launched by torchrun: NCCL when this rank's tensors live on
    a GPU (LOCAL_RANK's, chosen by `resolve_device`), gloo otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not torch.distributed.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return torch.distributed.get_rank(), world


def _agree_on_precision(rt: Runtime, world: int) -> Runtime:
    """Every rank trains in rank 0's precision (each measured its own CPU)."""
    if world == 1:
        return rt
    flag = torch.tensor([int(rt.bf16)], device=rt.device)
    torch.distributed.broadcast(flag, 0)
    if bool(flag.item()) == rt.bf16:
        return rt
    return Runtime(rt.device, "bf16" if flag.item() else "fp32", f"rank 0's choice ({rt.reason} here)")


@dataclass
class _Run:
    """What one training run holds while it runs."""

    model: torch.nn.Module
    fwd: Callable[[Any], Any]
    """The model's forward (compiled, or wrapped in DDP), fed what the family's batch adapter returns."""
    family: ModelFamily
    task_vocab: tuple[str, ...]
    """What TokenBatch.task_index refers to (agent/batch.py:task_vocabulary); recorded in the checkpoint."""
    opt: torch.optim.Optimizer
    sampler: MixedSampler
    val: MixedSampler | None
    vocab: Vocabulary
    rt: Runtime
    step: int
    total: int
    """The schedule's length (args.steps, or the fitted length)."""
    val_goals: dict[str, MixedSampler] = field(default_factory=dict)
    """Goal families' validation episodes, prompted with their goal's demonstrations and not
    (logged as val_loss_prompted / val_loss_unprompted; the prompted NLL is the episode's alone)."""
    began_from: str = "None"
    """The weights the run started from (--init-from), kept in its checkpoint across resumes."""
    inherited_stats: dict[str, Any] = field(default_factory=dict)
    """Observation statistics of tasks the starting weights were trained on, kept in this run's checkpoints so
    that a policy for an earlier task still tokenizes it as it was trained (this run's tasks' own win)."""


def _build(args: TrainArgs, text_model: TextModel, caches: dict[str, TokenCache], cfg: Any | None,
           rt: Runtime, rank: int, world: int) -> _Run:
    """Model, optimizer and samplers, fresh or restored from the run's checkpoint."""
    vocab = Vocabulary(text_model.vocab_size)
    torch.manual_seed(args.seed)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
    base = None
    if args.init_from is not None:
        base, _ = load_model(Path(args.init_from))
        cfg = base.cfg
    family: ModelFamily = get_family(type(cfg).architecture if cfg is not None else args.model)
    cfg = cfg or family.build(args.preset, vocab.size, context=args.window,
                              **parse_overrides(args.overrides, family.config))
    cfg = family.prepare(cfg, list(caches), text_model)  # task-specific parameters get the run's tasks
    if args.window > cfg.context:
        raise ConfigError(f"--window {args.window} exceeds the model's context of {cfg.context}")
    if cfg.vocab_size != vocab.size:
        raise ConfigError(f"the model has {cfg.vocab_size} token ids but the text model gives {vocab.size}; "
                          "pass the text model the model was trained with")
    ckpt = args.out / "checkpoint"
    weights = parse_task_weights(args.task_weights, list(caches))
    sampler = MixedSampler(caches, weights, window=args.window, seed=args.seed, allow_heldout=args.allow_heldout,
                           split="train" if args.val_fraction > 0 else "all", val_fraction=args.val_fraction,
                           segment_steps=args.segment_length, prompt_prob=args.prompt_prob,
                           prompt_mode=args.prompt_mode, goal_start_prob=args.goal_start_prob)
    val = MixedSampler(caches, window=args.window, seed=args.seed + 1, allow_heldout=args.allow_heldout,
                       split="val", prompt_prob=0.0, val_fraction=args.val_fraction,
                       segment_steps=args.segment_length) if args.val_fraction else None
    goal_caches = {t: c for t, c in caches.items() if getattr(c, "variants", None) is not None}
    val_goals = {}
    if goal_caches and args.val_fraction:  # the same validation episodes with and without a prompt of their goal
        val_goals = {f"_{p}": MixedSampler(goal_caches, window=args.window, seed=args.seed + 2, split="val",
                                           prompt_prob=1.0 if p == "prompted" else 0.0,
                                           prompt_mode=evaluation_prompt_mode(args.prompt_mode),
                                           val_fraction=args.val_fraction, segment_steps=args.segment_length,
                                           allow_heldout=args.allow_heldout, prompts_from_all=True,
                                           mask_prompt=True)
                     for p in ("prompted", "unprompted")}
    if args.resume:
        # A run that began from other weights (--init-from) has their config, not one built from these
        # args: check_resume has compared the run-defining args, so its own checkpoint's config is the run's.
        meta = read_config(ckpt) if ckpt.exists() else {}
        began_from = train_args_of(meta).get("init_from", "None")
        model, _ = load_model(ckpt, expected=cfg if began_from == "None" else None)
    else:
        began_from = str(args.init_from)
        meta = read_config(Path(args.init_from)) if args.init_from is not None else {}
        if ckpt.exists():
            raise RunExistsError(f"'{args.out}' already holds a run; pass --resume to continue it, or another --out")
        model = base if base is not None else family.model(cfg)
    model.to(rt.device)
    if family.optimizer is not None:  # a family that trains otherwise than by the shared AdamW
        opt = family.optimizer(model, args)
    else:
        opt = torch.optim.AdamW(model.param_groups(args.weight_decay), lr=args.lr, betas=(0.9, 0.95),
                                fused=rt.device.type == "cuda")
    step, total = 0, args.steps
    if args.resume:
        state = load_trainer_state(ckpt)
        opt.load_state_dict(state["optimizer"])  # moves the moments to the parameters' device
        sampler.load_state_dict(state["sampler"])
        step, total = int(state["step"]), int(state.get("schedule_steps", args.steps))
        if world == 1:
            torch.set_rng_state(state["torch_rng"])
            if rt.device.type == "cuda" and "cuda_rng" in state:
                torch.cuda.set_rng_state(state["cuda_rng"], rt.device)
        else:  # the saved generator is rank 0's; give every rank its own stream from here
            torch.manual_seed(args.seed + 1000 * rank + step)
    else:
        torch.manual_seed(args.seed + 1000 * rank)  # dropout and patch-position draws differ by rank
    fwd = torch.compile(model) if args.compile else model
    if world > 1:
        # A rank whose windows hold no image (or no text) leaves the patch embedding without gradient
        # that step, so DDP must look for unused parameters.
        fwd = torch.nn.parallel.DistributedDataParallel(
            fwd, device_ids=[rt.device.index] if rt.device.type == "cuda" else None, find_unused_parameters=True)
    return _Run(model, fwd, family, task_vocabulary(model.cfg, sampler.tasks), opt, sampler, val, vocab, rt, step,
                total, val_goals, began_from, dict(meta.get("obs_stats") or {}))


def _train_step(run: _Run, args: TrainArgs, rank: int, world: int) -> tuple[Any, torch.Tensor, dict[str, Any],
                                                                             float]:
    """One optimizer step on this rank's share of the global batch; returns the model's inputs (the adapted
    batch), loss, info and the seconds spent drawing, collating and adapting the batch."""
    t0 = time.perf_counter()
    rows = run.sampler.sample_rows(args.batch_size)[rank::world]  # this rank's share of the global batch
    batch = collate_tasks(rows, run.vocab, args.window, run.task_vocab).to(run.rt.device)
    inputs = run.family.adapt(batch, run.model.cfg)  # what the family's forward consumes
    data_s = time.perf_counter() - t0
    for g in run.opt.param_groups:
        g["lr"] = lr_at(run.step, args, run.total)
    with run.rt.autocast():
        _, loss, info = run.fwd(inputs)
    run.opt.zero_grad(set_to_none=True)
    # a family's auxiliary loss (routing balance) is optimised with the task loss and logged apart
    total = loss + info["aux_loss"] if "aux_loss" in info else loss
    total.backward()
    norm = torch.nn.utils.clip_grad_norm_(run.model.parameters(), args.grad_clip)
    if not is_finite(total, norm):  # before the step: NaN weights never reach a checkpoint (agent/nonfinite.py)
        raise non_finite_error(run.step + 1, total, norm, np.array([t for r in rows for t, _ in r], dtype=object),
                               lr_at(run.step, args, run.total), args.out / "checkpoint")
    run.opt.step()
    run.step += 1
    return inputs, loss, info, data_s


OUTSIDE_VOCABULARY = "outside-vocabulary"
"""The domain under which the per-domain loss counts targets of tasks outside the run's task vocabulary."""


def _accumulate(acc: dict[str, list[float]], run: _Run, inputs: Any, loss: torch.Tensor,
                info: dict[str, Any]) -> None:
    """Loss, every scalar the model reports in `info`, and, for a family trained on next-token NLL
    (its declared objective), the loss per domain."""
    acc["loss"].append(loss.item())
    for k, v in info.items():
        if isinstance(v, (int, float)) and k != "n_targets" or isinstance(v, torch.Tensor) and v.ndim == 0:
            acc[k].append(float(v.detach()) if isinstance(v, torch.Tensor) else float(v))
    if run.family.objective is not Objective.NEXT_TOKEN:
        return
    target_tasks = target_task_names(inputs, run.task_vocab)  # (M,) the task of each target
    # a task outside the run's vocabulary (fine-tuning a family whose config fixed its tasks, on a new one) has
    # no name to look up; its targets are counted apart
    domains = np.array([SUITE[t].domain if t else OUTSIDE_VOCABULARY for t in target_tasks])
    for dom in np.unique(domains):
        sel = torch.from_numpy(domains == dom).to(info["token_loss"].device)
        acc[f"loss_domain/{dom}"].append(float(info["token_loss"][sel].mean()))


def train(args: TrainArgs, text_model: TextModel | None = None, caches: dict[str, TokenCache] | None = None,
          progress: bool = True, cfg: Any | None = None,
          on_fit: Callable[[torch.nn.Module, float, int], None] | None = None) -> dict[str, Any]:
    """Run training; returns a summary (final step, last losses, tokens/s, runtime). `cfg` overrides the
    preset (e.g. a model of another run's shape, trained from scratch). `on_fit(model, steps_per_s,
    schedule_steps)` is called when --fit-schedule first fits the schedule.

    One process trains in a run folder at a time (locks.py). SIGTERM or Ctrl-C checkpoints the step reached
    and raises TrainingStopped (agent/stop_signals.py; not under DDP, where a signal ends the process and
    the last --ckpt-every checkpoint stays whole)."""
    from gatosuite.tokenization import default_text_model

    if args.batch_size % int(os.environ.get("WORLD_SIZE", "1")):
        raise ConfigError(f"--batch-size {args.batch_size} must be divisible by the {os.environ['WORLD_SIZE']} "
                          "processes")
    device_rt = resolve(args.device, "fp32", announce=False)  # the device alone; precision comes next
    rank, world = _init_distributed(device_rt.device)
    rt = _agree_on_precision(resolve(args.device, args.precision, announce=rank == 0), world)
    text_model = text_model or default_text_model(args.text_vocab)
    lock = (exclusive(args.out / ".lock", f"training in '{args.out}'", "wait for it to finish, or train into "
                      "another --out") if rank == 0 else contextlib.nullcontext())  # only rank 0 writes there
    with lock:
        if args.resume:
            check_resume(args, text_model.fingerprint)
        caches = caches or load_caches(args, text_model)
        run = _build(args, text_model, caches, cfg, rt, rank, world)
        log = RunLog(args.out, rt) if rank == 0 else None
        try:
            with StopSignals(enabled=world == 1) as stop:
                summary = _loop(args, run, text_model, caches, log, rank, world, progress, on_fit, stop)
        except BaseException:
            if log is not None:
                log.close(quiet=True)
            raise
        if log is not None:
            log.close()
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if stop.received:
        raise TrainingStopped(f"training stopped by {stop.received} at step {run.step}; checkpoint saved in "
                              f"'{args.out / 'checkpoint'}'; continue with the same `gatosuite train` arguments "
                              "plus --resume")
    return summary


def _loop(args: TrainArgs, run: _Run, text_model: TextModel, caches: dict[str, TokenCache], log: RunLog | None,
          rank: int, world: int, progress: bool, on_fit: Callable[[torch.nn.Module, float, int], None] | None,
          stop: StopSignals) -> dict[str, Any]:
    """Step until the schedule, --stop-at, --minutes or a stop signal ends the run; log, validate, and
    checkpoint every --ckpt-every steps and at the end (rank 0 only)."""
    kinds = modalities(caches)  # recorded in every checkpoint; counted once
    save = functools.partial(_save, args.out / "checkpoint", run, text_model, args, kinds,
                             run.inherited_stats | _obs_stats(caches))
    lead = rank == 0
    t_start, tokens_seen, last, data_time = time.perf_counter(), 0, {}, 0.0
    deadline = None if args.minutes is None else t_start + args.minutes * 60
    fit = BudgetFit(deadline) if args.fit_schedule and not args.resume else None
    bar = tqdm(total=run.total, initial=run.step, desc="train", unit="step", disable=not (progress and lead))
    acc: dict[str, list[float]] = defaultdict(list)
    run.model.train()
    logged = run.step
    while (run.step < min(run.total, args.stop_at or run.total) and stop.received is None
           and (deadline is None or time.perf_counter() < deadline)):
        inputs, loss, info, data_s = _train_step(run, args, rank, world)
        data_time += data_s
        tokens_seen += args.batch_size * args.window  # the global batch's window slots, padding included
        _accumulate(acc, run, inputs, loss, info)
        step = run.step
        if fit is not None and (new_total := fit.update(step, time.perf_counter(), t_start)) is not None:
            first = not fit.refitted
            run.total = max(step + 1, new_total)
            bar.total = run.total
            if lead and first and on_fit is not None:
                on_fit(run.model, fit.rate, run.total)
        validating = run.val is not None and args.val_every > 0 and step % args.val_every == 0
        if lead and (step % args.log_every == 0 or step == run.total or validating):
            last = _log_row(log, run, args, acc, step, time.perf_counter() - t_start, tokens_seen, data_time,
                            validating)
            logged = step
            bar.set_postfix(loss=f"{last['loss']:.3f}", tok_s=f"{last['tokens_per_s']:,.0f}")
        if lead and step % args.ckpt_every == 0:
            save()
        bar.update(1)
    bar.close()
    if lead:
        if run.step > logged:  # a run stopped by its budget, --stop-at or a signal between log rows logs its end
            last = _log_row(log, run, args, acc, run.step, time.perf_counter() - t_start, tokens_seen, data_time,
                            run.val is not None and args.val_every > 0)
        save()
    return {"step": run.step, **last, "schedule_steps": run.total, "runtime": run.rt.to_dict(),
            "seconds": time.perf_counter() - t_start}


def _log_row(log: RunLog, run: _Run, args: TrainArgs, acc: dict[str, list[float]], step: int, elapsed: float,
             tokens_seen: int, data_time: float, validating: bool) -> dict[str, Any]:
    """Average what accumulated since the last row, add throughput (and validation NLL), and write it."""
    row: dict[str, Any] = {k: sum(v) / len(v) for k, v in acc.items()}
    row.update(step=step, lr=lr_at(step - 1, args, run.total), tokens_per_s=tokens_seen / elapsed,
               data_fraction=data_time / elapsed, schedule_steps=run.total)
    acc.clear()
    if validating:
        row["val_loss"] = validate(run, run.val, args)
        for suffix, sampler in run.val_goals.items():
            row[f"val_loss{suffix}"] = validate(run, sampler, args)
    log.write(row)
    return row


@torch.no_grad()
def validate(run: _Run, val: MixedSampler, args: TrainArgs) -> float:
    """Masked NLL on validation episodes (the last 10% of each task's episodes, never trained on)."""
    model = run.model
    model.eval()
    losses = []
    for _ in range(args.val_batches):
        batch = collate_tasks(val.sample_rows(args.batch_size), run.vocab, args.window, run.task_vocab)
        with run.rt.autocast():
            _, loss, _ = model(run.family.adapt(batch.to(run.rt.device), model.cfg))
        if loss is not None:
            losses.append(loss.item())
    model.train()
    return sum(losses) / max(1, len(losses))


def _obs_stats(caches: dict[str, TokenCache]) -> dict[str, Any]:
    """{task: statistics} of the caches tokenized with observation standardization (their meta says)."""
    return {t: c.meta["obs_stats"] for t, c in caches.items() if c.meta.get("obs_stats")}


def _save(ckpt: Path, run: _Run, text_model: TextModel, args: TrainArgs, kinds: list[str],
          obs_stats: dict[str, Any]) -> None:
    state = {"optimizer": run.opt.state_dict(), "sampler": run.sampler.state_dict(), "step": run.step,
             "schedule_steps": run.total, "torch_rng": torch.get_rng_state()}
    if run.rt.device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(run.rt.device)
    recorded = {k: str(v) for k, v in asdict(args).items()} | {"init_from": run.began_from}
    save_checkpoint(ckpt, run.model, text_model, {"train_args": recorded,
                                                  "tasks": run.sampler.tasks, "modalities": kinds,
                                                  "segment_steps": args.segment_length, "obs_stats": obs_stats,
                                                  "schedule_steps": run.total, "runtime": run.rt.to_dict()},
                    state)
