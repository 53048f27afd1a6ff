"""The encoder-decoder batch adapter (agent/seq2seq.py): every target lands in the decoder stream in the
TokenBatch's target order, every context token (pixels included) in the encoder stream, chunks are
timesteps, and the masks are block-causal, causal within a chunk, and never empty."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from gatosuite.agent.batch import collate, collate_rows
from gatosuite.agent.seq2seq import acting_cross_mask, acting_query, split_streams
from gatosuite.tokenization import Tokenizer, TokenKind

OBS = spaces.Dict({"mission": spaces.Text(40), "image": spaces.Box(0, 255, (16, 32, 3), np.uint8),
                   "state": spaces.Box(-np.inf, np.inf, (3,), np.float32)})
ACT = spaces.Box(-1.0, 1.0, (2,), np.float32)


@pytest.fixture
def tok(text_model):
    return Tokenizer.from_spaces(OBS, ACT, text_model=text_model, max_text_tokens=8)


def _episode(tok, t, seed):
    rng = np.random.default_rng(seed)
    obs = {"mission": ["go to the red ball"] * t, "image": rng.integers(0, 256, (t, 16, 32, 3), dtype=np.uint8),
           "state": rng.normal(size=(t, 3)).astype(np.float32)}
    return tok.encode_episode(obs, rng.uniform(-1, 1, (t, 2)).astype(np.float32))


def _context_per_step(tok, ep):
    """Real (non-padding) observation tokens and the separator of one timestep."""
    kinds = ep.kinds[:tok.spec.obs_tokens + 1]
    return int((kinds != TokenKind.PAD).sum())


def test_targets_become_the_decoder_stream_in_target_order(tok):
    a, b, c = _episode(tok, 3, 0), _episode(tok, 2, 1), _episode(tok, 4, 2)
    batch = collate_rows([[a, b], [c]], tok.vocab, tasks=[[0, 1], [2]])
    s = split_streams(batch)
    m = s.dec.target_mask
    kept = batch.target_mask.clone()  # the TokenBatch's targets less the mission's text
    kept[:, :-1] &= batch.kinds[:, 1:] != TokenKind.TEXT
    assert int(m.sum()) == int(kept.sum()) < int(batch.target_mask.sum())
    torch.testing.assert_close(s.dec.targets[m], batch.targets[kept])  # same labels, same order
    torch.testing.assert_close(s.target_task_index(), batch.task_index[kept])
    kinds = s.target_kinds[m]
    assert set(kinds.tolist()) == {TokenKind.ACTION_CONTINUOUS}  # the mission is context, not a target
    # two action fields per timestep: position 0 is a start token, position 1 is fed the first action
    assert s.dec_first[m].sum() == 3 + 2 + 4 and (s.dec.positions[m] <= 1).all()
    fed = m & ~s.dec_first
    assert (s.dec.kinds[fed] == TokenKind.ACTION_CONTINUOUS).all() and (s.dec.kinds[s.dec_first] == TokenKind.PAD).all()
    assert (s.dec.task_index[0][s.dec_segment[0] == 1] == 1).all() and (s.dec.task_index[1][s.dec_real[1]] == 2).all()


def test_context_tokens_and_their_pixels_become_the_encoder_stream(tok):
    a, c = _episode(tok, 3, 0), _episode(tok, 2, 2)
    batch = collate_rows([[a], [c]], tok.vocab)
    s = split_streams(batch)
    per_step = _context_per_step(tok, a)
    assert s.enc_real.sum(1).tolist() == [3 * per_step, 2 * per_step]
    assert not ((s.enc.kinds == TokenKind.ACTION_CONTINUOUS).any())
    words = int((a.kinds[:tok.spec.tokens_per_timestep] == TokenKind.TEXT).sum())
    assert (s.enc.kinds == TokenKind.TEXT).sum(1).tolist() == [3 * words, 2 * words]  # the mission is context
    assert s.enc.patches.shape[0] == batch.patches.shape[0]
    flat = s.enc.kinds.view(-1)[s.enc.patch_slot]
    assert (flat == TokenKind.IMAGE).all()  # every patch sits on an image token of the encoder stream
    assert s.enc_chunk[0, :per_step].eq(0).all() and s.enc_chunk[0, 2 * per_step:3 * per_step].eq(2).all()
    # the encoder keeps each token's position in its window (gaps where the actions were)
    assert s.enc.positions[0, per_step].item() == tok.spec.tokens_per_timestep  # the next timestep's first token


def test_masks_are_block_causal_and_never_empty(tok):
    a, b = _episode(tok, 2, 0), _episode(tok, 2, 1)
    s = split_streams(collate_rows([[a, b], [a]], tok.vocab))
    enc, dec, cross = s.enc_self_mask()[:, 0], s.dec_self_mask()[:, 0], s.cross_mask()[:, 0]
    assert enc.any(-1).all() and dec.any(-1).all() and cross.any(-1).all()
    per_step = _context_per_step(tok, a)
    assert enc[0, 0, per_step - 1] and not enc[0, 0, per_step]  # chunk 0 sees its own timestep, not the next
    assert enc[0, per_step, 0]  # chunk 1 sees chunk 0
    assert not enc[0, 2 * per_step, per_step]  # segment b never sees segment a
    assert cross[0, 0, :per_step].all() and not cross[0, 0, per_step:].any()  # timestep 0's actions read chunk 0
    assert cross[0, 2, :2 * per_step].all()  # timestep 1's actions read chunks 0 and 1
    assert dec[0, 1, 0] and not dec[0, 0, 1] and not dec[0, 2, 1]  # causal, and within its chunk only


def test_acting_query_is_the_last_timestep(tok):
    ep = _episode(tok, 3, 0)
    context = ep.slice(0, len(ep) - tok.spec.action_tokens)  # the window before the last actions
    s = split_streams(collate([context], tok.vocab))
    chunk, segment, task = acting_query(s)
    assert chunk.tolist() == [2] and segment.tolist() == [0] and task.tolist() == [-1]
    assert acting_cross_mask(s).sum().item() == 3 * _context_per_step(tok, ep)


def test_a_text_sequence_is_one_chunk_of_targets(text_model):
    from gatosuite.tokenization import Vocabulary

    vocab = Vocabulary(text_model.vocab_size)
    tok = Tokenizer.from_spaces(spaces.Dict({"state": spaces.Box(-1, 1, (1,), np.float32)}), ACT,
                                text_model=text_model)
    seq = tok.encode_text("the quick brown fox jumps over the lazy dog")
    s = split_streams(collate([seq], vocab))
    assert int(s.dec.target_mask.sum()) == int(collate([seq], vocab).target_mask.sum())
    assert s.enc_real.sum().item() >= 1 and s.dec_first.sum().item() == 1
