"""KVCache: keys and values of every layer for a batch of rows, which may hold different numbers of tokens.

Rows are left-padded: row b's `length - valid[b]` leading slots are padding, masked out of attention.
That lets one batched forward pass serve a vector env whose episodes started, ended or slid their
windows at different steps. Positions are per row and absolute within the row's context window
(`valid[b]` is where the next token of row b sits), so a row that is rebuilt starts again from
position 0, exactly as training windows do; cached keys are never shifted (JAT shifted positions after
trimming its cache).
"""

from __future__ import annotations

import torch


class KVCache:
    def __init__(self, n_layer: int, batch: int = 1) -> None:
        self.k: list[torch.Tensor | None] = [None] * n_layer
        self.v: list[torch.Tensor | None] = [None] * n_layer
        self.length = 0
        """Physical cached length (slots per row, padding included)."""
        self.valid = torch.zeros(batch, dtype=torch.long)
        """(B,) real tokens per row; the rest of each row, at its start, is padding."""

    @property
    def batch(self) -> int:
        return int(self.valid.shape[0])

    @property
    def padded(self) -> bool:
        return bool((self.valid < self.length).any())

    def key_padding(self) -> torch.Tensor:
        """(B, length) bool: true at padding slots."""
        return torch.arange(self.length)[None, :] < (self.length - self.valid)[:, None]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append (B, H, T, Dh) keys and values of new tokens to one layer; returns the layer's full K, V."""
        if self.k[layer] is not None:
            k = torch.cat([self.k[layer], k], dim=2)  # (B, H, past + T, Dh)
            v = torch.cat([self.v[layer], v], dim=2)
        self.k[layer], self.v[layer] = k, v
        return k, v

    def advance(self, t: int) -> None:
        """Record that every row received `t` new tokens (after all layers appended them)."""
        self.length += t
        self.valid = self.valid + t

    # --- per-row surgery, for vector envs ------------------------------------------------------------
    def row(self, b: int) -> KVCache:
        """Row `b` as a one-row cache (views of this cache's tensors, its padding trimmed)."""
        out = KVCache(len(self.k), 1)
        n = int(self.valid[b])
        out.k = [None if k is None else k[b:b + 1, :, self.length - n:] for k in self.k]
        out.v = [None if v is None else v[b:b + 1, :, self.length - n:] for v in self.v]
        out.length = n
        out.valid = torch.tensor([n])
        return out

    def set_row(self, b: int, row: KVCache) -> None:
        """Replace row `b` with the single row of `row` (e.g. a fresh episode or a slid window)."""
        if row.batch != 1:
            raise ValueError(f"set_row takes a one-row cache, got {row.batch} rows")
        n = row.length
        if n > self.length:  # widen every row on the left
            self._left_pad(n - self.length)
        for i in range(len(self.k)):
            if self.k[i] is None and row.k[i] is None:
                continue
            if self.k[i] is None:  # nothing cached yet: allocate padding for all rows
                shape = (self.batch, *row.k[i].shape[1:2], self.length, row.k[i].shape[3])
                self.k[i], self.v[i] = row.k[i].new_zeros(shape), row.v[i].new_zeros(shape)
            self.k[i][b].zero_()
            self.v[i][b].zero_()
            if n:
                self.k[i][b, :, self.length - n:] = row.k[i][0]
                self.v[i][b, :, self.length - n:] = row.v[i][0]
        self.valid = self.valid.clone()
        self.valid[b] = n
        self.trim()

    def _left_pad(self, n: int) -> None:
        for i in range(len(self.k)):
            if self.k[i] is not None:
                pad = self.k[i].new_zeros(*self.k[i].shape[:2], n, self.k[i].shape[3])
                self.k[i] = torch.cat([pad, self.k[i]], dim=2)
                self.v[i] = torch.cat([pad.clone(), self.v[i]], dim=2)
        self.length += n

    def trim(self) -> None:
        """Drop leading slots that are padding in every row."""
        drop = self.length - int(self.valid.max()) if self.batch else self.length
        if drop <= 0:
            return
        for i in range(len(self.k)):
            if self.k[i] is not None:
                self.k[i] = self.k[i][:, :, drop:].contiguous()
                self.v[i] = self.v[i][:, :, drop:].contiguous()
        self.length -= drop


class EncoderDecoderCache:
    """What an encoder-decoder family holds while it decodes one timestep's action tokens for a batch of
    envs: the encoder's memory of each row's context beside the decoder's self-attention KVCache.

    The memory is computed once per timestep (`Seq2SeqActing.start`) and read by every decoder step's
    cross-attention; the decoder cache grows by one token per action field. `state` holds whatever else a
    family carries between decoder steps (the decoded tokens for a convolution over outputs, the index of
    UniT's next query).
    """

    def __init__(self, memory: torch.Tensor, memory_mask: torch.Tensor, decoder: KVCache,
                 task_index: torch.Tensor | None = None) -> None:
        self.memory = memory
        """(N, S, D) encoder outputs."""
        self.memory_mask = memory_mask
        """(N, S) bool: true where a memory slot is real (false for padding)."""
        self.decoder = decoder
        """The decoder's self-attention keys and values."""
        self.task_index = task_index
        """(N,) each row's task index (or None)."""
        self.state: dict[str, torch.Tensor] = {}
        """Family-specific decoder state."""

    @property
    def batch(self) -> int:
        return int(self.memory.shape[0])


def window_start(cache: KVCache | None, rows: int) -> int | torch.Tensor:
    """Where new tokens start in the window: 0 with no cache, else the cache's length (per row, a (B,) tensor,
    when it is left-padded). `rows` is the new batch's row count, which must be the cache's."""
    if cache is None:
        return 0
    if cache.batch != rows:
        raise ValueError(f"cache holds {cache.batch} rows but the batch has {rows}")
    return cache.valid if cache.padded else cache.length
