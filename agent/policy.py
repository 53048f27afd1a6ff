"""GatoPolicy: the trained model as a Gymnasium policy, `reset()` and `act(obs) -> action`, batched
over a vector env.

Each env slot keeps its own KV cache. Every step feeds only the new timestep's observation tokens and the
separator, then decodes the action tokens one by one, each restricted to the ids its field can take
(`TimestepSpec.action_id_ranges`), greedily or by sampling. When the next timestep would not fit the
context, the window slides at a timestep boundary: the oldest timesteps are dropped and the kept ones
are re-fed into a fresh cache from position 0, exactly as training windows start, so positions never
drift (JAT shifted positions after trimming its cache). Demonstrations passed to `reset(prompt=...)`
are placed at the start of every episode's context (few-shot prompting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.tokenization import TextModel, TokenSequence

from .batch import collate
from .checkpoint import CheckpointMismatchError, load_model
from .modeling_gato import KVCache


def _single(kind: int, token_id: int, timestep: int) -> TokenSequence:
    seq = TokenSequence.empty()
    seq.ids, seq.kinds = np.array([token_id], np.int64), np.array([kind], np.uint8)
    seq.local_pos, seq.timestep = np.array([-1], np.int32), np.array([timestep], np.int32)
    seq.loss_mask = np.array([True])
    return seq


def _index(obs: Any, k: int) -> Any:
    if isinstance(obs, dict):
        return {key: _index(v, k) for key, v in obs.items()}
    if isinstance(obs, (list, tuple)):
        return [obs[k]]
    return np.asarray(obs)[k: k + 1]


class GatoPolicy:
    """Acts in one task with a trained checkpoint."""

    def __init__(self, checkpoint: str | Path, task_id: str, greedy: bool = True, temperature: float = 1.0,
                 seed: int = 0) -> None:
        from gatosuite.datasets.cache import task_tokenizer

        self.model, meta = load_model(Path(checkpoint))
        self.model.eval()
        text = TextModel.load(checkpoint)
        if meta.get("text_model_sha256") not in (None, text.fingerprint):
            raise CheckpointMismatchError(f"'{checkpoint}' holds a tokenizer.model other than the one it was "
                                          "trained with")
        self.tok = task_tokenizer(task_id, text)
        if self.tok.vocab.size != self.model.cfg.vocab_size:
            raise CheckpointMismatchError(
                f"task '{task_id}' tokenizes into {self.tok.vocab.size} ids but the checkpoint's model has "
                f"{self.model.cfg.vocab_size}")
        spec = self.tok.spec
        self.L = spec.tokens_per_timestep
        if self.L > self.model.cfg.context:
            raise ValueError(f"task '{task_id}' needs {self.L} tokens per timestep; the model's context is "
                             f"{self.model.cfg.context}")
        self.ranges = spec.action_id_ranges(self.tok.vocab)
        self.action_kinds = spec.kinds()[spec.obs_tokens + 1:]
        self.greedy, self.temperature = greedy, temperature
        self.gen = torch.Generator().manual_seed(seed)
        self.prompt: list[TokenSequence] = []
        self.slots: list[dict[str, Any]] = []

    # --- episode bookkeeping --------------------------------------------------------------------------
    def reset(self, num_envs: int = 1, prompt: list[TokenSequence] | None = None) -> None:
        """Start `num_envs` fresh episodes, each context opening with the `prompt` timesteps."""
        if prompt is not None:
            for p in prompt:
                if len(p) % self.L:
                    raise ValueError(f"prompt of {len(p)} tokens is not whole timesteps of {self.L}")
            self.prompt = [p.slice(i, i + self.L) for p in prompt for i in range(0, len(p), self.L)]
        self.slots = [self._fresh() for _ in range(num_envs)]

    def reset_envs(self, mask: np.ndarray) -> None:
        """Start new episodes in the slots where `mask` is true (after a vector env's autoreset)."""
        for k in np.flatnonzero(mask):
            self.slots[k] = self._fresh()

    def _fresh(self) -> dict[str, Any]:
        slot = {"steps": list(self.prompt), "cache": self.model.new_cache(), "t": 0}
        if slot["steps"]:
            self._feed(slot, TokenSequence.concatenate(slot["steps"]))
        return slot

    # --- acting ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Any) -> Any:
        """Actions for a batch of observations (one per env), in the action space's batched form."""
        if not self.slots:
            raise RuntimeError("call reset(num_envs) before act()")
        ids = np.stack([self._act_one(slot, _index(obs, k)) for k, slot in enumerate(self.slots)])
        return self.tok.decode_actions(ids)

    def _act_one(self, slot: dict[str, Any], obs: Any) -> np.ndarray:
        if slot["cache"].length + self.L > self.model.cfg.context:
            self._slide(slot)
        prefix = self.tok.encode_prefix(obs, first_timestep=slot["t"])
        logits = self._feed(slot, prefix)
        chosen = []
        for j, (lo, hi) in enumerate(self.ranges):
            token = lo + self._pick(logits[lo:hi])
            chosen.append(token)
            logits = self._feed(slot, _single(int(self.action_kinds[j]), token, slot["t"]))
        slot["steps"].append(TokenSequence.concatenate(
            [prefix] + [_single(int(self.action_kinds[j]), c, slot["t"]) for j, c in enumerate(chosen)]))
        slot["t"] += 1
        return np.array(chosen, np.int64)

    def _pick(self, logits: torch.Tensor) -> int:
        if self.greedy:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.gen))

    def _feed(self, slot: dict[str, Any], seq: TokenSequence) -> torch.Tensor:
        """Feed tokens through the slot's cache; (V,) logits for the next token."""
        batch = collate([seq], self.tok.vocab)
        return self.model.next_token_logits(batch, slot["cache"])[0]

    def _slide(self, slot: dict[str, Any]) -> None:
        """Drop the oldest timesteps so the next one fits, and rebuild the cache from position 0."""
        keep = self.model.cfg.context // self.L - 1
        slot["steps"] = slot["steps"][-keep:] if keep > 0 else []
        slot["cache"] = KVCache(self.model.cfg.n_layer)
        if slot["steps"]:
            self._feed(slot, TokenSequence.concatenate(slot["steps"]))

