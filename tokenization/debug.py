"""Human-readable dumps of tokens: what `gatosuite tokenize` prints."""

from __future__ import annotations

from typing import Any

import numpy as np

from .continuous import decode_observation
from .sequence import TokenSequence
from .spec import TokenKind
from .tokenizer import Tokenizer


def token_name(tokenizer: Tokenizer, seq: TokenSequence, i: int) -> str:
    """A short label for token i: the text piece, the value, or the patch."""
    kind, tid = TokenKind(int(seq.kinds[i])), int(seq.ids[i])
    if kind == TokenKind.IMAGE:
        r, c = seq.patch_rows[tid], seq.patch_cols[tid]
        return f"patch {tid} rows[{r[0]:.2f},{r[1]:.2f}) cols[{c[0]:.2f},{c[1]:.2f})"
    if kind == TokenKind.TEXT and tid < tokenizer.vocab.text_size and tokenizer.text_model is not None:
        return repr(tokenizer.text_model.piece(tid))
    name = tokenizer.vocab.name_of(tid)
    if kind == TokenKind.CONTINUOUS:  # observations: show the value the bin decodes to
        name += f" (~{float(decode_observation(np.array(tid - tokenizer.vocab.continuous_offset))):.4g})"
    return name


def dump_sequence(tokenizer: Tokenizer, seq: TokenSequence, limit: int | None = None) -> str:
    """One line per token: index, timestep, kind, id, local position, loss flag and a readable name."""
    lines = [f"{'#':>5} {'t':>3} {'kind':<17} {'id':>6} {'local':>5} {'loss':>4}  name"]
    n = len(seq) if limit is None else min(limit, len(seq))
    for i in range(n):
        lines.append(
            f"{i:>5} {int(seq.timestep[i]):>3} {TokenKind(int(seq.kinds[i])).name:<17} {int(seq.ids[i]):>6} "
            f"{int(seq.local_pos[i]):>5} {'yes' if seq.loss_mask[i] else '':>4}  {token_name(tokenizer, seq, i)}"
        )
    if n < len(seq):
        lines.append(f"... {len(seq) - n} more tokens")
    return "\n".join(lines)


def dump_timestep(tokenizer: Tokenizer, observation: Any, action: Any) -> str:
    """The spec and the tokens of a single (unbatched) timestep."""
    obs = _batch1(observation)
    act = _batch1(action)
    seq = tokenizer.encode_episode(obs, act)
    return tokenizer.spec.describe() + "\n\n" + dump_sequence(tokenizer, seq)


def _batch1(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _batch1(v) for k, v in x.items()}
    if isinstance(x, str):
        return [x]
    return np.asarray(x)[None]
