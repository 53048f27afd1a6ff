"""UniT (agent/models/unit): acting decodes exactly what training predicts, packed segments and later
timesteps never leak into a window's logits, each modality encoder reads only its own modality, the task
queries, heads and (unshared) decoders are per task with the parameter counts that implies, and the
family trains, checkpoints and acts through the shared trainer and policy factory."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from gatosuite.agent.batch import collate, collate_rows
from gatosuite.agent.checkpoint import load_model, save_checkpoint
from gatosuite.agent.families import get_family
from gatosuite.agent.models.unit.encoders import modality_of
from gatosuite.agent.policy_base import single_token
from gatosuite.agent.seq2seq import split_streams
from gatosuite.errors import ConfigError
from gatosuite.tokenization import Tokenizer, TokenKind

OBS = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (4,), np.float32)})
ACT = spaces.Box(-1.0, 1.0, (2,), np.float32)  # two action fields: acting feeds the first back
TASKS = ("cartpole", "acrobot")
MISSION_OBS = spaces.Dict({"mission": spaces.Text(40), "image": spaces.Box(0, 255, (16, 32, 3), np.uint8),
                           "state": spaces.Box(-np.inf, np.inf, (3,), np.float32)})


@pytest.fixture
def tok(text_model):
    return Tokenizer.from_spaces(OBS, ACT, text_model=text_model)


@pytest.fixture
def mission_tok(text_model):
    return Tokenizer.from_spaces(MISSION_OBS, ACT, text_model=text_model, max_text_tokens=8)


def _model(vocab_size, **kw):
    torch.manual_seed(0)
    family = get_family("unit")
    return family.model(family.prepare(family.build("nano", vocab_size, context=256, **kw), TASKS, None))


def _episode(tok, t, seed):
    rng = np.random.default_rng(seed)
    return tok.encode_episode({"state": rng.normal(size=(t, 4)).astype(np.float32)},
                              rng.uniform(-1, 1, (t, 2)).astype(np.float32))


def _mission_episode(tok, t, seed, mission="go to the red ball"):
    rng = np.random.default_rng(seed)
    obs = {"mission": [mission] * t, "image": rng.integers(0, 256, (t, 16, 32, 3), dtype=np.uint8),
           "state": rng.normal(size=(t, 3)).astype(np.float32)}
    return tok.encode_episode(obs, rng.uniform(-1, 1, (t, 2)).astype(np.float32))


def _logits(model, batch):
    with torch.no_grad():
        return model(split_streams(batch))[0]


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("kind", ["state", "mission and pixels"])
def test_acting_decodes_what_training_predicts(tok, mission_tok, shared, kind):
    """start + next_token_logits over a batch of envs with windows of different lengths (encoder padding),
    tasks (one unknown) and, without a shared decoder, different decoders give the forward pass's logits
    at each row's last timestep's two actions."""
    model = _model(tok.vocab.size, shared_decoder=shared).eval()
    if kind == "state":
        seqs = [_episode(tok, 5, 0), _episode(tok, 3, 1)]
    else:
        seqs = [_mission_episode(mission_tok, 3, 0), _mission_episode(mission_tok, 2, 1, "a red ball")]
    vocab = tok.vocab if kind == "state" else mission_tok.vocab
    tasks = [[0], [-1]]
    full = collate_rows([[s] for s in seqs], vocab, tasks=tasks)
    s = split_streams(full)
    logits = _logits(model, full)  # (M, V)
    rows = s.dec.target_mask.nonzero()[:, 0]  # (M,) row of each target
    want = torch.stack([logits[rows == b][-2:] for b in range(2)])  # (2 rows, 2 fields, V)
    context = collate_rows([[q.slice(0, len(q) - 2)] for q in seqs], vocab, tasks=tasks)
    with torch.no_grad():
        first, cache = model.start(context)  # (2, V)
        fed = collate([single_token(int(q.kinds[-2]), int(q.ids[-2]), 0) for q in seqs], vocab)
        second = model.next_token_logits(fed, cache)  # (2, V)
    assert cache.decoder.length == 2
    torch.testing.assert_close(first, want[:, 0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(second, want[:, 1], rtol=1e-4, atol=1e-4)


def test_packed_segments_do_not_leak(tok):
    """A segment's logits are the same alone in its row and packed behind another segment."""
    model = _model(tok.vocab.size).eval()
    a, b = _episode(tok, 4, 0), _episode(tok, 3, 1)
    alone = _logits(model, collate_rows([[b]], tok.vocab, tasks=[[1]]))
    packed = _logits(model, collate_rows([[a, b]], tok.vocab, tasks=[[0, 1]]))
    n_a = _logits(model, collate_rows([[a]], tok.vocab, tasks=[[0]])).shape[0]
    torch.testing.assert_close(packed[n_a:], alone, rtol=1e-4, atol=1e-4)


