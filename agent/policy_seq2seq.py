"""Seq2SeqPolicy: the batched policy of every encoder-decoder family (MultiModel, UniT, OFA).

At every step each env's window (its prompt, the timesteps it keeps, and the new observation with its
separator) is collated into one batch and encoded afresh; the decoder then emits the action fields one by
one, each restricted to its field's ids, reading the encoder's memory through an EncoderDecoderCache
that also holds its own self-attention keys and values over the fields decoded so far.

Why re-encode rather than cache the encoder: the encoder is block-causal over timesteps, so the states of
past timesteps would in principle survive a new one, but each family's encoder differs in what it could
keep (MultiModel's convolutions see across the timestep boundary, UniT runs one encoder per modality,
OFA's instruction opens the window), and a slid window restarts every position anyway. Re-encoding is
exact by construction for all three, and at the nano size a window of at most one 8-timestep segment
costs one encoder pass per step; `benchmarks/bench_act.py` measures what that costs against Gato's KV
cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gatosuite.errors import ConfigError
from gatosuite.tokenization import TokenSequence

from .batch import collate, collate_rows
from .contract import Seq2SeqActing
from .policy_base import EpisodePolicy, single_token


class Seq2SeqPolicy(EpisodePolicy):
    """Acts in one task with an encoder-decoder checkpoint, re-encoding each env's window every step."""

    def _check_model(self, model: Any, source: str) -> None:
        if not isinstance(model, Seq2SeqActing):
            raise ConfigError(f"{source} is a '{type(model.cfg).architecture}' model, which is not an "
                              "encoder-decoder; use gatosuite.agent.factory.make_policy, which picks its "
                              "family's own policy")

    def _decode(self, prefixes: list[TokenSequence]) -> np.ndarray:
        n = len(prefixes)
        rows = [[TokenSequence.concatenate(self.context(k) + [prefixes[k]])] for k in range(n)]
        context = collate_rows(rows, self.tok.vocab, tasks=[[self.task_index]] * n).to(self.rt.device)
        with self.rt.autocast():
            logits, cache = self.model.start(context)  # (N, V)
        chosen = np.zeros((n, len(self.ranges)), np.int64)
        for j in range(len(self.ranges)):
            chosen[:, j] = self._choose(logits.float().cpu(), j)
            if j + 1 < len(self.ranges):
                kind = int(self.action_kinds[j])
                fed = collate([single_token(kind, int(chosen[k, j]), self.t[k]) for k in range(n)],
                              self.tok.vocab).to(self.rt.device)
                with self.rt.autocast():
                    logits = self.model.next_token_logits(fed, cache)  # (N, V)
        return chosen
