"""OFA's batch adapter: the encoder-decoder streams of agent/seq2seq.py, each segment's encoder input opened
by its task's instruction.

`split_streams` gives the encoder stream of a TokenBatch (observations, separators, a mission's text).
`instruct` puts, in front of it, the instruction tokens of every segment of the row (the config's
`instructions[task]`, or `generic_instruction` for task -1), as encoder tokens of that segment with chunk
-1 and positions 0..n-1 of their own (the model embeds them with an instruction position table, so they
never collide with the observations' window positions). Chunk -1 is what makes every chunk see them under
the shared masks, unchanged: `enc_self_mask` lets a token read its segment's chunks up to its own, and
-1 is below every chunk, so every observation token and, through `cross_mask`, every decoder token of a
segment reads that segment's instruction; the instruction tokens themselves read only each other (their
states are the same whatever follows, which keeps training and acting equal).

The instruction block sits at the front of the row, padded to the widest row's block, so the observation
part keeps `split_streams`' layout (real tokens first) and the model embeds it with the shared TokenInput;
the slot count of the block is `InstructedBatch.instruction_slots`. Physical order means nothing to the
encoder: the masks and the positions carry all the structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gatosuite.agent.batch import TokenBatch
from gatosuite.agent.seq2seq import Seq2SeqBatch, select_positions, split_streams
from gatosuite.tokenization import TokenKind

from .configuration_ofa import OFAConfig


@dataclass
class InstructedBatch(Seq2SeqBatch):
    """A Seq2SeqBatch whose encoder stream opens with `instruction_slots` instruction slots per row (chunk
    -1; padding where a row's instructions are shorter than the widest row's), then the context tokens."""

    instruction_slots: int = 0
    """Leading encoder slots that hold instruction tokens (or their padding)."""

    def to(self, device: torch.device | str) -> InstructedBatch:
        moved = super().to(device)
        return InstructedBatch(**{**moved.__dict__, "instruction_slots": self.instruction_slots})

    def context_stream(self) -> TokenBatch:
        """(B, S - P) the encoder stream without the instruction block: split_streams' own, which the
        shared TokenInput embeds (pixels included)."""
        p, s = self.instruction_slots, self.enc.ids.shape[1]
        e = self.enc
        slot = e.patch_slot
        return TokenBatch(ids=e.ids[:, p:], kinds=e.kinds[:, p:], local_pos=e.local_pos[:, p:],
                          targets=e.targets[:, p:], target_mask=e.target_mask[:, p:], patches=e.patches,
                          patch_slot=(slot // s) * (s - p) + slot % s - p, patch_rows=e.patch_rows,
                          patch_cols=e.patch_cols, segments=e.segments[:, p:], positions=e.positions[:, p:],
                          task_index=None if e.task_index is None else e.task_index[:, p:])

    def instruction_mask(self) -> torch.Tensor:
        """(B, S) bool: a real instruction token."""
        slots = torch.arange(self.enc.ids.shape[1], device=self.enc.ids.device) < self.instruction_slots  # (S,)
        return slots[None, :] & self.enc_real


def instruction_table(cfg: OFAConfig, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """(K + 1, I) padded instruction ids of the K tasks and, in the last row, the generic one; (K + 1,)
    their lengths."""
    rows = [*cfg.instructions, cfg.generic_instruction] if cfg.instructions else [cfg.generic_instruction]
    width = max(1, max(len(r) for r in rows))
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
    return ids.to(device), torch.tensor([len(r) for r in rows], device=device)


def segment_tasks(s: Seq2SeqBatch) -> torch.Tensor:
    """(B, G) task index of each segment of each row (G: the most segments in a row; -2 where a row has
    fewer), read from both streams, since a segment may have tokens in only one of them."""
    seg = torch.cat([s.enc_segment, s.dec_segment], dim=1)  # (B, S + U)
    task = torch.cat([s.enc.task_index if s.enc.task_index is not None else torch.full_like(s.enc_segment, -1),
                      s.dec_task()], dim=1)  # (B, S + U)
    g = int(seg.max()) + 1 if seg.numel() else 0
    out = torch.full((seg.shape[0], g + 1), -2, dtype=torch.long, device=seg.device)  # column g: padding's
    out.scatter_(1, torch.where(seg >= 0, seg, g), torch.where(seg >= 0, task, -2))
    return out[:, :g]


def instruct(s: Seq2SeqBatch, cfg: OFAConfig) -> InstructedBatch:
    """`s` with each segment's instruction in front of its encoder stream (see the module docstring)."""
    dev = s.enc.ids.device
    table, lengths = instruction_table(cfg, dev)
    n_known = len(cfg.instructions)
    tasks = segment_tasks(s)  # (B, G)
    b, g = tasks.shape
    row = torch.where((tasks >= 0) & (tasks < n_known), tasks, n_known)  # (B, G) row of the table; generic for -1
    width = table.shape[1]
    k = torch.arange(width, device=dev)  # (I,)
    real = (k[None, None, :] < lengths[row][..., None]) & (tasks >= -1)[..., None]  # (B, G, I)
    order, valid, _ = select_positions(real.view(b, g * width))  # (B, P) instruction tokens, in segment order
    p = int(valid.sum(1).max()) if valid.numel() else 0
    order, valid = order[:, :p], valid[:, :p]

    def pick(x: torch.Tensor, fill: int) -> torch.Tensor:  # x (B, G, I) -> (B, P)
        return torch.where(valid, x.reshape(b, g * width).gather(1, order), torch.full_like(order, fill))

    seg_of = torch.arange(g, device=dev)[None, :, None].expand(b, g, width)
    ids = pick(table[row], 0)  # (B, P)
    segment = pick(seg_of, -1)
    task = pick(tasks[..., None].expand(b, g, width), -1)
    pos = pick(k.expand(b, g, width), 0)
    e = s.enc
    s0 = e.ids.shape[1]
    cat = lambda front, back: torch.cat([front, back], dim=1)  # noqa: E731
    enc = TokenBatch(
        ids=cat(ids, e.ids), kinds=cat(torch.where(valid, TokenKind.TEXT, TokenKind.PAD).to(e.kinds.dtype), e.kinds),
        local_pos=cat(torch.full_like(ids, -1), e.local_pos), targets=cat(torch.zeros_like(ids), e.targets),
        target_mask=cat(torch.zeros_like(valid), e.target_mask), patches=e.patches,
        patch_slot=(e.patch_slot // s0) * (s0 + p) + p + e.patch_slot % s0, patch_rows=e.patch_rows,
        patch_cols=e.patch_cols, segments=cat(segment, e.segments), positions=cat(pos, e.positions),
        task_index=cat(task, e.task_index if e.task_index is not None else torch.full_like(e.ids, -1)))
    return InstructedBatch(enc=enc, enc_chunk=cat(torch.full_like(ids, -1), s.enc_chunk), enc_segment=enc.segments,
                           dec=s.dec, dec_first=s.dec_first, dec_chunk=s.dec_chunk, dec_segment=s.dec_segment,
                           target_kinds=s.target_kinds, instruction_slots=p)


def ofa_adapter(batch: TokenBatch, cfg: OFAConfig) -> InstructedBatch:
    """The family's batch adapter (agent/contract.py): split into streams, then instruct every segment."""
    return instruct(split_streams(batch), cfg)
