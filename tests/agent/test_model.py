import numpy as np
import pytest
import torch
from gymnasium import spaces

from gatosuite.agent.batch import collate
from gatosuite.agent.models.gato.configuration_gato import GatoConfig, preset
from gatosuite.agent.models.gato.modeling_gato import GatoModel
from gatosuite.tokenization import Tokenizer, TokenKind

OBS = spaces.Dict({"mission": spaces.Text(40), "image": spaces.Box(0, 255, (32, 32, 3), np.uint8),
                   "direction": spaces.Discrete(4), "state": spaces.Box(-np.inf, np.inf, (3,), np.float32)})
ACT = spaces.Box(-1.0, 1.0, (2,), np.float32)


@pytest.fixture
def tok(text_model):
    return Tokenizer.from_spaces(OBS, ACT, text_model=text_model, max_text_tokens=8)


def _episode(tok, t, seed):
    rng = np.random.default_rng(seed)
    obs = {"mission": ["go to the red ball"] * t, "image": rng.integers(0, 256, (t, 32, 32, 3), dtype=np.uint8),
           "direction": rng.integers(0, 4, t), "state": rng.normal(size=(t, 3)).astype(np.float32)}
    return tok.encode_episode(obs, rng.uniform(-1, 1, (t, 2)).astype(np.float32))


def _model(tok, **kw):
    torch.manual_seed(0)
    cfg = GatoConfig(vocab_size=tok.vocab.size, n_layer=2, n_head=2, n_embd=64, ffn=128, context=128,
                     max_local_positions=32, patch_channels=8, **kw)
    return GatoModel(cfg)


def test_presets_have_the_documented_sizes():
    sizes = {name: GatoModel(preset(name, 6148)).num_parameters() for name in ("nano", "tiny", "small")}
    assert 0.7e6 < sizes["nano"] < 1.3e6
    assert 4e6 < sizes["tiny"] < 6e6
    assert 22e6 < sizes["small"] < 28e6
    cfg = preset("gato-79m", 6148)
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.ffn) == (8, 768, 24, 3072)


def test_logits_only_at_text_and_action_targets(tok):
    batch = collate([_episode(tok, 3, 0), _episode(tok, 2, 1)], tok.vocab)
    model = _model(tok)
    logits, loss, info = model(batch)
    m = int(batch.target_mask.sum())
    assert logits.shape == (m, tok.vocab.size) and loss.ndim == 0 and info["n_targets"] == m
    nxt = torch.cat([batch.kinds[:, 1:], batch.kinds[:, :1]], 1)[batch.target_mask]
    allowed = {TokenKind.TEXT, TokenKind.ACTION_DISCRETE, TokenKind.ACTION_CONTINUOUS}
    assert set(nxt.tolist()) <= {int(k) for k in allowed}
    # every action token is a target (predicted from the tokens before it); padding never is
    seq_kinds = batch.kinds
    n_actions = int(((seq_kinds == TokenKind.ACTION_CONTINUOUS)).sum())
    assert int((nxt == TokenKind.ACTION_CONTINUOUS).sum()) == n_actions
    assert "loss_action" in info and "loss_text" in info


def test_attention_is_causal_and_pixels_matter(tok):
    seq = _episode(tok, 2, 0)
    model = _model(tok).eval()
    b1 = collate([seq], tok.vocab)
    h1 = model.hidden(b1)
    b2 = collate([seq], tok.vocab)
    b2.ids[0, -1] = tok.vocab.continuous_offset  # change the last token
    assert torch.allclose(model.hidden(b2)[0, :-1], h1[0, :-1], atol=1e-6)
    b3 = collate([seq], tok.vocab)
    b3.patches = b3.patches.flip(0)  # same tokens, other pixels
    assert not torch.allclose(model.hidden(b3)[0, -1], h1[0, -1], atol=1e-4)


@pytest.mark.slow
def test_overfits_a_tiny_batch(tok):
    batch = collate([_episode(tok, 3, 0), _episode(tok, 3, 1)], tok.vocab)
    model = _model(tok)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        _, loss, _ = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05


