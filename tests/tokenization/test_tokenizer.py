import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given
from hypothesis import strategies as st

from gatosuite.tokenization import Tokenizer, TokenKind, TokenSequence, Vocabulary
from gatosuite.tokenization.images import unpatchify

from .strategies import action_space, obs_space, sample_many

ACTION_KINDS = (TokenKind.ACTION_DISCRETE, TokenKind.ACTION_CONTINUOUS)


def _flat_leaves(x, prefix=""):
    if isinstance(x, dict):
        out = {}
        for k, v in x.items():
            out.update(_flat_leaves(v, f"{prefix}/{k}" if prefix else k))
        return out
    return {prefix: x}


@given(obs_space(), action_space(), st.integers(1, 6), st.integers(0, 2**16), st.booleans())
def test_episode_tokens_match_the_spec(text_model, obs_sp, act_sp, t, seed, final_obs):
    tok = Tokenizer.from_spaces(obs_sp, act_sp, text_model=text_model)
    spec, v = tok.spec, tok.vocab
    obs = sample_many(obs_sp, t + int(final_obs), seed)
    act = sample_many(act_sp, t, seed + 1)
    seq = tok.encode_episode(obs, act, first_timestep=5)
    L = spec.tokens_per_timestep
    assert len(seq) == t * L  # tokens per timestep known from the spaces alone
    kinds = seq.kinds.reshape(t, L)
    ids = seq.ids.reshape(t, L)
    # layout: obs | action, every timestep, in time order
    assert (kinds[:, spec.obs_tokens] == TokenKind.SEPARATOR).all()
    assert (ids[:, spec.obs_tokens] == v.separator).all()
    np.testing.assert_array_equal(seq.timestep.reshape(t, L), np.arange(5, 5 + t)[:, None].repeat(L, 1))
    # ids inside their modality's range
    for kind, (lo, hi) in [(TokenKind.TEXT, v.text_range), (TokenKind.DISCRETE, v.discrete_range),
                           (TokenKind.ACTION_DISCRETE, v.discrete_range),
                           (TokenKind.CONTINUOUS, v.continuous_range),
                           (TokenKind.ACTION_CONTINUOUS, v.continuous_range)]:
        sel = seq.ids[seq.kinds == kind]
        assert ((sel >= lo) & (sel < hi)).all(), kind
    assert (seq.ids[seq.kinds == TokenKind.PAD] == v.pad).all()
    img = seq.kinds == TokenKind.IMAGE
    np.testing.assert_array_equal(seq.ids[img], np.arange(len(seq.patches)))
    assert len(seq.patch_rows) == len(seq.patches) == img.sum()
    # action tokens stay inside the tight per-token ranges used for constrained decoding
    r = spec.action_id_ranges(v)
    a_ids = ids[:, spec.obs_tokens + 1:]
    assert ((a_ids >= r[:, 0]) & (a_ids < r[:, 1])).all()
    # loss mask: only text and action tokens, never padding
    assert set(np.unique(seq.kinds[seq.loss_mask])) <= {TokenKind.TEXT, *ACTION_KINDS}
    assert seq.loss_mask[np.isin(seq.kinds, ACTION_KINDS)].all()
    # local positions: 0..obs_tokens-1 then -1
    lp = seq.local_pos.reshape(t, L)
    assert (lp[:, : spec.obs_tokens] == np.arange(spec.obs_tokens)).all() and (lp[:, spec.obs_tokens:] == -1).all()


@given(obs_space(), action_space(), st.integers(1, 4), st.integers(0, 2**16))
def test_roundtrips(text_model, obs_sp, act_sp, t, seed):
    tok = Tokenizer.from_spaces(obs_sp, act_sp, text_model=text_model)
    obs = sample_many(obs_sp, t, seed)
    act = sample_many(act_sp, t, seed + 1)
    # actions: discrete exact, continuous within half a bin of the Box
    got = _flat_leaves(tok.decode_actions(tok.encode_actions(act)))
    for f in tok.spec.action_fields:
        want = np.asarray(_flat_leaves(act)[f.key])
        have = got[f.key]
        assert have.shape == want.shape and have.dtype == f.dtype
        if f.kind == TokenKind.ACTION_DISCRETE:
            np.testing.assert_array_equal(have, want)
        else:
            half = ((f.high - f.low) / 2048).reshape(f.shape)
            err = np.abs(have.astype(np.float64) - want)
            assert (err <= half * (1 + 1e-6) + 1e-6 * np.abs(want)).all()
    # observations: exact for discrete, images and text; same bin for continuous
    ids, patches, _ = tok.encode_observations(obs)
    dec = _flat_leaves(tok.decode_observations(ids, patches))
    flat = _flat_leaves(obs)
    for f in tok.spec.obs_fields:
        want, have = flat[f.key], dec[f.key]
        if f.kind == TokenKind.CONTINUOUS:
            re_ids, _, _ = tok.encode_observations(tok.decode_observations(ids, patches))
            np.testing.assert_array_equal(re_ids, ids)
        elif f.kind == TokenKind.TEXT:
            assert list(have) == list(want)
        else:
            np.testing.assert_array_equal(have, want)