def test_a_later_timestep_never_changes_an_earlier_ones_logits(tok):
    model = _model(tok.vocab.size).eval()
    seq = _episode(tok, 5, 0)
    other = _episode(tok, 5, 7)
    per_step = tok.spec.tokens_per_timestep
    changed = seq.slice(0, len(seq))
    changed.ids = changed.ids.copy()
    changed.ids[4 * per_step:4 * per_step + 4] = other.ids[4 * per_step:4 * per_step + 4]  # last observation
    before = _logits(model, collate([seq], tok.vocab))
    after = _logits(model, collate([changed], tok.vocab))
    torch.testing.assert_close(after[:-2], before[:-2], rtol=1e-5, atol=1e-5)  # timesteps 0-3: unchanged
    assert not torch.allclose(after[-2:], before[-2:])  # the changed timestep's own actions do move


def test_each_modality_encoder_reads_only_its_own_modality(mission_tok):
    """Changing the pixels moves the image tokens' states only; changing the state values moves the value
    tokens' states only (the text encoder's outputs stay exactly the same before the concatenation); the
    memory after it does depend on every modality, and no state is NaN."""
    model = _model(mission_tok.vocab.size).eval()
    seq = _mission_episode(mission_tok, 3, 0)
    batch = collate([seq], mission_tok.vocab)
    s = split_streams(batch)
    with torch.no_grad():
        base, mod = model.modality_states(s)  # (1, S, D), (1, S)
    assert set(mod[s.enc_real].tolist()) == {0, 1, 2}  # image, text, value tokens are all there
    torch.testing.assert_close(mod, modality_of(s.enc.kinds))

    pixels = split_streams(batch)
    pixels.enc.patches = pixels.enc.patches + 0.5  # every image patch changes
    other = _mission_episode(mission_tok, 3, 9)  # other state values, same mission
    values = split_streams(collate([other], mission_tok.vocab))
    values.enc.patches = s.enc.patches  # same pixels
    with torch.no_grad():
        by_pixels, _ = model.modality_states(pixels)
        by_values, _ = model.modality_states(values)
    image, text = (mod == 0) & s.enc_real, (mod == 1) & s.enc_real
    value = (mod == 2) & s.enc_real
    assert torch.isfinite(by_pixels).all() and torch.isfinite(by_values).all()
    torch.testing.assert_close(by_pixels[~image], base[~image], rtol=0, atol=0)
    assert (by_pixels[image] - base[image]).abs().amax(-1).min() > 1e-4  # every image token moves
    torch.testing.assert_close(by_values[image | text], base[image | text], rtol=0, atol=0)
    assert (by_values[value] - base[value]).abs().max() > 1e-4
    with torch.no_grad():  # after the concatenation the decoder reads them all: pixels move the logits
        assert not torch.allclose(model(pixels)[0], model(s)[0], atol=1e-5)


def test_a_row_without_some_modality_and_padding_stay_finite(mission_tok, tok):
    """A batch mixing a state-only task (no image, no text) with a mission task: no mask row is empty."""
    model = _model(mission_tok.vocab.size).eval()
    plain = Tokenizer.from_spaces(OBS, ACT, text_model=mission_tok.text_model, vocab=mission_tok.vocab)
    batch = collate_rows([[_mission_episode(mission_tok, 2, 0)], [_episode(plain, 4, 1)]], mission_tok.vocab,
                         tasks=[[0], [1]])
    logits = _logits(model, batch)
    assert logits.shape[0] > 0 and torch.isfinite(logits).all()


def test_task_queries_and_heads_are_per_task(tok):
    """Another task's queries and head change the logits; -1 and an index past the vocabulary share the
    unknown row; training on one task moves only that task's query rows and head."""
    model = _model(tok.vocab.size).eval()
    seq = _episode(tok, 3, 0)

    def run(task):
        return _logits(model, collate_rows([[seq]], tok.vocab, tasks=[[task]]))

    assert not torch.allclose(run(0), run(1), atol=1e-4)
    unknown = run(-1)
    assert torch.isfinite(unknown).all() and not torch.allclose(unknown, run(0), atol=1e-4)
    torch.testing.assert_close(unknown, run(99))
    nq = model.cfg.n_queries
    assert model.queries.weight.shape[0] == (len(TASKS) + 1) * nq and model.heads.weight.shape[0] == len(TASKS) + 1
    model.train()
    _, loss, _ = model(split_streams(collate_rows([[seq]], tok.vocab, tasks=[[1]])))
    loss.backward()
    q_grad = model.queries.weight.grad.abs().sum(1).view(len(TASKS) + 1, nq)  # (rows, n_queries)
    assert q_grad[2, :2].min() > 0 and q_grad[2, 2:].sum() == 0  # two action fields: queries 0 and 1
    assert q_grad[:2].sum() == 0
    h_grad = model.heads.weight.grad.abs().sum((1, 2))  # (rows,)
    assert h_grad[2] > 0 and h_grad[0] == 0 and h_grad[1] == 0