def test_config_validation_and_diff():
    with pytest.raises(ValueError, match="not divisible"):
        GatoConfig(vocab_size=10, n_embd=10, n_head=3)
    with pytest.raises(KeyError, match="unknown preset 'huge'"):
        preset("huge", 10)
    a, b = preset("nano", 100), preset("nano", 200, n_layer=5)
    assert a.diff(b) == {"vocab_size": (100, 200), "n_layer": (4, 5)}


def test_window_longer_than_context_is_an_error(tok):
    model = _model(tok)
    batch = collate([_episode(tok, 8, 0)], tok.vocab)  # 8 x 19 = 152 tokens
    with pytest.raises(ValueError, match="context is 128"):
        model(batch)


def _slice_batch(tok, seq, start, stop):
    return collate([seq.slice(start, stop)], tok.vocab)


def test_kv_cache_matches_full_recompute_across_a_window_slide(tok):
    """Feed a timestep at a time through the cache, slide the window (fresh cache, kept timesteps re-fed
    from position 0, as a policy does), and compare every next-token logit with a full forward pass."""
    model = _model(tok).eval()
    seq = _episode(tok, 8, 3)
    L = tok.spec.tokens_per_timestep
    full_ids = seq.ids
    torch.manual_seed(0)

    def full_logits(start_step, stop):  # logits at every position of window [start_step*L, stop)
        b = _slice_batch(tok, seq, start_step * L, stop)
        return model.hidden(b) @ model.tok.weight.T  # (1, T, V)

    with torch.no_grad():
        cache = model.new_cache()
        for t in range(5):  # window holds 5 timesteps (95 tokens of a 128 context)
            out = model.hidden(_slice_batch(tok, seq, t * L, (t + 1) * L), cache) @ model.tok.weight.T
            ref = full_logits(0, (t + 1) * L)[:, t * L:]
            assert torch.allclose(out, ref, atol=1e-4), (t, (out - ref).abs().max())
        # slide: drop the oldest 2 timesteps, re-feed the kept 3 into a fresh cache, continue
        cache = model.new_cache()
        model.hidden(_slice_batch(tok, seq, 2 * L, 5 * L), cache)
        for t in range(5, 8):
            out = model.hidden(_slice_batch(tok, seq, t * L, (t + 1) * L), cache) @ model.tok.weight.T
            ref = full_logits(2, (t + 1) * L)[:, (t - 2) * L:]
            assert torch.allclose(out, ref, atol=1e-4), (t, (out - ref).abs().max())
    assert len(full_ids) == 8 * L


def test_batched_cache_rows_of_different_lengths_match_each_row_alone(tok):
    """Rows of one batched cache hold different numbers of timesteps (left padding, per-row positions);
    a row replaced by set_row (a new episode) continues from position 0. Every row's logits must equal
    those of the same tokens fed through a cache of its own."""
    model = _model(tok).eval()
    L = tok.spec.tokens_per_timestep
    seqs = [_episode(tok, 6, s) for s in range(3)]
    step = lambda k, t: _slice_batch(tok, seqs[k], t * L, (t + 1) * L)  # noqa: E731
    with torch.no_grad():
        cache = model.new_cache(3)
        alone = [model.new_cache() for _ in range(3)]
        starts = [0, 0, 0]
        for t in range(5):
            if t == 2:  # row 1 starts over: its row is rebuilt empty while rows 0 and 2 keep 2 timesteps
                fresh = model.new_cache()
                cache.set_row(1, fresh)
                alone[1], starts[1] = model.new_cache(), 2
            if t == 3:  # row 2 is rebuilt from its last timestep, re-fed from position 0
                fresh = model.new_cache()
                model.hidden(step(2, 2), fresh)
                cache.set_row(2, fresh)
                alone[2] = model.new_cache()
                model.hidden(step(2, 2), alone[2])
            batch = collate([seqs[k].slice(t * L, (t + 1) * L) for k in range(3)], tok.vocab)
            out = model.hidden(batch, cache) @ model.tok.weight.T  # (3, L, V)
            for k in range(3):
                ref = model.hidden(step(k, t), alone[k]) @ model.tok.weight.T
                assert torch.allclose(out[k], ref[0], atol=1e-4), (t, k, (out[k] - ref[0]).abs().max())
        assert cache.valid.tolist() == [5 * L, 3 * L, 3 * L] and cache.length == 5 * L


