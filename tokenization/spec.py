"""What a task's timestep looks like as tokens, derived from its Gymnasium spaces alone.

The number of tokens per timestep must be known before any data is seen: the KV-cache rollout feeds one
timestep at a time and the context window slides at timestep boundaries. So the spec fixes, for every
observation and action field, how many tokens it becomes.

Layout of one timestep (Gato section 2.1, with Dict keys in sorted order inside each modality)::

    [text fields][image patches][discrete obs][continuous obs] | [action tokens]
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
from gymnasium import spaces

from gatosuite.errors import GatosuiteError

from .images import num_patches
from .vocab import N_CONTINUOUS_BINS, N_DISCRETE, Vocabulary


class TokenKind(enum.IntEnum):
    """Modality of one token. Stored as uint8 in token arrays."""

    TEXT = 0
    IMAGE = 1
    DISCRETE = 2
    CONTINUOUS = 3
    SEPARATOR = 4
    ACTION_DISCRETE = 5
    ACTION_CONTINUOUS = 6
    PAD = 7


OBS_KIND_ORDER = (TokenKind.TEXT, TokenKind.IMAGE, TokenKind.DISCRETE, TokenKind.CONTINUOUS)
"""Order of observation modalities within a timestep."""

ACTION_LOCAL_POS = -1
"""`local_pos` of the separator and of every action token: Gato gives all action tokens one shared
encoding instead of a per-index one, and models map -1 to that row."""

DEFAULT_MAX_TEXT_TOKENS = 32
"""Token budget of a Text observation unless the spec builder is told otherwise."""


class UnsupportedSpaceError(GatosuiteError, TypeError):
    """A Gymnasium space the tokenizer cannot represent."""


@dataclass(frozen=True)
class FieldSpec:
    """One observation or action field and the tokens it becomes."""

    key: str
    """Path of the field inside a Dict space, '/'-joined; '' when the space is not a Dict."""
    kind: TokenKind
    """Modality of the field's tokens."""
    shape: tuple[int, ...]
    """Shape of one timestep's value (the image shape for images, () for Text)."""
    n_tokens: int
    """Tokens this field contributes to every timestep."""
    dtype: np.dtype = field(default=np.dtype(np.float32), compare=False)
    """dtype the space declares; used to cast decoded values back."""
    nvec: np.ndarray | None = field(default=None, compare=False)
    """Discrete fields: number of values per flattened element."""
    start: np.ndarray | None = field(default=None, compare=False)
    """Discrete fields: value of token 0 per flattened element (gymnasium's `start`)."""
    low: np.ndarray | None = field(default=None, compare=False)
    """Continuous action fields: lower Box bound per flattened element."""
    high: np.ndarray | None = field(default=None, compare=False)
    """Continuous action fields: upper Box bound per flattened element."""

    @property
    def label(self) -> str:
        """The key, or '<obs>' / '<action>' for a bare (non-Dict) space."""
        if self.key:
            return self.key
        return "<action>" if self.kind in (TokenKind.ACTION_DISCRETE, TokenKind.ACTION_CONTINUOUS) else "<obs>"


def _flat(x: np.ndarray, n: int) -> np.ndarray:
    """Per-element values of a scalar or full-shape bound, flattened row-major to (n,)."""
    arr = np.asarray(x).reshape(-1)
    return np.full(n, arr[0]) if arr.size == 1 else arr.copy()


def _is_image(space: spaces.Box) -> bool:
    return space.dtype == np.uint8 and len(space.shape) == 3 and space.shape[-1] == 3


def _discrete_field(key: str, kind: TokenKind, nvec, start, shape, dtype) -> FieldSpec:
    n = int(np.prod(shape)) if shape else 1
    nvec = _flat(np.asarray(nvec, dtype=np.int64), n)
    if (nvec > N_DISCRETE).any() or (nvec < 1).any():
        raise UnsupportedSpaceError(
            f"field '{key or '<obs>'}' has {int(nvec.max())} discrete values; discrete tokens hold "
            f"at most {N_DISCRETE}. Split the value or declare it as a float Box."
        )
    return FieldSpec(key, kind, tuple(shape), n, np.dtype(dtype), nvec=nvec,
                     start=_flat(np.asarray(start, dtype=np.int64), n))


