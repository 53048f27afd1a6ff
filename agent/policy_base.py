"""EpisodePolicy: what every policy of the zoo does apart from running its model.

A policy is the trained model as a Gymnasium policy, `reset()` and `act(obs) -> action`, batched over a
vector env (agent/contract.py:Policy). This base holds what does not depend on how a family decodes:
loading and checking the checkpoint, the task's tokenizer, each env's episode context (prompt
demonstrations pinned at its start, the timesteps played so far), sliding a window that would overflow
at a timestep boundary, and picking an action bin from a field's logits. A subclass says how a context
becomes logits: `DecoderPolicy` (agent/policy.py) feeds new tokens through a batched KV cache, and
`Seq2SeqPolicy` (agent/policy_seq2seq.py) encodes each env's window and decodes the action fields.

When an env's next timestep would not fit, its window slides: the older half of its own timesteps is
dropped and the prompt plus the kept ones start again from position 0, exactly as training windows start
(a prompt, then a stretch of the episode). Positions never drift (JAT shifted positions after trimming its
cache), and dropping half at once keeps the re-feeding cost to one window every half window of steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatosuite.errors import ConfigError
from gatosuite.tokenization import ObsStats, TextModel, TokenKind, TokenSequence

from .checkpoint import CheckpointMismatchError, load_model
from .runtime import Runtime, resolve

MODE_WINDOW = 64
"""Half-width, in bins of 1024, of the neighbourhood of the mode that 'mode-mean' decoding averages over."""


def single_token(kind: int, token_id: int, timestep: int) -> TokenSequence:
    """A one-token sequence: an action token a policy chose, to feed back or keep in the context."""
    seq = TokenSequence.empty()
    seq.ids, seq.kinds = np.array([token_id], np.int64), np.array([kind], np.uint8)
    seq.local_pos, seq.timestep = np.array([-1], np.int32), np.array([timestep], np.int32)
    seq.loss_mask = np.array([True])
    return seq


def index_obs(obs: Any, k: int) -> Any:
    """Env k's observation out of a vector env's batched one, kept batched (a leading axis of 1)."""
    if isinstance(obs, dict):
        return {key: index_obs(v, k) for key, v in obs.items()}
    if isinstance(obs, (list, tuple)):
        return [obs[k]]
    return np.asarray(obs)[k: k + 1]


class EpisodePolicy:
    """Acts in one task with a trained checkpoint; subclasses run the model (see the module docstring)."""

    def __init__(self, checkpoint: str | Path, task_id: str, greedy: bool = True, temperature: float = 1.0,
                 seed: int = 0, prompt: list[TokenSequence] | None = None, device: str | None = None,
                 precision: str | None = None, obs_stats: ObsStats | None = None,
                 prompt_of_seed: Callable[[int], list[TokenSequence]] | None = None) -> None:
        """`prompt`: demonstrations (whole timesteps of this task) that open every episode's context.
        `prompt_of_seed`: instead, each episode's own demonstrations, chosen by its reset seed (in a
        goal family, demonstrations of the goal that seed plays); a rollout tells the policy
        each episode's seed through `set_episode_seeds`.
        `device` and `precision`: 'auto' (the default, see `agent/runtime.py`), or as named.
        `obs_stats`: observation statistics for a task the checkpoint has none of (a held-out task's own
        demonstrations'); a trained task's come from the checkpoint."""
        rt = resolve(device, precision, workload="act")
        model, meta = load_model(Path(checkpoint), device=rt.device)
        text = TextModel.load(checkpoint)
        if meta.get("text_model_sha256") not in (None, text.fingerprint):
            raise CheckpointMismatchError(f"'{checkpoint}' holds a tokenizer.model other than the one it was "
                                          "trained with")
        self.prompt_of_seed = prompt_of_seed
        if hasattr(model, "select_task"):  # per-task structure (PathNet's paths, muNet's routes): run this task's
            model.select_task(task_id)  # (a policy around a model in memory runs that model as it stands)
        self._setup(model, text, task_id, rt, meta, str(checkpoint), greedy, temperature, seed, prompt, obs_stats)

    @classmethod
    def from_model(cls, model: Any, text: TextModel | None, task_id: str, rt: Runtime, greedy: bool = True,
                   meta: dict[str, Any] | None = None) -> EpisodePolicy:
        """A policy around a model in memory (e.g. one being trained), on the model's own device; `meta`
        as a checkpoint's config.json would hold it (segment length, observation statistics, tasks)."""
        self = cls.__new__(cls)
        self.prompt_of_seed = None
        self._setup(model, text, task_id, rt, meta or {}, "the model", greedy, 1.0, 0, None, None)
        return self

    def _check_model(self, model: Any, source: str) -> None:
        """Refuse a model this policy cannot run (a subclass checks its acting protocol)."""
        raise NotImplementedError

    def _setup(self, model: Any, text: TextModel | None, task_id: str, rt: Runtime, meta: dict[str, Any],
               source: str, greedy: bool, temperature: float, seed: int, prompt: list[TokenSequence] | None,
               obs_stats: ObsStats | None) -> None:
        from gatosuite.tokenization.task import task_tokenizer

        if not getattr(model, "can_act", False):
            raise ConfigError(f"{source} is a '{type(model.cfg).architecture}' model, which cannot act; use "
                              "gatosuite.agent.factory.make_policy, which refuses it with the reason")
        self._check_model(model, source)
        self.rt, self.model = rt, model
        self.model.eval()
        trained_stats = (meta.get("obs_stats") or {}).get(task_id)
        if trained_stats is not None:
            obs_stats = ObsStats.from_dict(trained_stats)
        self.tok = task_tokenizer(task_id, text, obs_stats)
        if self.tok.vocab.size != self.model.cfg.vocab_size:
            raise CheckpointMismatchError(
                f"task '{task_id}' tokenizes into {self.tok.vocab.size} ids but {source}'s model has "
                f"{self.model.cfg.vocab_size}")
        spec = self.tok.spec
        trained = meta.get("modalities")
        if trained is not None:
            needed = {TokenKind(k).name.lower() for k in np.unique(spec.kinds())} - {"separator"}
            missing = sorted(needed - set(trained))
            if missing:
                raise CheckpointMismatchError(
                    f"task '{task_id}' needs {', '.join(missing)} tokens, which '{source}' never saw in "
                    f"training (its tasks: {', '.join(meta.get('tasks', []))}); their embeddings are untrained. "
                    "Train or fine-tune with a task that has them")
        from .batch import task_vocabulary

        vocab = task_vocabulary(self.model.cfg, meta.get("tasks", []))
        self.task_index = vocab.index(task_id) if task_id in vocab else -1
        """This task's index in the model's task vocabulary (-1: a task it never trained on)."""
        self.L = spec.tokens_per_timestep
        self.capacity = self.model.cfg.context // self.L  # whole timesteps that fit the context
        if meta.get("segment_steps"):  # trained on packed segments: never hold more than one segment
            self.capacity = min(self.capacity, int(meta["segment_steps"]))
        if self.capacity < 1:
            raise ConfigError(f"task '{task_id}' needs {self.L} tokens per timestep; the model's context is "
                             f"{self.model.cfg.context}")
        self.ranges = spec.action_id_ranges(self.tok.vocab)
        self.action_kinds = spec.kinds()[spec.obs_tokens + 1:]
        self.greedy, self.temperature = greedy, temperature
        self.decoding = getattr(self.model.cfg, "continuous_decoding", "argmax")
        self.gen = torch.Generator().manual_seed(seed)
        self.prompt: list[TokenSequence] = []
        self.row_prompts: dict[int, list[TokenSequence]] = {}  # per env, from prompt_of_seed: overrides prompt
        self.steps: list[list[TokenSequence]] = []  # per env: this episode's timesteps in the context
        self.t: list[int] = []  # per env: timesteps played in this episode
        self.num_envs = 0
        if prompt:
            self.reset(1, prompt)

    # --- episode bookkeeping --------------------------------------------------------------------------
    def reset(self, num_envs: int = 1, prompt: list[TokenSequence] | None = None) -> None:
        """Start `num_envs` fresh episodes, each context opening with the `prompt` timesteps."""
        if prompt is not None:
            self.prompt = self._timesteps(prompt)
        self.num_envs = num_envs
        self._new_episodes(num_envs)
        self.steps, self.t = [[] for _ in range(num_envs)], [0] * num_envs
        if self.prompt or self.row_prompts:
            self.reset_envs(np.ones(num_envs, bool))

    def _new_episodes(self, num_envs: int) -> None:
        """Model-side state for `num_envs` fresh contexts (a subclass's cache)."""

    def _timesteps(self, prompt: list[TokenSequence]) -> list[TokenSequence]:
        """Demonstrations -> their timesteps, checked to be whole and to leave room in the context."""
        for p in prompt:
            if len(p) % self.L:
                raise ConfigError(f"prompt of {len(p)} tokens is not whole timesteps of {self.L}")
        steps = [p.slice(i, i + self.L) for p in prompt for i in range(0, len(p), self.L)]
        if len(steps) >= self.capacity:
            raise ConfigError(f"a prompt of {len(steps)} timesteps leaves no room in a context of "
                             f"{self.capacity} timesteps; pass fewer or shorter demonstrations")
        return steps

    def set_episode_seeds(self, seeds: list[int | None]) -> None:
        """The reset seed of the episode each env starts next (None: an idle slot), called by a rollout
        before reset/reset_envs; with `prompt_of_seed`, it picks those envs' prompts (the others keep theirs)."""
        if self.prompt_of_seed is not None:
            self.row_prompts.update({k: self._timesteps(self.prompt_of_seed(s)) for k, s in enumerate(seeds)
                                     if s is not None})

    def _prompt(self, k: int) -> list[TokenSequence]:
        return self.row_prompts.get(k, self.prompt)

    def context(self, k: int) -> list[TokenSequence]:
        """Env k's context: its prompt, then the timesteps it keeps of this episode."""
        return self._prompt(k) + self.steps[k]

    def reset_envs(self, mask: np.ndarray) -> None:
        """Start new episodes in the envs where `mask` is true (e.g. after a vector env's autoreset)."""
        ks = [int(k) for k in np.flatnonzero(mask)]
        for k in ks:
            self.steps[k], self.t[k] = [], 0
        self._rebuild(ks)

    def _rebuild(self, ks: list[int]) -> None:
        """The contexts of envs `ks` changed other than by one more timestep (new episodes, slid windows);
        one call for all of them, so that a subclass can re-feed them together."""

    # --- acting ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Any) -> Any:
        """Actions for a batch of observations (one per env), in the action space's batched form."""
        if not self.num_envs:
            raise RuntimeError("call reset(num_envs) before act()")
        n = self.num_envs
        slid = []
        for k in range(n):
            if len(self._prompt(k)) + len(self.steps[k]) + 1 > self.capacity:
                keep = (self.capacity - len(self._prompt(k))) // 2  # drop the older half of the episode's timesteps
                self.steps[k] = self.steps[k][len(self.steps[k]) - keep:] if keep else []
                slid.append(k)
        if slid:  # envs in step slide together: one rebuild for all of them
            self._rebuild(slid)
        prefixes = [self.tok.encode_prefix(index_obs(obs, k), first_timestep=self.t[k]) for k in range(n)]
        chosen = self._decode(prefixes)  # (N, fields)
        for k in range(n):
            actions = [single_token(int(self.action_kinds[j]), int(c), self.t[k]) for j, c in enumerate(chosen[k])]
            self.steps[k].append(TokenSequence.concatenate([prefixes[k]] + actions))
            self.t[k] += 1
        return self.tok.decode_actions(chosen)

    def _decode(self, prefixes: list[TokenSequence]) -> np.ndarray:
        """Each env's new observation tokens and separator -> (N, fields) chosen action ids."""
        raise NotImplementedError

    def _choose(self, logits: torch.Tensor, j: int) -> np.ndarray:
        """(N, V) logits of action field j -> (N,) chosen ids, restricted to the field's range."""
        lo, hi = self.ranges[j]
        continuous = int(self.action_kinds[j]) == TokenKind.ACTION_CONTINUOUS
        return lo + self._pick(logits[:, lo:hi], continuous)

    def _pick(self, logits: torch.Tensor, continuous: bool) -> np.ndarray:
        """(N, R) logits over a field's ids -> (N,) chosen offsets. Greedy picks the mode; for a
        continuous field, `decoding='mean'` picks the bin nearest the distribution's expectation, and
        'mode-mean' the bin nearest the expectation within MODE_WINDOW bins of the mode (smooth like the
        mean, but it stays on one mode of a two-mode distribution, where the mean falls between them)."""
        if self.greedy and continuous and self.decoding in ("mean", "mode-mean"):
            probs = torch.softmax(logits.float(), dim=-1)  # (N, R)
            bins = torch.arange(logits.shape[1], dtype=torch.float32)
            if self.decoding == "mode-mean":
                mode = torch.argmax(logits, dim=-1, keepdim=True).float()
                probs = probs * ((bins - mode).abs() <= MODE_WINDOW)
                probs = probs / probs.sum(-1, keepdim=True)
            mean = probs @ bins  # (N,) expected bin index
            return mean.round().long().numpy()
        if self.greedy:
            return torch.argmax(logits, dim=-1).numpy()
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        return torch.multinomial(probs, 1, generator=self.gen)[:, 0].numpy()
