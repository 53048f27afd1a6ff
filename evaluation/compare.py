"""`gatosuite compare`: several model families trained and evaluated on the same data, seeds and budget.

For each family (agent/families.py), in order:

1. train its preset on the same task mix, with the same windows, batch, seed and training recipe
   (`--recipe`, agent/recipes.py: by default `gatosuite-2026`, the recipe that learns continuous control;
   `gato-2022` for the Gato paper's), for the same wall-clock budget (`--minutes`; tokens seen are
   reported) or the same number of tokens (`--tokens`);
2. measure validation NLL on held-out episodes, per target modality and per domain, on the same windows
   for every family (a fixed sampler seed);
3. roll it out on the mix's environment tasks (expert-normalized score per domain, 95% CIs). Each family is
   trained once, with one seed, so its aggregates are over a (1 x tasks) matrix of task means and their
   CIs resample episodes within each task: evaluation noise, not seed-to-seed variation;
4. run the few-shot protocol on a held-out task at k = 1 (zero-shot, fine-tuning, scratch);
5. record parameters (total and active per token), training tokens/s, FLOPs per token, the process's
   CPU-seconds, and an energy estimate.

Results go to `<out>/compare.json` after every family, and `compare.md` / `compare.html` are rewritten
from it (evaluation/compare_report.py). A killed comparison resumes: finished families are kept as they
are, and an unfinished training run continues from its checkpoint.

Energy is an estimate, not a measurement: CPU-seconds times an assumed power per busy core
(`--watts-per-core`, default 10 W, a typical full-load figure of a desktop or server x86 core: package TDP
over cores). This machine exposes no power counters (no RAPL under /sys/class/powercap). Pass the
figure of your own CPU, or multiply the CPU-seconds in compare.json by it.
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gatosuite.agent.recipes import GATOSUITE_2026
from gatosuite.errors import ConfigError

from .compare_args import DEFAULT_TASKS, CompareArgs  # noqa: F401  (re-exported)


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@torch.no_grad()
def validation_nll(checkpoint: Path, caches: dict[str, Any], a: CompareArgs, text) -> dict[str, dict[str, float]]:
    """Mean NLL of held-out episodes' targets by modality (text, discrete/continuous action) and by domain,
    over `val_batches` batches drawn with a fixed seed: the same windows for every family."""
    from gatosuite.agent.batch import collate_tasks, target_task_names, task_vocabulary
    from gatosuite.agent.checkpoint import load_model
    from gatosuite.agent.families import family_of_config
    from gatosuite.agent.runtime import resolve
    from gatosuite.datasets.sampler import MixedSampler
    from gatosuite.envs import SUITE
    from gatosuite.tokenization import TokenKind, Vocabulary

    rt = resolve(a.device, a.precision)
    model, meta = load_model(checkpoint, device=rt.device)
    model.eval()
    family = family_of_config(model.cfg)
    task_vocab = task_vocabulary(model.cfg, meta.get("tasks", []))
    vocab = Vocabulary(text.vocab_size)
    sampler = MixedSampler(caches, window=a.window, seed=12345, split="val", prompt_prob=0.0,
                           segment_steps=meta.get("segment_steps"))
    sums: dict[str, dict[str, list[float]]] = {"modality": {}, "domain": {}}
    for _ in range(a.val_batches):
        batch = collate_tasks(sampler.sample_rows(a.batch_size), vocab, a.window, task_vocab).to(rt.device)
        inputs = family.adapt(batch, model.cfg)
        with rt.autocast():
            _, loss, info = model(inputs)
        if loss is None:
            continue
        per = info["token_loss"].float().cpu().numpy()
        kinds = info["target_kinds"].cpu().numpy()
        owner = target_task_names(inputs, task_vocab)  # (M,) the task of every target, as the trainer splits it
        domains = np.array([SUITE[t].domain if t else "unknown" for t in owner])
        for k in np.unique(kinds):
            sums["modality"].setdefault(TokenKind(int(k)).name.lower(), []).extend(per[kinds == k].tolist())
        for d in np.unique(domains):
            sums["domain"].setdefault(str(d), []).extend(per[domains == d].tolist())
    return {group: {k: float(np.mean(v)) for k, v in sorted(d.items())} for group, d in sums.items()}


def _train(name: str, a: CompareArgs, text, family_dir: Path) -> dict[str, Any]:
    from gatosuite.agent.train import TrainArgs, train

    ckpt = family_dir / "train" / "checkpoint"
    resume = ckpt.is_dir()  # a comparison killed during this family's training continues it
    budget: dict[str, Any]
    if a.tokens is not None:
        budget = dict(steps=max(1, a.tokens // (a.batch_size * a.window)))
    else:
        budget = dict(steps=100_000, minutes=a.minutes, fit_schedule=True)
    args = TrainArgs(tasks=a.tasks, root=a.root, out=family_dir / "train", model=name, preset=a.preset,
                     window=a.window, batch_size=a.batch_size, seed=a.seed, device=a.device, precision=a.precision,
                     warmup=100 if a.tokens is None else max(1, budget["steps"] // 10), val_every=0, log_every=25,
                     ckpt_every=250, resume=resume, recipe=a.recipe, **budget)
    cpu0 = _cpu_seconds()
    summary = train(args, text, progress=True)
    summary["cpu_seconds"] = _cpu_seconds() - cpu0
    summary["resumed"] = resume
    return summary


def compare_one(name: str, a: CompareArgs, text, caches: dict[str, Any]) -> dict[str, Any]:
    """Every column of one family's row."""
    from gatosuite.agent.checkpoint import load_model
    from gatosuite.agent.families import get_family
    from gatosuite.envs import SUITE
    from gatosuite.evaluation.evaluate import EvalSettings, evaluate_tasks
    from gatosuite.evaluation.fewshot import fewshot_task
    from gatosuite.evaluation.scores import by_domain

    family = get_family(name)
    family_dir = Path(a.out) / name
    t0 = time.perf_counter()
    summary = _train(name, a, text, family_dir)
    phases = {"train": time.perf_counter() - t0}
    ckpt = family_dir / "train" / "checkpoint"
    model, _ = load_model(ckpt)
    row: dict[str, Any] = {
        "model": name, "title": family.display, "modules": family.modules, "year": family.year, "paper": family.paper,
        "unseen": family.unseen, "parameters": model.num_parameters(non_embedding=False),
        "parameters_non_embedding": model.num_parameters(), "active_parameters": model.active_parameters(),
        "flops_per_token": model.flops_per_token(a.window), "train": {
            k: v for k, v in summary.items() if isinstance(v, (int, float, bool))}}
    row["tokens_seen"] = int(summary["step"]) * a.batch_size * a.window  # window slots trained on, padding included
    row["energy_wh_estimate"] = summary["cpu_seconds"] * a.watts_per_core / 3600.0
    t1 = time.perf_counter()
    row["val_nll"] = validation_nll(ckpt, caches, a, text)
    phases["validation"] = time.perf_counter() - t1
    env_tasks = [t for t in caches if SUITE[t].is_env]
    s = EvalSettings(episodes=a.eval_episodes, envs=a.eval_episodes, video=False, device=a.device,
                     precision=a.precision, reps=1000)
    if family.can_act and env_tasks:
        t1 = time.perf_counter()
        tasks = evaluate_tasks(ckpt, env_tasks, family_dir / "eval", s, progress=True)
        scores = {t: np.array([e["normalized"] for e in v["episodes"]]) for t, v in tasks.items()}
        row["score"] = by_domain(scores, reps=s.reps)
        row["tasks"] = {t: {"normalized": v["normalized"], "normalized_ci": v["normalized_ci"]}
                        for t, v in tasks.items()}
        phases["evaluation"] = time.perf_counter() - t1
        if a.fewshot:
            t1 = time.perf_counter()
            few = fewshot_task(ckpt, a.fewshot, a.root, family_dir / "fewshot", [1], s, steps=a.fewshot_steps,
                               progress=False, prompting=False)  # the table reports no prompting column
            m = few["methods"]
            row["fewshot"] = {"task": a.fewshot, "zero-shot": m["zero-shot"]["0"], "finetune": m["finetune"]["1"],
                              "scratch": m["scratch"]["1"]}
            phases["fewshot"] = time.perf_counter() - t1
    row["seconds"] = time.perf_counter() - t0
    row["phase_seconds"] = phases  # wall-clock of each part, where the comparison's time goes
    return row


