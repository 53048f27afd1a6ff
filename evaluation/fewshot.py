"""Few-shot evaluation on a held-out task: four ways to use k expert demonstrations, on the same seeds.

* zero-shot: the pretrained checkpoint, no demonstrations;
* prompting: k demonstrations placed first in the context (Gato's prompt conditioning). The prompt
  takes at most half of the context, as in training, shared equally by the k demonstrations, each
  contributing its final timesteps; a k whose share is under one timestep does not fit and is skipped;
* finetune: the pretrained checkpoint fine-tuned on the k demonstrations (Gato section 5.2), then
  played zero-shot;
* scratch: a model of the same shape trained from scratch on the same k demonstrations, with the same
  steps, learning rate and batches: only the starting weights differ from fine-tuning.

Demonstrations are collected by the task's expert into `<root>/fewshot-demos` with seeds 0..k-1, which
never overlap the evaluation seeds (1000 onward by default).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gatosuite.agent.checkpoint import config_of, read_config
from gatosuite.agent.factory import make_policy
from gatosuite.agent.train import TrainArgs, train
from gatosuite.datasets.cache import EpisodeSubset, TokenCache, dataset_obs_stats, open_cache
from gatosuite.datasets.collect import collect
from gatosuite.datasets.sampler import evaluation_prompt_mode
from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError
from gatosuite.tokenization import ObsStats, TextModel, Tokenizer, TokenSequence
from gatosuite.tokenization.task import task_tokenizer

from .evaluate import EvalSettings
from .rollout import rollout
from .scores import task_summary


def demonstrations(task_id: str, n: int, root: Path, tok: Tokenizer) -> TokenCache:
    """n expert episodes of the task (seeds 0..n-1) under <root>/fewshot-demos, tokenized for `tok`."""
    return open_cache(collect_demonstrations(task_id, n, root), task_id, tok)


def collect_demonstrations(task_id: str, n: int, root: Path) -> Path:
    """Collect (or reuse) n expert episodes of the task, seeds 0..n-1; returns their dataset root."""
    demo_root = Path(root) / "fewshot-demos"
    # demonstrations of an earlier run with another n are ours to replace; a killed collection resumes
    collect(task_id, n, demo_root, progress=False, replace_mismatched=True, resume=True)
    return demo_root


def task_obs_stats(meta: dict[str, Any], task_id: str, demo_root: Path) -> ObsStats | None:
    """Observation statistics for a task under a checkpoint trained with standardization: the
    checkpoint's own for a trained task, else its demonstrations' (for every method, zero-shot included);
    None for a checkpoint trained on Gato's plain tokenization."""
    if not meta.get("obs_stats"):
        return None
    if task_id in meta["obs_stats"]:
        return ObsStats.from_dict(meta["obs_stats"][task_id])
    return dataset_obs_stats(demo_root, task_id)


def context_steps(meta: dict[str, Any], cfg: Any, tokens_per_timestep: int) -> int:
    """Timesteps a policy of this checkpoint holds in its context (at most one training segment)."""
    steps = cfg.context // tokens_per_timestep
    return min(steps, int(meta["segment_steps"])) if meta.get("segment_steps") else steps


