"""(image, text) pairs inside a TokenBatch: the input a contrastive family (LIMoE) trains on, found by its
batch adapter.

LIMoE reads the same TokenBatch as every other family and finds its pairs there: an observation (the
tokens of one timestep before its separator, local_pos >= 0) or a caption sample (a frame's patches then
its text, local_pos counting on through both) that holds both image and text tokens is one pair. So a
`babyai-captions` sample gives (frame, caption) or (frame, question-answer), and a BabyAI timestep gives
(frame, mission). Every group starts at local_pos 0.

Within a batch the same text (one mission over a whole episode) or the same frame (one view with several
captions) can occur in several pairs; `text_key` and `image_key` say which, so that the contrastive loss
counts those as positives, not as negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gatosuite.agent.batch import TokenBatch
from gatosuite.tokenization import TokenKind


@dataclass
class Pairs:
    """S (image, text) pairs, each side padded to its longest member."""

    patches: torch.Tensor
    """(S, P, 3, 16, 16) normalized pixels; zeros past an image's patches."""
    patch_rows: torch.Tensor
    """(S, P, 2) normalized row interval of each patch."""
    patch_cols: torch.Tensor
    """(S, P, 2) normalized column interval of each patch."""
    image_mask: torch.Tensor
    """(S, P) bool, True at real patches."""
    text: torch.Tensor
    """(S, L) int64 text ids (EOS included); 0 past a text's end."""
    text_mask: torch.Tensor
    """(S, L) bool, True at real text tokens."""
    image_key: torch.Tensor
    """(S,) int64: pairs with the same key have the same frame."""
    text_key: torch.Tensor
    """(S,) int64: pairs with the same key have the same text."""

    def __len__(self) -> int:
        return int(self.text.shape[0])

    def positives(self) -> torch.Tensor:
        """(S, S) bool: image i and text j belong together (the same text, or the same frame)."""
        return (self.text_key[:, None] == self.text_key[None, :]) | (self.image_key[:, None] == self.image_key[None, :])


def _keys(items: list[bytes]) -> torch.Tensor:
    seen: dict[bytes, int] = {}
    return torch.tensor([seen.setdefault(b, len(seen)) for b in items], dtype=torch.int64)


def extract_pairs(batch: TokenBatch, max_tokens: int) -> Pairs:
    """Every (image, text) pair in the batch, in token order (S may be 0). Texts longer than `max_tokens`
    are cut to it; an image with more patches than `max_tokens` is an error (raise the config's max_tokens)."""
    kinds = batch.kinds.cpu().numpy().ravel()  # (B*T,)
    local = batch.local_pos.cpu().numpy().ravel()  # (B*T,)
    ids = batch.ids.cpu().numpy().ravel()  # (B*T,)
    t = batch.ids.shape[1]
    starts = local == 0
    starts[::t] = True  # no group crosses a row
    group = np.cumsum(starts) - 1  # (B*T,)
    obs = local >= 0
    is_img = obs & (kinds == TokenKind.IMAGE)
    is_txt = obs & (kinds == TokenKind.TEXT)
    both = np.intersect1d(group[is_img], group[is_txt])  # groups with both modalities
    patch_of_slot = np.full(kinds.size, -1, np.int64)
    patch_of_slot[batch.patch_slot.cpu().numpy()] = np.arange(batch.patch_slot.shape[0])
    img_groups = [patch_of_slot[np.flatnonzero(is_img & (group == g))] for g in both]
    txt_groups = [ids[np.flatnonzero(is_txt & (group == g))][:max_tokens] for g in both]
    s = len(both)
    p = max((len(x) for x in img_groups), default=1)
    n_text = max((len(x) for x in txt_groups), default=1)
    if p > max_tokens:
        raise ValueError(f"an image of {p} patches exceeds LIMoEConfig.max_tokens={max_tokens}; raise max_tokens")
    patches = torch.zeros(s, p, *batch.patches.shape[1:], dtype=batch.patches.dtype)
    rows, cols = torch.zeros(s, p, 2), torch.zeros(s, p, 2)
    image_mask, text_mask = torch.zeros(s, p, dtype=torch.bool), torch.zeros(s, n_text, dtype=torch.bool)
    text = torch.zeros(s, n_text, dtype=torch.int64)
    src_patches, src_rows, src_cols = batch.patches.cpu(), batch.patch_rows.cpu(), batch.patch_cols.cpu()
    img_bytes, txt_bytes = [], []
    for i, (pi, ti) in enumerate(zip(img_groups, txt_groups)):
        sel = torch.from_numpy(pi)
        patches[i, :len(pi)] = src_patches[sel]
        rows[i, :len(pi)], cols[i, :len(pi)] = src_rows[sel], src_cols[sel]
        image_mask[i, :len(pi)] = True
        text[i, :len(ti)] = torch.from_numpy(ti)
        text_mask[i, :len(ti)] = True
        img_bytes.append(patches[i, :len(pi)].numpy().tobytes())
        txt_bytes.append(ti.tobytes())
    dev = batch.ids.device
    return Pairs(patches.to(dev), rows.to(dev), cols.to(dev), image_mask.to(dev), text.to(dev), text_mask.to(dev),
                 _keys(img_bytes).to(dev), _keys(txt_bytes).to(dev))
