"""DecoderPolicy: the batched KV-cache policy of every decoder-only family (Gato, MoE, Gato-MoE).

All envs share one batched KV cache (one row each, left-padded where rows differ in length), so a step
of N envs is one forward pass per token, not N. Every step feeds only the new timestep's observation
tokens and the separator, then decodes the action tokens one by one, each restricted to the ids its
field can take (`TimestepSpec.action_id_ranges`), greedily or by sampling. Episode contexts, prompts and
window slides are the shared EpisodePolicy's (agent/policy_base.py); a slid or new context is re-fed into
its row of the cache from position 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gatosuite.errors import ConfigError
from gatosuite.tokenization import TokenSequence

from .batch import collate
from .contract import DecoderActing
from .kv_cache import KVCache
from .policy_base import MODE_WINDOW, EpisodePolicy, single_token

__all__ = ["MODE_WINDOW", "DecoderPolicy"]


class DecoderPolicy(EpisodePolicy):
    """Acts in one task with a decoder-only checkpoint through one batched KV cache."""

    cache: KVCache | None = None

    def _check_model(self, model: Any, source: str) -> None:
        if not isinstance(model, DecoderActing):
            raise ConfigError(f"{source} is a '{type(model.cfg).architecture}' model, which does not decode "
                              "through a KV cache; use gatosuite.agent.factory.make_policy, which picks its "
                              "family's own policy")

    def _new_episodes(self, num_envs: int) -> None:
        self.cache = self.model.new_cache(num_envs)

    def _rebuild(self, ks: list[int]) -> None:
        """Re-feed the prompt and kept timesteps of envs `ks` into their cache rows, from position 0: one
        forward pass for every group of contexts of equal length (envs in step slide together)."""
        contexts = {k: self.context(k) for k in ks}
        contexts = {k: TokenSequence.concatenate(c) if c else None for k, c in contexts.items()}
        groups: dict[int, list[int]] = {}
        for k, c in contexts.items():
            groups.setdefault(0 if c is None else len(c), []).append(k)
        for length, group in groups.items():
            rows = self.model.new_cache(len(group))
            if length:
                self._feed([contexts[k] for k in group], rows)
            for i, k in enumerate(group):
                self.cache.set_row(k, rows.row(i))

    def _decode(self, prefixes: list[TokenSequence]) -> np.ndarray:
        n = len(prefixes)
        logits = self._feed(prefixes, self.cache)  # (N, V)
        chosen = np.zeros((n, len(self.ranges)), np.int64)
        for j in range(len(self.ranges)):
            chosen[:, j] = self._choose(logits, j)
            kind = int(self.action_kinds[j])
            logits = self._feed([single_token(kind, int(chosen[k, j]), self.t[k]) for k in range(n)], self.cache)
        return chosen

    def _feed(self, seqs: list[TokenSequence], cache: KVCache) -> torch.Tensor:
        """Feed one sequence per row of `cache`; (N, V) fp32 logits on the CPU, where actions are picked."""
        batch = collate(seqs, self.tok.vocab).to(self.rt.device)
        with self.rt.autocast():
            logits = self.model.next_token_logits(batch, cache)  # (N, V)
        return logits.float().cpu()