def prompt_for(demos: list[TokenSequence], k: int, tokens_per_timestep: int, steps: int,
               mode: str = "end") -> list[TokenSequence] | None:
    """The last timesteps of k demonstrations (mode 'whole': the first, as a model trained with
    `--prompt-mode whole` saw them), at most half of a `steps`-timestep context in all; None if they
    cannot fit."""
    each = (steps // 2) // k
    if each < 1 or k > len(demos):
        return None
    out = []
    for d in demos[:k]:
        n = len(d) // tokens_per_timestep
        m = min(n, each)
        start = 0 if mode == "whole" else n - m
        out.append(d.slice(start * tokens_per_timestep, (start + m) * tokens_per_timestep))
    return out


def trained_prompt_mode(meta: dict[str, Any]) -> str:
    """Where to cut prompts for a checkpoint: as its training did (`evaluation_prompt_mode`)."""
    return evaluation_prompt_mode(str((meta.get("train_args") or {}).get("prompt_mode", "gato")))


def _adapt(checkpoint: Path, cfg: Any, text: TextModel, task_id: str, cache, k: int, work: Path,
           steps: int, finetune: bool, s: EvalSettings, segment_steps: int | None) -> Path:
    """Train on the first k demonstrations, from the checkpoint (finetune) or from scratch with its
    shape `cfg`; returns the new checkpoint."""
    out = work / f"{'finetune' if finetune else 'scratch'}-k{k}"
    args = TrainArgs(tasks=task_id, out=out, window=cfg.context, batch_size=16, steps=steps,
                     warmup=max(1, steps // 10), lr=1e-3, val_fraction=0.0, log_every=steps,
                     ckpt_every=10**9, allow_heldout=[task_id], seed=s.seed, device=s.device,
                     precision=s.precision, init_from=checkpoint if finetune else None,
                     segment_steps=segment_steps or 0)  # the checkpoint's (0: one window per row), not a recipe's
    train(args, text, {task_id: EpisodeSubset(cache, list(range(k)))}, progress=False,
          cfg=None if finetune else cfg)
    return out / "checkpoint"


def fewshot_task(checkpoint: Path, task_id: str, root: Path, work: Path, ks: list[int], s: EvalSettings,
                 steps: int = 150, progress: bool = True, oracle: Path | None = None, adapt: bool = True,
                 video_dir: Path | None = None) -> dict[str, Any]:
    """The `fewshot[task_id]` block of eval_info.json: every method and k on the same seeds. For a
    hidden-goal family's held-out task, evaluation/fewshot_family.py runs it, with `oracle`, `adapt` and
    `video_dir` as described there."""
    task = SUITE[task_id]
    if task.family is not None and task.heldout:  # goals only a demonstration reveals
        from .fewshot_family import fewshot_family

        return fewshot_family(checkpoint, task_id, root, work, ks, s, steps, progress, oracle=oracle, adapt=adapt,
                              video_dir=video_dir)
    if not task.is_env or not task.heldout:
        raise ConfigError(f"few-shot evaluation is for held-out environment tasks; '{task_id}' is not one "
                         f"(held out: {', '.join(t.id for t in SUITE.select('heldout'))})")
    t0 = time.perf_counter()
    text = TextModel.load(checkpoint)
    meta = read_config(checkpoint)
    demo_root = collect_demonstrations(task_id, max(ks), root)
    stats = task_obs_stats(meta, task_id, demo_root)
    tok = task_tokenizer(task_id, text, stats)
    cache = open_cache(demo_root, task_id, tok)
    demos = [cache.episode(i) for i in range(len(cache))]
    seeds = [s.seed + i for i in range(s.episodes)]

    def play(policy_ckpt: Path, prompt: list[TokenSequence] | None = None) -> dict[str, Any]:
        policy = make_policy(policy_ckpt, task_id, prompt=prompt, device=s.device, precision=s.precision,
                            obs_stats=stats)
        results = rollout(policy, task_id, seeds, num_envs=s.envs, progress=False)
        return task_summary(task_id, [r.score for r in results], reps=s.reps)

    L = tok.spec.tokens_per_timestep
    cfg = config_of(checkpoint, meta)
    methods: dict[str, dict[str, Any]] = {"zero-shot": {"0": play(checkpoint)}, "prompting": {}, "finetune": {},
                                          "scratch": {}}
    prompt_steps = {}
    for k in ks:
        prompt = prompt_for(demos, k, L, context_steps(meta, cfg, L), trained_prompt_mode(meta))
        if prompt is not None:
            methods["prompting"][str(k)] = play(checkpoint, prompt)
            prompt_steps[str(k)] = [len(p) // L for p in prompt]
        for finetune in (True, False):
            ckpt = _adapt(checkpoint, cfg, text, task_id, cache, k, Path(work) / task_id, steps, finetune, s,
                          meta.get("segment_steps"))
            methods["finetune" if finetune else "scratch"][str(k)] = play(ckpt)
        if progress:
            print(f"  {task_id} k={k}: " + ", ".join(f"{m} {v[str(k)]['normalized']:.2f}" for m, v in methods.items()
                                                     if str(k) in v), flush=True)
    ref = task.reference()
    return {"seeds": seeds, "metric": task.metric, "random": ref["random"], "expert": ref["expert"],
            "demos": {"seeds": list(range(max(ks))), "prompt_timesteps": prompt_steps, "train_steps": steps},
            "methods": methods, "seconds": time.perf_counter() - t0}