def test_shared_and_separate_decoders_count_as_expected(tok):
    """Without a shared decoder there is one decoder per task row (the tasks and the unknown one): exactly
    len(tasks) more decoders' parameters; each task's logits come from its own decoder only."""
    shared, separate = _model(tok.vocab.size), _model(tok.vocab.size, shared_decoder=False).eval()
    assert len(shared.decoders) == 1 and len(separate.decoders) == len(TASKS) + 1
    per_decoder = shared.decoder_parameters()
    d, ffn, layers = 128, 512, shared.cfg.n_layer
    block = 4 * (d * d + d) + 2 * (d * d + d) + 2 * (d * d + d) + (d * ffn + ffn + ffn * d + d) + 3 * 2 * d
    assert per_decoder == layers * block + 2 * d  # self-attn, cross-attn, FFN, three norms; final norm
    assert separate.num_parameters() - shared.num_parameters() == len(TASKS) * per_decoder
    assert separate.num_parameters(False) - shared.num_parameters(False) == len(TASKS) * per_decoder
    assert separate.active_parameters() == shared.active_parameters()  # one task uses one decoder either way
    batch = collate_rows([[_episode(tok, 3, 0)], [_episode(tok, 3, 1)]], tok.vocab, tasks=[[0], [1]])
    before = _logits(separate, batch)
    with torch.no_grad():  # perturb task 1's decoder (row 2): only task 1's logits move
        for p in separate.decoders[2].parameters():
            p.add_(0.05 * torch.randn_like(p))
    after = _logits(separate, batch)
    rows = split_streams(batch).dec.target_mask.nonzero()[:, 0]
    torch.testing.assert_close(after[rows == 0], before[rows == 0], rtol=0, atol=0)
    assert not torch.allclose(after[rows == 1], before[rows == 1], atol=1e-4)


def test_costs_and_optimizer_groups(tok):
    model = _model(tok.vocab.size)
    groups = model.param_groups(0.1)
    decayed = {id(p) for p in groups[0]["params"]}
    assert id(model.heads.weight) in decayed and id(model.decoders[0].blocks[0].cross.q.weight) in decayed
    for table in (model.inputs.tok.weight, model.queries.weight, model.modality.weight, model.heads.bias):
        assert id(table) not in decayed
    assert model.num_parameters() < model.num_parameters(non_embedding=False)
    deeper = _model(tok.vocab.size, n_layer=3)
    assert deeper.flops_per_token(240) > model.flops_per_token(240) > 0


def test_config_refuses_bad_fields():
    family = get_family("unit")
    with pytest.raises(ConfigError, match="n_queries must be positive"):
        family.build("nano", 6144, n_queries=0)
    with pytest.raises(ConfigError, match="holds a task twice"):
        family.build("nano", 6144, tasks=("a", "a"))
    with pytest.raises(ConfigError, match="shared_decoder must be True or False"):
        family.build("nano", 6144, shared_decoder="no")
    from gatosuite.agent.train import parse_overrides  # the CLI's --overrides give a string

    cfg = family.build("nano", 6144, **parse_overrides(["shared_decoder=False"], family.config))
    assert cfg.shared_decoder is False


@pytest.mark.parametrize("shared", [True, False])
def test_checkpoint_round_trip_gives_the_same_logits(tok, tmp_path, text_model, shared):
    model = _model(tok.vocab.size, shared_decoder=shared).eval()
    batch = collate_rows([[_episode(tok, 4, 0)]], tok.vocab, tasks=[[1]])
    save_checkpoint(tmp_path / "ck", model, text_model, {"tasks": list(TASKS)})
    loaded, meta = load_model(tmp_path / "ck")
    assert loaded.cfg == model.cfg and loaded.cfg.tasks == TASKS and meta["architecture"] == "unit"
    assert loaded.cfg.shared_decoder is shared
    torch.testing.assert_close(_logits(loaded.eval(), batch), _logits(model, batch), rtol=0, atol=0)


@pytest.mark.slow
def test_trains_through_the_shared_trainer_then_acts(tmp_path, make_toy_caches, text_model):
    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.envs import make_task_env

    caches = make_toy_caches(tmp_path)
    args = TrainArgs(out=tmp_path / "run", model="unit", preset="nano", window=60, batch_size=8, steps=20,
                     warmup=2, lr=3e-3, log_every=1, val_every=0, ckpt_every=100, precision="fp32")
    summary = train(args, text_model, caches, progress=False)
    assert summary["step"] == 20
    rows = [r.split(",") for r in (tmp_path / "run" / "train.csv").read_text().splitlines()[1:]]
    loss = [float(v) for _, k, v in rows if k == "loss"]
    assert np.mean(loss[-5:]) < 0.8 * np.mean(loss[:3]), loss  # random toy actions: it learns their marginal
    policy = make_policy(tmp_path / "run" / "checkpoint", "cartpole", precision="fp32")
    envs = gym.vector.SyncVectorEnv([lambda: make_task_env("cartpole") for _ in range(2)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, _ = envs.reset(seed=0)
    policy.reset(2)
    for _ in range(policy.capacity + 2):  # past a window slide
        action = policy.act(obs)
        assert all(envs.single_action_space.contains(a) for a in action)
        obs, *_ = envs.step(action)
    envs.close()
    assert TokenKind.ACTION_DISCRETE in {int(k) for k in policy.action_kinds}