def test_rows_rebuilt_in_one_batch_continue_as_if_rebuilt_alone(tok):
    """A policy rebuilds the envs that slid together in one forward pass and moves each row of that
    batch into the vector env's cache (KVCache.row, then set_row); rows 0 and 2 rebuilt so must give the
    logits of rows rebuilt one by one, while row 1 keeps its longer context."""
    model = _model(tok).eval()
    L = tok.spec.tokens_per_timestep
    seqs = [_episode(tok, 6, s) for s in range(3)]
    with torch.no_grad():
        def fed(rows, t0, t1):
            return collate([seqs[k].slice(t0 * L, t1 * L) for k in rows], tok.vocab)

        batched, single = model.new_cache(3), model.new_cache(3)
        model.hidden(fed(range(3), 0, 3), batched)
        model.hidden(fed(range(3), 0, 3), single)
        together = model.new_cache(2)
        model.hidden(fed([0, 2], 1, 2), together)  # rows 0 and 2 keep one timestep each
        for i, k in enumerate([0, 2]):
            batched.set_row(k, together.row(i))
            alone = model.new_cache()
            model.hidden(fed([k], 1, 2), alone)
            single.set_row(k, alone)
        assert batched.valid.tolist() == [L, 3 * L, L] == single.valid.tolist()
        out = model.hidden(fed(range(3), 3, 4), batched)
        ref = model.hidden(fed(range(3), 3, 4), single)
        assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()


def test_hl_gauss_targets_are_a_gaussian_over_neighbouring_bins(tok):
    """The smoothed target's cross-entropy, checked against a hand computation on one target: a uniform
    predicted distribution over V ids costs log(V) whatever the target, and a sharp prediction of the
    target bin costs more than the one-hot NLL because the target spreads over its neighbours."""
    import math

    from gatosuite.agent.token_io import hl_gauss_nll

    model = _model(tok, action_targets="hl-gauss", target_sigma=1.0)
    V = tok.vocab.size
    bins = torch.tensor([500])
    uniform = hl_gauss_nll(torch.log_softmax(torch.zeros(1, V), -1), bins, model.cont_lo, model.cfg.target_sigma).item()
    assert uniform == pytest.approx(math.log(V), rel=1e-5)
    sharp = torch.full((1, V), -30.0)
    sharp[0, model.cont_lo + 500] = 30.0
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    mass_centre = phi(0.5) - phi(-0.5)  # share of the target on bin 500 itself (sigma = 1 bin)
    expected = -(mass_centre * 0.0 + (1 - mass_centre) * -60.0)  # log p = 0 on bin 500, -60 elsewhere
    sharp_nll = hl_gauss_nll(torch.log_softmax(sharp, -1), bins, model.cont_lo, model.cfg.target_sigma).item()
    assert sharp_nll == pytest.approx(expected, rel=1e-3)


def test_hl_gauss_applies_only_to_continuous_action_targets(tok):
    batch = collate([_episode(tok, 3, 0)], tok.vocab)
    onehot, smooth = _model(tok).eval(), _model(tok, action_targets="hl-gauss").eval()  # eval: no random patch bins
    _, _, a = onehot(batch)
    _, _, b = smooth(batch)
    nxt = torch.cat([batch.kinds[:, 1:], batch.kinds[:, :1]], 1)[batch.target_mask]
    cont = nxt == TokenKind.ACTION_CONTINUOUS
    assert torch.equal(a["token_loss"][~cont], b["token_loss"][~cont])  # text targets unchanged
    assert not torch.allclose(a["token_loss"][cont], b["token_loss"][cont])