def compare(a: CompareArgs) -> Path:
    """Run (or resume) the comparison; returns the path of compare.md."""
    from gatosuite.agent.families import get_family
    from gatosuite.agent.train import TrainArgs, load_caches
    from gatosuite.tokenization import default_text_model

    from .compare_report import write_compare_report

    for name in a.models:  # an unknown family fails before any training
        get_family(name)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "compare.json"
    store = json.loads(path.read_text()) if path.is_file() else {}
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(a).items() if k not in ("models", "out")}
    if store.get("settings") is not None and "recipe" not in store["settings"]:
        store["settings"]["recipe"] = GATOSUITE_2026.name  # comparisons before recipes trained the demo's values
    if store.get("settings") not in (None, settings):
        raise ConfigError(f"'{path}' holds a comparison with other settings; pass the same ones to resume it, "
                          "or another --out")
    store["settings"] = settings
    rows: dict[str, Any] = store.setdefault("models", {})
    text = default_text_model(4096)
    caches = load_caches(TrainArgs(tasks=a.tasks, root=a.root, recipe=a.recipe), text)
    for name in tqdm(a.models, desc="compare", unit="model"):
        if name in rows:  # finished in an earlier (killed) run
            continue
        rows[name] = compare_one(name, a, text, caches)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(store, indent=1))
        tmp.replace(path)
        write_compare_report(store, out)
    return write_compare_report(store, out)["markdown"]
