"""The encoder-decoder batch adapter: one TokenBatch split into an encoder stream and a decoder stream.

Every encoder-decoder family (MultiModel, UniT, OFA) trains on the same mixed TokenBatch as Gato. This
adapter turns it into what such a model consumes, so no family splits its inputs inside `forward`:

- a row's tokens fall into **chunks**: a run of context tokens (observations, separator, a mission's
  text) followed by the run of target tokens they condition (a timestep's actions; a caption; a text
  continuation). A token is a decoder token when it is an action, or a text token trained as a target
  that is not part of an observation (a caption, a document); every other real token, an observation's
  text included, is an encoder token. A new chunk opens at each context token that follows a decoder
  token of the same segment, so a timestep is a chunk;
- the **encoder stream** holds the context tokens, in order, as a TokenBatch of their own (pixels
  included). Attention in it is block-causal: a token sees the encoder tokens of its own segment in its
  own and earlier chunks. That is what makes training and acting agree: at step t a policy's context holds
  exactly the chunks up to t, so the encoder states of chunk t are the same in both;
- the **decoder stream** holds the target tokens, one position per target token, in the TokenBatch's
  target order, so `logits` and `info['token_loss']` line up with `target_mask` as the contract asks.
  Position k of a chunk is fed the chunk's token k-1 (teacher forcing with the action that was played)
  or, at k = 0, the family's start token (`dec_first`), and is trained on the label of token k (the
  expert's action where it differs). A decoder token sees the earlier decoder tokens of its own chunk and,
  through cross-attention, the encoder tokens of its segment in its own and earlier chunks.

Observation text (a BabyAI mission) is a loss target of the decoder-only families, which predict every
text token; here it is the encoder's context, which the decoder reads, so it is not also predicted: the
decoder stream's targets are the TokenBatch's targets less the observation text (`target_task_index`
gives the task of each one, in the order of a family's logits).

Past actions are not encoder inputs: under the default recipe (masked action inputs) they carry nothing,
and leaving them out keeps the encoder's view of a window the same in training and acting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gatosuite.tokenization import TokenKind

from .batch import TokenBatch

ACTION_KINDS = (TokenKind.ACTION_DISCRETE, TokenKind.ACTION_CONTINUOUS)


@dataclass
class Seq2SeqBatch:
    """A TokenBatch as an encoder-decoder family consumes it (see the module docstring)."""

    enc: TokenBatch
    """(B, S) the encoder stream: context tokens with their pixels, local positions and segment positions
    (`positions`, always set) and task index; `targets` and `target_mask` are unused (all PAD / false)."""
    enc_chunk: torch.Tensor
    """(B, S) int64 chunk of each encoder token, comparable within a segment (-1 for padding)."""
    enc_segment: torch.Tensor
    """(B, S) int64 segment of each encoder token (-1 for padding)."""
    dec: TokenBatch
    """(B, U) the decoder stream: position k holds the input that predicts the chunk's target k: the
    chunk's token k-1 (ids, kinds, local_pos) or, where `dec_first`, a placeholder (PAD id and kind) for
    the family's start token; `targets` the label; `target_mask` true where the label is a loss target
    (false for padding and for an unmasked prompt's actions); `positions` k within the chunk."""
    dec_first: torch.Tensor
    """(B, U) bool: the first decoder position of a chunk (fed the start token)."""
    dec_chunk: torch.Tensor
    """(B, U) int64 chunk of each decoder position (-1 for padding)."""
    dec_segment: torch.Tensor
    """(B, U) int64 segment of each decoder position (-1 for padding)."""
    target_kinds: torch.Tensor
    """(B, U) uint8 TokenKind of the token each decoder position predicts (PAD for padding)."""

    def to(self, device: torch.device | str) -> Seq2SeqBatch:
        return Seq2SeqBatch(self.enc.to(device), self.enc_chunk.to(device), self.enc_segment.to(device),
                            self.dec.to(device), self.dec_first.to(device), self.dec_chunk.to(device),
                            self.dec_segment.to(device), self.target_kinds.to(device))

    @property
    def enc_real(self) -> torch.Tensor:
        """(B, S) bool: a real encoder token."""
        return self.enc_segment >= 0

    @property
    def dec_real(self) -> torch.Tensor:
        """(B, U) bool: a real decoder position."""
        return self.dec_segment >= 0

    def enc_self_mask(self) -> torch.Tensor:
        """(B, 1, S, S) bool: block-causal over chunks within a segment (padding attends to itself)."""
        same = self.enc_segment[:, :, None] == self.enc_segment[:, None, :]  # (B, S, S)
        earlier = self.enc_chunk[:, None, :] <= self.enc_chunk[:, :, None]  # (B, S, S) key chunk <= query chunk
        return (same & earlier)[:, None]

    def dec_self_mask(self) -> torch.Tensor:
        """(B, 1, U, U) bool: causal within a chunk (padding attends to padding)."""
        u = self.dec_chunk.shape[1]
        causal = torch.ones(u, u, dtype=torch.bool, device=self.dec_chunk.device).tril()  # (U, U)
        same = ((self.dec_segment[:, :, None] == self.dec_segment[:, None, :])
                & (self.dec_chunk[:, :, None] == self.dec_chunk[:, None, :]))  # (B, U, U)
        return (same & causal)[:, None]

    def cross_mask(self) -> torch.Tensor:
        """(B, 1, U, S) bool: a decoder position sees its segment's encoder tokens of its own and earlier
        chunks; a padding position sees the first slot, so no row of the mask is empty."""
        same = self.dec_segment[:, :, None] == self.enc_segment[:, None, :]  # (B, U, S)
        earlier = self.enc_chunk[:, None, :] <= self.dec_chunk[:, :, None]  # (B, U, S)
        allowed = same & earlier & self.enc_real[:, None, :]
        allowed[:, :, 0] |= ~self.dec_real  # padding queries: one harmless key
        return allowed[:, None]

    def target_task_index(self) -> torch.Tensor:
        """(M,) task index of each decoder target, in the order of the family's logits."""
        return self.dec_task()[self.dec.target_mask]

    def dec_task(self) -> torch.Tensor:
        """(B, U) int64 task index of each decoder position (-1 for padding or an unknown task)."""
        return self.dec.task_index if self.dec.task_index is not None else torch.full_like(self.dec.ids, -1)


def _gather(x: torch.Tensor, order: torch.Tensor, valid: torch.Tensor, fill: int) -> torch.Tensor:
    """x (B, T) gathered at order (B, N) where valid, `fill` elsewhere."""
    return torch.where(valid, x.gather(1, order), torch.full_like(order, fill, dtype=x.dtype))


def select_positions(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Positions of the true entries of each row of `mask` (B, T), in order, padded: order (B, N),
    valid (B, N) and counts (B,)."""
    counts = mask.sum(1)  # (B,)
    n = max(1, int(counts.max())) if mask.numel() else 1
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :n]  # (B, N) selected first, in order
    if order.shape[1] < n:  # a batch shorter than one slot
        order = torch.nn.functional.pad(order, (0, n - order.shape[1]))
    valid = torch.arange(n, device=mask.device)[None, :] < counts[:, None]  # (B, N)
    return order, valid, counts


def _observation_text(kinds: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    """(B, T) bool: text tokens that belong to an observation, those whose segment's next separator comes
    before its next action (a caption or a document has no separator after it)."""
    b, t = kinds.shape
    idx = torch.arange(t, device=kinds.device).expand(b, t)
    never = torch.full_like(idx, t)

    def next_at(flag: torch.Tensor) -> torch.Tensor:  # (B, T) index of the first flagged token at or after t
        at = torch.where(flag, idx, never)
        return torch.flip(torch.cummin(torch.flip(at, [1]), dim=1).values, [1])

    sep = next_at(kinds == TokenKind.SEPARATOR)
    act = next_at((kinds == ACTION_KINDS[0]) | (kinds == ACTION_KINDS[1]))
    same = seg.gather(1, sep.clamp(max=t - 1)) == seg  # the separator is in the token's own segment
    return (kinds == TokenKind.TEXT) & (sep < act) & (sep < t) & same


def split_streams(batch: TokenBatch) -> Seq2SeqBatch:
    """The encoder and decoder streams of a TokenBatch (see the module docstring)."""
    b, t = batch.shape
    dev = batch.ids.device
    kinds = batch.kinds
    real = kinds != TokenKind.PAD  # (B, T)
    seg = batch.segments if batch.segments is not None else torch.where(real, 0, -1)  # (B, T)
    pos = batch.positions if batch.positions is not None else torch.arange(t, device=dev).expand(b, t)
    task = batch.task_index if batch.task_index is not None else torch.full_like(batch.ids, -1)
    predicted = torch.zeros_like(batch.target_mask)  # token t is some target (predicted from t-1)
    predicted[:, 1:] = batch.target_mask[:, :-1]
    is_action = (kinds == ACTION_KINDS[0]) | (kinds == ACTION_KINDS[1])
    is_dec = real & (is_action | (predicted & ~_observation_text(kinds, seg)))  # (B, T)
    prev_dec = torch.zeros_like(is_dec)
    prev_dec[:, 1:] = is_dec[:, :-1]
    same_prev = torch.zeros_like(is_dec)
    same_prev[:, 1:] = seg[:, 1:] == seg[:, :-1]
    opens = real & ~is_dec & prev_dec & same_prev  # a context token after a target opens a chunk
    chunk = torch.cumsum(opens.long(), dim=1)  # (B, T) comparable within a segment

    e_order, e_valid, _ = select_positions(real & ~is_dec)  # (B, S)
    s = e_order.shape[1]
    new_slot = torch.full((b, t), -1, dtype=torch.long, device=dev)
    rows = torch.arange(b, device=dev)[:, None].expand_as(e_order)
    new_slot[rows[e_valid], e_order[e_valid]] = torch.arange(s, device=dev).expand(b, s)[e_valid]
    flat = new_slot.view(-1)[batch.patch_slot]  # (N,) patches sit on encoder tokens only
    patch_b = batch.patch_slot // t
    enc = TokenBatch(
        ids=_gather(batch.ids, e_order, e_valid, 0), kinds=_gather(kinds, e_order, e_valid, TokenKind.PAD),
        local_pos=_gather(batch.local_pos, e_order, e_valid, -1),
        targets=torch.zeros((b, s), dtype=torch.long, device=dev),
        target_mask=torch.zeros((b, s), dtype=torch.bool, device=dev),
        patches=batch.patches, patch_slot=patch_b * s + flat, patch_rows=batch.patch_rows,
        patch_cols=batch.patch_cols, segments=_gather(seg, e_order, e_valid, -1),
        positions=_gather(pos, e_order, e_valid, 0), task_index=_gather(task, e_order, e_valid, -1))

    d_order, d_valid, _ = select_positions(is_dec)  # (B, U)
    prev = (d_order - 1).clamp(min=0)
    continues = _gather(prev_dec & same_prev, d_order, d_valid, 0).bool()
    first = d_valid & ~continues  # (B, U) the chunk's first target
    feed = d_valid & ~first  # fed the previous (decoder) token
    idx = torch.arange(d_order.shape[1], device=dev).expand_as(d_order)  # (B, U)
    within = idx - torch.cummax(torch.where(first, idx, 0), dim=1).values  # k within the chunk
    dec = TokenBatch(
        ids=_gather(batch.ids, prev, feed, 0), kinds=_gather(kinds, prev, feed, TokenKind.PAD),
        local_pos=_gather(batch.local_pos, prev, feed, -1),
        targets=_gather(batch.targets, prev, d_valid, 0),
        target_mask=_gather(batch.target_mask, prev, d_valid, 0).bool() & d_valid,
        patches=batch.patches[:0], patch_slot=batch.patch_slot[:0], patch_rows=batch.patch_rows[:0],
        patch_cols=batch.patch_cols[:0], segments=_gather(seg, d_order, d_valid, -1),
        positions=torch.where(d_valid, within, 0), task_index=_gather(task, d_order, d_valid, -1))
    return Seq2SeqBatch(enc=enc, enc_chunk=_gather(chunk, e_order, e_valid, -1), enc_segment=enc.segments,
                        dec=dec, dec_first=first, dec_chunk=_gather(chunk, d_order, d_valid, -1),
                        dec_segment=dec.segments, target_kinds=_gather(kinds, d_order, d_valid, TokenKind.PAD))


def seq2seq_adapter(batch: TokenBatch, cfg: object) -> Seq2SeqBatch:
    """The batch adapter (agent/contract.py) of the encoder-decoder families."""
    return split_streams(batch)


def acting_query(context: Seq2SeqBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For a policy's context (one row per env, ending with the current observation and separator): the
    (N,) chunk, segment and task index of the action to decode, those of each row's last encoder token."""
    last = (context.enc_real.sum(1) - 1).clamp(min=0)[:, None]  # (N, 1)
    task = context.enc.task_index if context.enc.task_index is not None else torch.full_like(context.enc.ids, -1)
    return (context.enc_chunk.gather(1, last)[:, 0], context.enc_segment.gather(1, last)[:, 0],
            task.gather(1, last)[:, 0])


def acting_cross_mask(context: Seq2SeqBatch) -> torch.Tensor:
    """(N, S) bool: the memory slots the action being decoded may read: every real encoder token of the
    row's last segment (a policy's context is one segment, so all of its real tokens)."""
    chunk, segment, _ = acting_query(context)
    return context.enc_real & (context.enc_segment == segment[:, None]) & (context.enc_chunk <= chunk[:, None])


def start_position(context: TokenBatch, token_id: int = 0) -> TokenBatch:
    """(N, 1) the decoder's first input when acting: a placeholder (`token_id`, PAD kind) at every row of
    `context`, where a family puts its start token (a task token, a query, BOS), as `dec_first` marks it in
    training."""
    n, dev = context.shape[0], context.ids.device
    return TokenBatch(
        ids=torch.full((n, 1), token_id, dtype=torch.long, device=dev),
        kinds=torch.full((n, 1), TokenKind.PAD, dtype=torch.uint8, device=dev),
        local_pos=torch.full((n, 1), -1, dtype=torch.long, device=dev),
        targets=torch.zeros((n, 1), dtype=torch.long, device=dev),
        target_mask=torch.zeros((n, 1), dtype=torch.bool, device=dev),
        patches=context.patches[:0], patch_slot=context.patch_slot[:0], patch_rows=context.patch_rows[:0],
        patch_cols=context.patch_cols[:0])

