"""Expert demonstrations of a task, and the prompts cut from them for a checkpoint.

Every path that prompts a policy with demonstrations uses these: the few-shot protocol on a held-out task
(evaluation/fewshot.py), its goal-family version (evaluation/fewshot_goal.py), and `gatosuite rollout
--prompt-episodes`. A prompt is cut as the checkpoint's training cut them (`trained_prompt_mode`) and takes
at most half of the context, as in training (`prompt_for`).

Demonstrations are collected by the task's expert into `<root>/fewshot-demos` with seeds 0..n-1, which
never overlap the evaluation seeds (1000 onward by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatosuite.agent.checkpoint import train_args_of
from gatosuite.datasets.cache import TokenCache, open_cache
from gatosuite.datasets.sampler import evaluation_prompt_mode
from gatosuite.tokenization import Tokenizer, TokenSequence


def collect_demonstrations(task_id: str, n: int, root: Path) -> Path:
    """Collect (or reuse) n expert episodes of the task, seeds 0..n-1; returns their dataset root."""
    from gatosuite.datasets.collect import collect  # collection only where demonstrations are needed

    demo_root = Path(root) / "fewshot-demos"
    # demonstrations of an earlier run with another n are ours to replace; a killed collection resumes
    collect(task_id, n, demo_root, progress=False, replace_mismatched=True, resume=True)
    return demo_root


def demonstrations(task_id: str, n: int, root: Path, tok: Tokenizer) -> TokenCache:
    """n expert episodes of the task (seeds 0..n-1) under <root>/fewshot-demos, tokenized for `tok`."""
    return open_cache(collect_demonstrations(task_id, n, root), task_id, tok)


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
    return evaluation_prompt_mode(str(train_args_of(meta).get("prompt_mode", "gato")))
