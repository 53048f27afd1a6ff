"""The mixed training sampler: token windows from many tasks' caches, with Gato's prompt conditioning.

* Tasks are drawn by weight; episodes uniformly within a task.
* Episode windows start and end at timestep boundaries and hold as many whole timesteps as fit.
* With probability `prompt_prob` (Gato: 25%) a window starts with a demonstration from *another*
  episode of the same task: half of the time that episode's last timesteps, half of the time a uniformly
  placed stretch. The prompt takes at most half the window.
* Text and caption caches are packed: whole documents (or samples) back to back until the window is full.
* With `segment_steps`, an episode window holds at most that many timesteps (prompt included), and
  `sample_rows` packs several such independent segments into each row of `window` tokens: many more
  distinct stretches of experience per step at the same cost, which is what behaviour cloning of
  continuous control needs (benchmarks/bench_learning.py). Without it a window is filled (Gato).
* Held-out tasks are refused unless named in `allow_heldout`; the registry's tags decide.

The sampler's state (its generator) is saved with checkpoints, so a resumed run draws the same windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from gatosuite.envs import SUITE
from gatosuite.errors import ConfigError
from gatosuite.tokenization import TokenSequence

from .cache import TokenCache

PROMPT_MODES = ("gato", "end", "whole")


def evaluation_prompt_mode(training_mode: str) -> str:
    """Where few-shot evaluation cuts a prompt for a model trained with `training_mode`: 'whole' keeps a
    demonstration's start; Gato's 'gato' and 'end' both prompt with its end."""
    return "whole" if training_mode == "whole" else "end"


class MixedSampler:
    def __init__(self, caches: Mapping[str, TokenCache], weights: Mapping[str, float] | None = None,
                 window: int = 512, seed: int = 0, prompt_prob: float = 0.25,
                 allow_heldout: Sequence[str] = (), split: str = "all", val_fraction: float = 0.1,
                 segment_steps: int | None = None, prompt_mode: str = "gato",
                 prompts_from_all: bool = False, mask_prompt: bool = False,
                 goal_start_prob: float = 0.0) -> None:
        """`split` 'train' or 'val' keeps the first (1 - val_fraction) or the last val_fraction of each
        task's episodes (at least one each when a task has two or more); 'all' uses every episode.

        With probability `prompt_prob` a window opens with a stretch of another episode of the same task
        (Gato's prompt conditioning); in a goal family's cache (envs/hidden.py), of the same variant (the same
        goal), so that the prompt carries what the observation hides. `prompt_mode` places it: 'gato' the
        demonstration's end or, as often, a random stretch of it; 'end' always its end (what few-shot
        prompting feeds); 'whole' the demonstration from its start, cut to the prompt's share if longer.
        `prompts_from_all`: a goal family's prompts may come from any split (for validation: few held-out
        episodes share a variant). `mask_prompt`: no loss on the prompt's tokens (to measure the NLL of
        the episode given its prompt).
        `goal_start_prob`: probability that a goal family's window starts at its episode's first
        timestep, where nothing but the prompt tells the goal (later, the hand's own motion does)."""
        if prompt_mode not in PROMPT_MODES:
            raise ConfigError(f"prompt mode '{prompt_mode}' is unknown; use one of {', '.join(PROMPT_MODES)}")
        self.prompt_mode, self.mask_prompt = prompt_mode, mask_prompt
        if not 0.0 <= goal_start_prob <= 1.0:
            raise ConfigError(f"goal_start_prob is a probability in [0, 1], got {goal_start_prob}")
        self.goal_start_prob = goal_start_prob
        if not caches:
            raise ValueError("MixedSampler needs at least one task cache")
        for task_id in caches:
            task = SUITE[task_id]
            if task.heldout and task_id not in allow_heldout:
                raise ConfigError(f"task '{task_id}' is held out; it can enter a training mix only when named "
                                 "explicitly (allow_heldout)")
        weights = dict(weights or {t: 1.0 for t in caches})
        missing = set(weights) ^ set(caches)
        if missing:
            raise ValueError(f"weights and caches name different tasks: {sorted(missing)}")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f"task weights must be non-negative with a positive sum, got {weights}")
        self.caches = dict(caches)
        self.tasks = list(self.caches)
        p = np.array([weights[t] for t in self.tasks], dtype=np.float64)
        self.p = p / p.sum()
        self.window, self.prompt_prob, self.segment_steps = window, prompt_prob, segment_steps
        if segment_steps is not None and segment_steps < 1:
            raise ConfigError(f"segment_steps must be at least 1, got {segment_steps}")
        self.rng = np.random.default_rng(seed)
        self.stats = {"windows": 0, "prompted": 0}
        self.episodes = {t: _split(len(c), split, val_fraction) for t, c in self.caches.items()}
        self.by_variant = {t: _by_variant(c.variants, np.arange(len(c)) if prompts_from_all else self.episodes[t])
                           for t, c in self.caches.items() if getattr(c, "variants", None) is not None}
        for t, c in self.caches.items():
            tpt = c.tokens_per_timestep
            if tpt is not None and tpt > window:
                raise ConfigError(f"task '{t}' has {tpt} tokens per timestep, more than the {window}-token window")

    # --- state for exact resume -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    # --- sampling ----------------------------------------------------------------------------------------
    def sample(self) -> tuple[str, TokenSequence]:
        """One window: (task id, tokens of at most `window` length)."""
        task = self.tasks[int(self.rng.choice(len(self.tasks), p=self.p))]
        cache = self.caches[task]
        self.stats["windows"] += 1
        if cache.tokens_per_timestep is None:
            return task, self._packed(cache, self.episodes[task])
        return task, self._episode_window(task, cache, self.episodes[task])

    def _episode_window(self, task: str, cache: TokenCache, pool: np.ndarray) -> TokenSequence:
        tpt = cache.tokens_per_timestep
        budget = self.window // tpt  # whole timesteps that fit
        if self.segment_steps is not None:
            budget = min(budget, self.segment_steps)
        j = int(self.rng.integers(len(pool)))
        ep = int(pool[j])
        parts = []
        from_start = False
        if task in self.by_variant:  # prompts come from episodes of the same variant
            pool = self.by_variant[task][cache.variants[ep]]
            j = int(np.searchsorted(pool, ep))
            from_start = self.goal_start_prob > 0 and self.rng.random() < self.goal_start_prob
        if self.rng.random() < self.prompt_prob and len(pool) > 1:
            other = int(self.rng.integers(len(pool) - 1))
            other = int(pool[other + (other >= j)])  # another episode of the same task (variant) and split
            prompt = cache.episode(other)
            n = len(prompt) // tpt
            k = min(n, max(1, budget // 2))
            if self.prompt_mode == "whole":
                start = 0
            elif self.prompt_mode == "end" or self.rng.random() < 0.5:
                start = n - k
            else:
                start = int(self.rng.integers(n - k + 1))
            part = prompt.slice(start * tpt, (start + k) * tpt)
            if self.mask_prompt:
                part.loss_mask = np.zeros_like(part.loss_mask)
            parts.append(part)
            budget -= k
            self.stats["prompted"] += 1
        seq = cache.episode(ep)
        n = len(seq) // tpt
        k = min(n, budget)
        start = 0 if from_start else int(self.rng.integers(n - k + 1))
        parts.append(seq.slice(start * tpt, (start + k) * tpt))
        return TokenSequence.concatenate(parts)

    def _packed(self, cache: TokenCache, pool: np.ndarray) -> TokenSequence:
        parts, used = [], 0
        while used < self.window:
            doc = cache.episode(int(pool[int(self.rng.integers(len(pool)))]))
            take = min(len(doc), self.window - used)
            parts.append(doc.slice(0, take))
            used += take
        return TokenSequence.concatenate(parts)

    def sample_rows(self, n: int) -> list[list[tuple[str, TokenSequence]]]:
        """n rows, each independent segments (task, tokens) packed back to back within `window` tokens.
        Without `segment_steps` every row is one window, as `sample_many` draws them."""
        if self.segment_steps is None:
            return [[self.sample()] for _ in range(n)]
        rows: list[list[tuple[str, TokenSequence]]] = []
        row, used = [], 0
        while len(rows) < n:
            task, seq = self.sample()
            if row and used + len(seq) > self.window:  # a full row; the segment opens the next one
                rows.append(row)
                row, used = [], 0
            row.append((task, seq))
            used += len(seq)
        return rows

    def sample_many(self, n: int) -> tuple[list[str], list[TokenSequence]]:
        tasks, seqs = [], []
        for _ in range(n):
            t, s = self.sample()
            tasks.append(t)
            seqs.append(s)
        return tasks, seqs


def _by_variant(variants: list[int] | None, pool: np.ndarray) -> dict[int, np.ndarray]:
    """The split's episodes grouped by variant, each group sorted."""
    groups: dict[int, list[int]] = {}
    for e in pool:
        groups.setdefault(int(variants[int(e)]), []).append(int(e))
    return {v: np.array(sorted(g)) for v, g in groups.items()}


def _split(n: int, split: str, val_fraction: float) -> np.ndarray:
    if split == "all" or n < 2:
        return np.arange(n)
    n_val = max(1, int(round(n * val_fraction)))
    if split == "train":
        return np.arange(n - n_val)
    if split == "val":
        return np.arange(n - n_val, n)
    raise ValueError(f"split must be 'all', 'train' or 'val', got {split!r}")