def _obs_fields(space: spaces.Space, key: str, max_text_tokens: int) -> list[FieldSpec]:
    if isinstance(space, spaces.Dict):
        out: list[FieldSpec] = []
        for k in sorted(space.spaces):
            out += _obs_fields(space.spaces[k], f"{key}/{k}" if key else str(k), max_text_tokens)
        return out
    if isinstance(space, spaces.Text):
        return [FieldSpec(key, TokenKind.TEXT, (), min(space.max_length + 1, max_text_tokens),
                          np.dtype(object))]
    if isinstance(space, spaces.Discrete):
        return [_discrete_field(key, TokenKind.DISCRETE, space.n, space.start, (), space.dtype)]
    if isinstance(space, spaces.MultiDiscrete):
        return [_discrete_field(key, TokenKind.DISCRETE, space.nvec, space.start, space.shape,
                                space.dtype)]
    if isinstance(space, spaces.MultiBinary):
        return [_discrete_field(key, TokenKind.DISCRETE, 2, 0, space.shape, space.dtype)]
    if isinstance(space, spaces.Box):
        if _is_image(space):
            h, w, _ = space.shape
            return [FieldSpec(key, TokenKind.IMAGE, space.shape, num_patches(h, w), space.dtype)]
        if np.issubdtype(space.dtype, np.integer) and space.low.min() >= 0 and space.high.max() < N_DISCRETE:
            return [_discrete_field(key, TokenKind.DISCRETE, space.high.astype(np.int64) + 1, 0,
                                    space.shape, space.dtype)]
        n = int(np.prod(space.shape))
        return [FieldSpec(key, TokenKind.CONTINUOUS, space.shape, n, space.dtype)]
    raise UnsupportedSpaceError(
        f"observation field '{key or '<obs>'}' has unsupported space {space!r}; supported: Dict, Box "
        "(float vector or HxWx3 uint8 image), Discrete, MultiDiscrete, MultiBinary, Text"
    )


def _action_fields(space: spaces.Space, key: str) -> list[FieldSpec]:
    if isinstance(space, spaces.Dict):
        out: list[FieldSpec] = []
        for k in sorted(space.spaces):
            out += _action_fields(space.spaces[k], f"{key}/{k}" if key else str(k))
        return out
    kind = TokenKind.ACTION_DISCRETE
    if isinstance(space, spaces.Discrete):
        return [_discrete_field(key, kind, space.n, space.start, (), space.dtype)]
    if isinstance(space, spaces.MultiDiscrete):
        return [_discrete_field(key, kind, space.nvec, space.start, space.shape, space.dtype)]
    if isinstance(space, spaces.MultiBinary):
        return [_discrete_field(key, kind, 2, 0, space.shape, space.dtype)]
    if isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating):
        if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
            raise UnsupportedSpaceError(
                f"action field '{key or '<action>'}' is a Box with infinite bounds {space!r}; action "
                "tokens scale the Box to [-1, 1], so wrap the env with gymnasium.wrappers.RescaleAction"
            )
        n = int(np.prod(space.shape))
        return [FieldSpec(key, TokenKind.ACTION_CONTINUOUS, space.shape, n, space.dtype,
                          low=_flat(space.low.astype(np.float64), n),
                          high=_flat(space.high.astype(np.float64), n))]
    raise UnsupportedSpaceError(
        f"action field '{key or '<action>'}' has unsupported space {space!r}; supported: Dict, float "
        "Box with finite bounds, Discrete, MultiDiscrete, MultiBinary"
    )


