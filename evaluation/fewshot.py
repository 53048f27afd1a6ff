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
never overlap the evaluation seeds (1000 onward by default); evaluation/prompts.py collects them and cuts
the prompts, and evaluation/adapt.py trains the fine-tuned and scratch models.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gatosuite.agent.checkpoint import config_of, read_config
from gatosuite.agent.factory import make_policy
from gatosuite.datasets.cache import dataset_obs_stats, open_cache
from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError
from gatosuite.tokenization import ObsStats, TextModel, TokenSequence
from gatosuite.tokenization.task import task_tokenizer

from .adapt import adapt_to_demonstrations
from .evaluate import EvalSettings
from .fewshot_goal import fewshot_goal_family
from .prompts import collect_demonstrations, context_steps, prompt_for, trained_prompt_mode
from .rollout import rollout
from .scores import task_summary


def task_obs_stats(meta: dict[str, Any], task_id: str, demo_root: Path) -> ObsStats | None:
    """Observation statistics for a task under a checkpoint trained with standardization: the
    checkpoint's own for a trained task, else its demonstrations' (for every method, zero-shot included);
    None for a checkpoint trained on Gato's plain tokenization."""
    if not meta.get("obs_stats"):
        return None
    if task_id in meta["obs_stats"]:
        return ObsStats.from_dict(meta["obs_stats"][task_id])
    return dataset_obs_stats(demo_root, task_id)


def fewshot_task(checkpoint: Path, task_id: str, root: Path, work: Path, ks: list[int], s: EvalSettings,
                 steps: int = 150, progress: bool = True, oracle: Path | None = None, adapt: bool = True,
                 video_dir: Path | None = None, prompting: bool = True) -> dict[str, Any]:
    """The `fewshot[task_id]` block of eval_info.json: every method and k on the same seeds
    (`prompting=False` leaves prompting out, for a caller that does not report it). For a goal family's
    held-out task (envs/hidden.py), evaluation/fewshot_goal.py runs it, with `oracle`, `adapt` and
    `video_dir` as described there; it prompts whenever the prompt fits (a demonstration is how it shows the goal)."""
    task = SUITE[task_id]
    if task.goal_family is not None and task.heldout:  # goals only a demonstration reveals
        return fewshot_goal_family(checkpoint, task_id, root, work, ks, s, steps, progress, oracle=oracle,
                                   adapt=adapt, video_dir=video_dir)
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
        prompt = prompt_for(demos, k, L, context_steps(meta, cfg, L), trained_prompt_mode(meta)) if prompting else None
        if prompt is not None:
            methods["prompting"][str(k)] = play(checkpoint, prompt)
            prompt_steps[str(k)] = [len(p) // L for p in prompt]
        for finetune in (True, False):
            ckpt = adapt_to_demonstrations(checkpoint, cfg, text, task_id, cache, k, Path(work) / task_id, steps,
                                           finetune, s, meta.get("segment_steps"))
            methods["finetune" if finetune else "scratch"][str(k)] = play(ckpt)
        if progress:
            print(f"  {task_id} k={k}: " + ", ".join(f"{m} {v[str(k)]['normalized']:.2f}" for m, v in methods.items()
                                                     if str(k) in v), flush=True)
    ref = task.reference()
    return {"seeds": seeds, "metric": task.metric, "random": ref["random"], "expert": ref["expert"],
            "demos": {"seeds": list(range(max(ks))), "prompt_timesteps": prompt_steps, "train_steps": steps},
            "methods": methods, "seconds": time.perf_counter() - t0}