def test_images_patches_are_the_frames(text_model):
    obs_sp = spaces.Dict({"cam": spaces.Box(0, 255, (32, 48, 3), np.uint8), "x": spaces.Box(-1, 1, (1,))})
    tok = Tokenizer.from_spaces(obs_sp, spaces.Discrete(2))
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 48, 3), dtype=np.uint8)
    seq = tok.encode_episode({"cam": frames, "x": np.zeros((3, 1))}, np.array([0, 1, 0]))
    np.testing.assert_array_equal(unpatchify(seq.patches.reshape(3, 6, 3, 16, 16), 32, 48), frames)
    np.testing.assert_allclose(seq.patch_rows[:6, 0], [0, 0, 0, 0.5, 0.5, 0.5])
    vals = seq.patch_values()
    assert vals.dtype == np.float32 and vals.min() >= -0.25 and vals.max() <= 0.25


def test_text_padding_is_masked_and_repeated_missions_encoded_once(text_model):
    tok = Tokenizer.from_spaces(spaces.Dict({"mission": spaces.Text(40)}), spaces.Discrete(3),
                                text_model=text_model, max_text_tokens=16)
    seq = tok.encode_episode({"mission": ["go to the red ball"] * 4}, np.array([0, 1, 2, 0]))
    rows = seq.kinds.reshape(4, -1)
    n_text = len(text_model.encode(["go to the red ball"])[0])
    assert (rows[:, :n_text] == TokenKind.TEXT).all() and (rows[:, n_text:16] == TokenKind.PAD).all()
    assert not seq.loss_mask.reshape(4, -1)[:, n_text:16].any()
    assert seq.loss_mask.reshape(4, -1)[:, :n_text].all()


def test_encode_text_document(text_model):
    tok = Tokenizer(Tokenizer.from_spaces(spaces.Discrete(2), spaces.Discrete(2)).spec,
                    Vocabulary(text_model.vocab_size), text_model)
    seq = tok.encode_text("the quick brown fox")
    assert seq.ids[-1] == tok.vocab.eos and seq.loss_mask.all()
    assert text_model.decode(seq.ids[:-1]) == "the quick brown fox"


def test_sequence_concatenate_and_slice_keep_patches_consistent():
    obs_sp = spaces.Box(0, 255, (16, 32, 3), np.uint8)
    tok = Tokenizer.from_spaces(obs_sp, spaces.Discrete(2))
    rng = np.random.default_rng(1)
    a = tok.encode_episode(rng.integers(0, 256, (2, 16, 32, 3), dtype=np.uint8), np.array([0, 1]))
    b = tok.encode_episode(rng.integers(0, 256, (3, 16, 32, 3), dtype=np.uint8), np.array([1, 1, 0]))
    both = TokenSequence.concatenate([a, b])
    assert len(both) == len(a) + len(b) and len(both.patches) == 10
    img = both.kinds == TokenKind.IMAGE
    np.testing.assert_array_equal(both.ids[img], np.arange(10))
    np.testing.assert_array_equal(both.patches[7], b.patches[3])  # after a's 4 patches
    part = both.slice(len(a) + 4, len(both))  # the second timestep of b onwards
    np.testing.assert_array_equal(part.patches, b.patches[2:])
    np.testing.assert_array_equal(part.ids[part.kinds == TokenKind.IMAGE], np.arange(4))


def test_text_model_vocab_must_match():
    with pytest.raises(ValueError, match="pass a text_model"):
        Tokenizer.from_spaces(spaces.Dict({"m": spaces.Text(5)}), spaces.Discrete(2))


@given(obs_space(), action_space(), st.integers(1, 4), st.integers(0, 2**16))
def test_prefix_matches_the_episode_tokens(text_model, obs_sp, act_sp, t, seed):
    tok = Tokenizer.from_spaces(obs_sp, act_sp, text_model=text_model)
    obs, act = sample_many(obs_sp, t, seed), sample_many(act_sp, t, seed + 1)
    full = tok.encode_episode(obs, act)
    pre = tok.encode_prefix(obs)
    n = tok.spec.obs_tokens + 1
    L = tok.spec.tokens_per_timestep
    keep = (np.arange(len(full)) % L) < n
    for name in ("ids", "kinds", "local_pos", "timestep", "loss_mask"):
        np.testing.assert_array_equal(getattr(pre, name), getattr(full, name)[keep])
    np.testing.assert_array_equal(pre.patches, full.patches)