@dataclass(frozen=True)
class TimestepSpec:
    """Token layout of one timestep of a task, built with :meth:`from_spaces`."""

    obs_fields: tuple[FieldSpec, ...]
    """Observation fields in token order: text, image, discrete, continuous; sorted keys within."""
    action_fields: tuple[FieldSpec, ...]
    """Action fields in sorted key order."""
    obs_is_dict: bool
    """Whether observations are dicts (else a single bare value)."""
    action_is_dict: bool
    """Whether actions are dicts (else a single bare value)."""

    @classmethod
    def from_spaces(
        cls,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        max_text_tokens: int = DEFAULT_MAX_TEXT_TOKENS,
    ) -> TimestepSpec:
        """Build the spec of a task from its Gymnasium spaces.

        `max_text_tokens` caps a Text field's token budget (its space's `max_length` + 1 otherwise).
        """
        obs = _obs_fields(observation_space, "", max_text_tokens)
        obs.sort(key=lambda f: OBS_KIND_ORDER.index(f.kind))  # stable: keeps sorted keys per kind
        act = _action_fields(action_space, "")
        if not act:
            raise UnsupportedSpaceError(f"action space {action_space!r} has no fields to tokenize")
        return cls(tuple(obs), tuple(act), isinstance(observation_space, spaces.Dict),
                   isinstance(action_space, spaces.Dict))

    # --- counts --------------------------------------------------------------------------------------
    @property
    def obs_tokens(self) -> int:
        return sum(f.n_tokens for f in self.obs_fields)

    @property
    def action_tokens(self) -> int:
        return sum(f.n_tokens for f in self.action_fields)

    @property
    def tokens_per_timestep(self) -> int:
        """Observation tokens + the separator + action tokens."""
        return self.obs_tokens + 1 + self.action_tokens

    @property
    def image_tokens(self) -> int:
        return sum(f.n_tokens for f in self.obs_fields if f.kind == TokenKind.IMAGE)

    @property
    def modalities(self) -> frozenset[TokenKind]:
        return frozenset(f.kind for f in self.obs_fields + self.action_fields)

    # --- per-timestep templates ----------------------------------------------------------------------
    def kinds(self) -> np.ndarray:
        """(L,) uint8 kind of each token position in a timestep."""
        parts = [np.full(f.n_tokens, f.kind, np.uint8) for f in self.obs_fields]
        parts.append(np.array([TokenKind.SEPARATOR], np.uint8))
        parts += [np.full(f.n_tokens, f.kind, np.uint8) for f in self.action_fields]
        return np.concatenate(parts)

    def local_positions(self) -> np.ndarray:
        """(L,) int32: index within the observation, ACTION_LOCAL_POS for separator and actions."""
        return np.concatenate([np.arange(self.obs_tokens, dtype=np.int32),
                               np.full(1 + self.action_tokens, ACTION_LOCAL_POS, np.int32)])

    def loss_mask(self) -> np.ndarray:
        """(L,) bool: true on text and action tokens (padding inside text is masked later)."""
        k = self.kinds()
        return (k == TokenKind.TEXT) | (k == TokenKind.ACTION_DISCRETE) | (k == TokenKind.ACTION_CONTINUOUS)

    def action_id_ranges(self, vocab: Vocabulary) -> np.ndarray:
        """(action_tokens, 2) [lo, hi) ids each action token may take: the constrained decoding set.

        Tighter than the modality range: a Discrete(3) action allows exactly 3 ids.
        """
        rows = []
        for f in self.action_fields:
            if f.kind == TokenKind.ACTION_DISCRETE:
                lo = np.full(f.n_tokens, vocab.discrete_offset, np.int64)
                rows.append(np.stack([lo, lo + f.nvec], axis=-1))
            else:
                lo = np.full(f.n_tokens, vocab.continuous_offset, np.int64)
                rows.append(np.stack([lo, lo + N_CONTINUOUS_BINS], axis=-1))
        return np.concatenate(rows)

    def describe(self) -> str:
        """One line per field, for logs and `gatosuite tokenize`."""
        lines = [f"{self.tokens_per_timestep} tokens/timestep = {self.obs_tokens} obs + 1 '|' + "
                 f"{self.action_tokens} action"]
        for f in self.obs_fields:
            lines.append(f"  obs    {f.label:<20} {f.kind.name:<17} shape={f.shape} tokens={f.n_tokens}")
        for f in self.action_fields:
            lines.append(f"  action {f.label:<20} {f.kind.name:<17} shape={f.shape} tokens={f.n_tokens}")
        return "\n".join(lines)
