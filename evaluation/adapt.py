"""Adapting a checkpoint to k demonstrations by training: the fine-tuning and from-scratch baselines of
the few-shot protocol (evaluation/fewshot.py, and per goal in evaluation/fewshot_goal.py).

Fine-tuning starts from the checkpoint's weights (Gato section 5.2); scratch trains a model of the same
shape from fresh weights with the same steps, learning rate and batches, so only the starting weights
differ between the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatosuite.agent.train import TrainArgs, train
from gatosuite.datasets.cache import EpisodeSubset, TokenCache
from gatosuite.tokenization import TextModel

from .evaluate import EvalSettings


def adapt_to_demonstrations(checkpoint: Path, cfg: Any, text: TextModel, task_id: str,
                            cache: TokenCache | EpisodeSubset, k: int, work: Path, steps: int, finetune: bool,
                            s: EvalSettings, segment_steps: int | None) -> Path:
    """Train on the first k demonstrations of `cache`, from the checkpoint (finetune) or from scratch with
    its shape `cfg`, into `work/{finetune,scratch}-k{k}`; returns the new checkpoint."""
    out = work / f"{'finetune' if finetune else 'scratch'}-k{k}"
    args = TrainArgs(tasks=task_id, out=out, window=cfg.context, batch_size=16, steps=steps,
                     warmup=max(1, steps // 10), lr=1e-3, val_fraction=0.0, log_every=steps,
                     ckpt_every=10**9, allow_heldout=[task_id], seed=s.seed, device=s.device,
                     precision=s.precision, init_from=checkpoint if finetune else None,
                     segment_steps=segment_steps or 0)  # the checkpoint's (0: one window per row), not a recipe's
    train(args, text, {task_id: EpisodeSubset(cache, list(range(k)))}, progress=False,
          cfg=None if finetune else cfg)
    return out / "checkpoint"