def test_value_input_is_linear_in_actions_and_symlog_of_raw_observations(tok):
    """With 'token+value', an action token adds its bin centre in [-1, 1]; an observation token adds
    symlog of the raw value its mu-law bin decodes to; other tokens add nothing."""
    import math

    from gatosuite.tokenization.continuous import decode_observation, encode_observation

    model = _model(tok, value_input="token+value")
    obs_bin = int(encode_observation(np.array([0.5]))[0])
    ids = torch.tensor([[model.cont_lo + 300, model.cont_lo + 301, model.cont_lo + obs_bin, 5]])
    kinds = torch.tensor([[TokenKind.ACTION_CONTINUOUS, TokenKind.ACTION_CONTINUOUS, TokenKind.CONTINUOUS,
                           TokenKind.TEXT]])
    v = model.continuous_values(ids, kinds)[0]
    assert v[0].item() == pytest.approx(300.5 / 512 - 1) and (v[1] - v[0]).item() == pytest.approx(1 / 512)
    raw = float(decode_observation(np.array([obs_bin]))[0])  # ~0.5, at the bin centre
    assert v[2].item() == pytest.approx(math.log1p(raw), rel=1e-4) and abs(raw - 0.5) < 0.01
    assert v[3].item() == 0.0
    assert _model(tok).cfg.value_input == "token"  # the default input is Gato's


def test_old_checkpoints_keep_their_behaviour(tmp_path, tok):
    """A config.json written before a field existed loads with the field's legacy value, not today's
    default."""
    import json

    from gatosuite.agent.checkpoint import config_of, save_checkpoint

    save_checkpoint(tmp_path / "ck", _model(tok), None)
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    for k in ("value_input", "action_targets", "continuous_decoding"):
        del meta["model"][k]
    (tmp_path / "ck" / "config.json").write_text(json.dumps(meta))
    cfg = config_of(tmp_path / "ck")
    assert (cfg.value_input, cfg.action_targets, cfg.continuous_decoding) == ("token", "onehot", "argmax")


def test_packed_segments_are_independent(tok):
    """Segments packed into one row give each token the same hidden state as that segment fed alone
    (positions restart, attention stays inside), and no target crosses a segment boundary."""
    from gatosuite.agent.batch import collate_rows

    model = _model(tok).eval()
    a, b = _episode(tok, 2, 0), _episode(tok, 1, 1)
    packed = collate_rows([[a, b]], tok.vocab)
    alone_a, alone_b = collate([a], tok.vocab), collate([b], tok.vocab)
    assert packed.positions[0, len(a)].item() == 0 and packed.segments[0, len(a)].item() == 1
    with torch.no_grad():
        h = model.hidden(packed)[0]
        torch.testing.assert_close(h[:len(a)], model.hidden(alone_a)[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(h[len(a):], model.hidden(alone_b)[0], rtol=1e-5, atol=1e-5)
    assert not packed.target_mask[0, len(a) - 1]  # the last token of a never predicts b's first
    n = int(alone_a.target_mask.sum() + alone_b.target_mask.sum())
    assert int(packed.target_mask.sum()) == n


def test_task_index_follows_the_packed_layout(tok):
    """The task of every token, laid out as collate_rows packs the segments: the per-task loss split
    (training's per-domain loss, compare's NLL columns) and task-reading families (UniT's queries,
    MultiModel's task token) read it position by position."""
    from gatosuite.agent.batch import collate_tasks, target_task_names

    a, b, c = _episode(tok, 2, 0), _episode(tok, 1, 1), _episode(tok, 1, 2)
    length = len(a) + len(b) + 3
    vocab = ("acrobot", "cartpole")  # mw-reach is outside it
    batch = collate_tasks([[("cartpole", a), ("acrobot", b)], [("mw-reach", c)]], tok.vocab, length, vocab)
    owner = batch.task_index.numpy()  # (2, T)
    assert owner.shape == (2, length)
    assert set(owner[0, :len(a)]) == {1} and set(owner[0, len(a):len(a) + len(b)]) == {0}
    assert set(owner[0, len(a) + len(b):]) == {-1}  # padding belongs to no task
    assert set(owner[1, :len(c)]) == {-1} and set(owner[1, len(c):]) == {-1}  # an unknown task is -1
    names = target_task_names(batch, vocab)
    assert len(names) == int(batch.target_mask.sum())
    assert set(names) == {"cartpole", "acrobot", ""}
