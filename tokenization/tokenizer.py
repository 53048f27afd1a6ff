"""Gato's tokenizer: whole episodes of observations and actions -> one token sequence, and back.

All work is vectorized over timesteps in numpy; the only Python loops run over a task's fields (a
handful) and over the distinct strings of a text field (usually one mission per episode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from . import continuous
from .images import patch_intervals, patchify, unpatchify
from .obs_stats import ObsStats
from .sequence import TokenSequence
from .spec import DEFAULT_MAX_TEXT_TOKENS, FieldSpec, TimestepSpec, TokenKind
from .text import TextModel
from .validate import TokenizationError, as_field_array, check_action_bounds, discrete_values
from .vocab import Vocabulary


def _get(values: Any, f: FieldSpec, is_dict: bool, role: str) -> Any:
    """Pick a field out of a (possibly nested) dict by its '/'-joined key."""
    if not is_dict:
        return values
    node = values
    for part in f.key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            have = sorted(node) if isinstance(node, Mapping) else type(node).__name__
            raise TokenizationError(f"{role} is missing key '{f.key}' (has {have})")
        node = node[part]
    return node


def _leading(values: Any, fields: tuple[FieldSpec, ...], is_dict: bool, role: str) -> int:
    first = _get(values, fields[0], is_dict, role)
    return len(first) if fields[0].kind == TokenKind.TEXT else int(np.shape(first)[0])


class Tokenizer:
    """Tokenizes one task's observations and actions under a :class:`TimestepSpec`."""

    def __init__(self, spec: TimestepSpec, vocab: Vocabulary | None = None,
                 text_model: TextModel | None = None, obs_stats: ObsStats | None = None) -> None:
        """`obs_stats`: standardize continuous observation fields with these statistics before mu-law
        (see tokenization/obs_stats.py); None keeps Gato's tokenization."""
        has_text = any(f.kind == TokenKind.TEXT for f in spec.obs_fields)
        if has_text and text_model is None:
            raise ValueError("this task has Text observations; pass a text_model "
                             "(gatosuite.tokenization.text.default_text_model())")
        if vocab is None:
            vocab = Vocabulary(text_model.vocab_size if text_model else Vocabulary().text_size)
        if text_model is not None and text_model.vocab_size != vocab.text_size:
            raise ValueError(f"text model has {text_model.vocab_size} ids but the vocabulary reserves "
                             f"{vocab.text_size}; build Vocabulary(text_size={text_model.vocab_size})")
        self.spec, self.vocab, self.text_model, self.obs_stats = spec, vocab, text_model, obs_stats
        self._kinds = spec.kinds()
        self._local_pos = spec.local_positions()
        self._loss = spec.loss_mask()
        self._rows_iv, self._cols_iv = self._interval_templates()

    @classmethod
    def from_spaces(cls, observation_space: spaces.Space, action_space: spaces.Space,
                    text_model: TextModel | None = None, vocab: Vocabulary | None = None,
                    max_text_tokens: int = DEFAULT_MAX_TEXT_TOKENS, obs_stats: ObsStats | None = None) -> Tokenizer:
        spec = TimestepSpec.from_spaces(observation_space, action_space, max_text_tokens)
        return cls(spec, vocab, text_model, obs_stats)

    def _interval_templates(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = [np.zeros((0, 2), np.float32)], [np.zeros((0, 2), np.float32)]
        for f in self.spec.obs_fields:
            if f.kind == TokenKind.IMAGE:
                r, c = patch_intervals(f.shape[0], f.shape[1])
                rows.append(r)
                cols.append(c)
        return np.concatenate(rows), np.concatenate(cols)

    # --- observations ------------------------------------------------------------------------------
    def _text_ids(self, f: FieldSpec, strings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        uniq, inverse = np.unique(strings.astype(str), return_inverse=True)
        table = np.full((len(uniq), f.n_tokens), self.vocab.pad, np.int64)
        for i, ids in enumerate(self.text_model.encode(list(uniq))):
            if len(ids) > f.n_tokens:
                raise TokenizationError(
                    f"observation '{f.label}' text {str(uniq[i])!r} is {len(ids)} tokens but the spec allows "
                    f"{f.n_tokens}; raise max_text_tokens when building the spec"
                )
            table[i, : len(ids)] = ids
        out = table[inverse.reshape(-1)]
        return out, out != self.vocab.pad

    def encode_observations(self, observations: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations of T timesteps -> ids (T, obs_tokens), patches (T, P, 3, 16, 16) uint8, and
        a (T, obs_tokens) mask that is false on text padding. Image ids are patch indices in [0, P)."""
        spec = self.spec
        n = _leading(observations, spec.obs_fields, spec.obs_is_dict, "observation")
        ids = np.empty((n, spec.obs_tokens), np.int64)
        keep = np.ones((n, spec.obs_tokens), bool)
        patches, col, patch_col = [], 0, 0
        for f in spec.obs_fields:
            x = as_field_array("observation", f, _get(observations, f, spec.obs_is_dict, "observation"), n)
            cols = slice(col, col + f.n_tokens)
            if f.kind == TokenKind.TEXT:
                ids[:, cols], keep[:, cols] = self._text_ids(f, x)
            elif f.kind == TokenKind.IMAGE:
                patches.append(patchify(x))
                ids[:, cols] = np.arange(patch_col, patch_col + f.n_tokens)
                patch_col += f.n_tokens
            elif f.kind == TokenKind.DISCRETE:
                ids[:, cols] = self.vocab.discrete_ids(discrete_values("observation", f, x, n))
            else:
                x = x.reshape(n, -1)
                if self.obs_stats is not None:
                    x = self.obs_stats.apply(f.key, x)
                ids[:, cols] = self.vocab.continuous_ids(continuous.encode_observation(x))
            col += f.n_tokens
        p = np.concatenate(patches, axis=1) if patches else np.zeros((n, 0, 3, 16, 16), np.uint8)
        return ids, p, keep

    # --- actions -----------------------------------------------------------------------------------
    def encode_actions(self, actions: Any) -> np.ndarray:
        """Actions of T timesteps -> ids (T, action_tokens)."""
        spec = self.spec
        n = _leading(actions, spec.action_fields, spec.action_is_dict, "action")
        out = []
        for f in spec.action_fields:
            x = as_field_array("action", f, _get(actions, f, spec.action_is_dict, "action"), n)
            if f.kind == TokenKind.ACTION_DISCRETE:
                out.append(self.vocab.discrete_ids(discrete_values("action", f, x, n)))
            else:
                a = check_action_bounds(f, x, n)
                out.append(self.vocab.continuous_ids(continuous.encode_action(a, f.low, f.high)))
        return np.concatenate(out, axis=1)

    def decode_actions(self, ids: np.ndarray) -> Any:
        """ids (T, action_tokens) -> actions in the action space's form, batched over T.

        Continuous actions come back at their bin centres; an id outside a field's range is an error.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] != self.spec.action_tokens:
            raise ValueError(f"expected action ids of shape (T, {self.spec.action_tokens}), got {ids.shape}")
        out, col = {}, 0
        for f in self.spec.action_fields:
            chunk = ids[:, col: col + f.n_tokens]
            col += f.n_tokens
            if f.kind == TokenKind.ACTION_DISCRETE:
                v = self.vocab.discrete_values(chunk)
                if (v >= f.nvec).any():
                    raise ValueError(f"action '{f.label}' decoded to a value outside its {f.nvec.tolist()} "
                                     "choices; restrict decoding to TimestepSpec.action_id_ranges")
                val = (v + f.start).astype(f.dtype)
            else:
                val = continuous.decode_action(self.vocab.continuous_bins(chunk), f.low, f.high).astype(f.dtype)
            out[f.key] = val.reshape(len(ids), *f.shape)
        return out if self.spec.action_is_dict else out[""]

    # --- whole episodes ----------------------------------------------------------------------------
    def encode_episode(self, observations: Any, actions: Any, first_timestep: int = 0,
                       labels: Any = None) -> TokenSequence:
        """An episode -> one TokenSequence, each timestep laid out as [obs] | [action].

        `observations` may hold T or T + 1 entries (Minari stores the final observation too); a final
        observation without an action is dropped, because no target follows it. `labels`, T actions in
        the action space, are what the action tokens are trained to be where they differ from the
        actions played (DART-style noisy collection); the sequence then carries them in `labels`.
        """
        act_ids = self.encode_actions(actions)
        t = act_ids.shape[0]
        n_obs = _leading(observations, self.spec.obs_fields, self.spec.obs_is_dict, "observation")
        if n_obs not in (t, t + 1):
            raise TokenizationError(f"episode has {n_obs} observations for {t} actions; expected {t} or {t + 1}")
        if n_obs == t + 1:
            observations = _take(observations, t)
        obs_ids, patches, keep = self.encode_observations(observations)
        per_step = patches.shape[1]
        obs_ids[:, self._kinds[: self.spec.obs_tokens] == TokenKind.IMAGE] += (
            np.arange(t)[:, None] * per_step)  # patch index -> row in the flattened patch array
        sep = np.full((t, 1), self.vocab.separator, np.int64)
        ids = np.concatenate([obs_ids, sep, act_ids], axis=1)  # (T, L)
        loss = np.concatenate([keep, np.ones((t, 1 + self.spec.action_tokens), bool)], axis=1) & self._loss
        kinds = np.broadcast_to(self._kinds, ids.shape).copy()
        kinds[:, : self.spec.obs_tokens][~keep] = TokenKind.PAD
        label_ids = None
        if labels is not None:
            label_ids = ids.copy()
            label_ids[:, self.spec.obs_tokens + 1:] = self.encode_actions(labels)
            if label_ids.shape != ids.shape:
                raise TokenizationError(f"episode has {len(label_ids)} labels for {t} actions")
            label_ids = label_ids.reshape(-1)
        return TokenSequence(
            ids=ids.reshape(-1),
            kinds=kinds.reshape(-1),
            local_pos=np.tile(self._local_pos, t),
            timestep=np.repeat(np.arange(first_timestep, first_timestep + t, dtype=np.int32), ids.shape[1]),
            loss_mask=loss.reshape(-1),
            patches=patches.reshape(-1, 3, 16, 16),
            patch_rows=np.tile(self._rows_iv, (t, 1)),
            patch_cols=np.tile(self._cols_iv, (t, 1)),
            labels=label_ids,
        )

    def encode_prefix(self, observations: Any, first_timestep: int = 0) -> TokenSequence:
        """Observation tokens and the separator of T timesteps, without actions: what a policy feeds
        before decoding an action. Identical to the matching tokens of :meth:`encode_episode`."""
        obs_ids, patches, keep = self.encode_observations(observations)
        t, n_obs = obs_ids.shape
        per_step = patches.shape[1]
        obs_ids[:, self._kinds[:n_obs] == TokenKind.IMAGE] += np.arange(t)[:, None] * per_step
        ids = np.concatenate([obs_ids, np.full((t, 1), self.vocab.separator, np.int64)], axis=1)
        kinds = np.broadcast_to(self._kinds[: n_obs + 1], ids.shape).copy()
        kinds[:, :n_obs][~keep] = TokenKind.PAD
        loss = np.concatenate([keep, np.ones((t, 1), bool)], axis=1) & self._loss[: n_obs + 1]
        return TokenSequence(
            ids=ids.reshape(-1), kinds=kinds.reshape(-1), local_pos=np.tile(self._local_pos[: n_obs + 1], t),
            timestep=np.repeat(np.arange(first_timestep, first_timestep + t, dtype=np.int32), n_obs + 1),
            loss_mask=loss.reshape(-1), patches=patches.reshape(-1, 3, 16, 16),
            patch_rows=np.tile(self._rows_iv, (t, 1)), patch_cols=np.tile(self._cols_iv, (t, 1)),
        )

    def decode_observations(self, ids: np.ndarray, patches: np.ndarray) -> Any:
        """Inverse of :meth:`encode_observations`, at bin centres for continuous values."""
        out, col, pcol = {}, 0, 0
        n = ids.shape[0]
        for f in self.spec.obs_fields:
            chunk = ids[:, col: col + f.n_tokens]
            col += f.n_tokens
            if f.kind == TokenKind.TEXT:
                val = np.array([self.text_model.decode(r[r != self.vocab.pad]) for r in chunk], dtype=object)
            elif f.kind == TokenKind.IMAGE:
                val = unpatchify(patches[:, pcol: pcol + f.n_tokens], f.shape[0], f.shape[1])
                pcol += f.n_tokens
            elif f.kind == TokenKind.DISCRETE:
                val = (self.vocab.discrete_values(chunk) + f.start).astype(f.dtype).reshape(n, *f.shape)
            else:
                val = continuous.decode_observation(self.vocab.continuous_bins(chunk))
                if self.obs_stats is not None:
                    val = self.obs_stats.invert(f.key, val)
                val = val.astype(f.dtype).reshape(n, *f.shape)
            out[f.key] = val
        return _nest(out) if self.spec.obs_is_dict else out[""]

    def encode_text(self, text: str) -> TokenSequence:
        """A text document (language-modelling data) -> text tokens followed by EOS, all loss targets."""
        if self.text_model is None:
            raise ValueError("encode_text needs a text_model")
        return encode_documents(self.text_model, self.vocab, [text])[0]


def encode_documents(text_model: TextModel, vocab: Vocabulary, texts: list[str]) -> list[TokenSequence]:
    """Text documents -> one TokenSequence each: text ids then EOS, every token a loss target.

    `local_pos` counts tokens within the document; `timestep` is 0 throughout.
    """
    out = []
    for ids in text_model.encode(texts):
        arr = np.array(ids + [vocab.eos], np.int64)
        n = arr.size
        seq = TokenSequence.empty()
        seq.ids, seq.kinds = arr, np.full(n, TokenKind.TEXT, np.uint8)
        seq.local_pos, seq.timestep = np.arange(n, dtype=np.int32), np.zeros(n, np.int32)
        seq.loss_mask = np.ones(n, bool)
        out.append(seq)
    return out


def _take(values: Any, n: int) -> Any:
    if isinstance(values, Mapping):
        return {k: _take(v, n) for k, v in values.items()}
    return values[:n]


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in flat.items():
        node = out
        *parents, leaf = key.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out
