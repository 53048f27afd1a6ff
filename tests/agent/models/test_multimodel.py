"""MultiModel (agent/models/multimodel): acting decodes exactly what training predicts, packed segments and
later timesteps never leak into a window's logits, the convolutions are causal and segment-aware, the MoE
balance loss reaches its routers, the task token steers decoding, and the family trains, checkpoints and
acts through the shared trainer and policy factory."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from gatosuite.agent.batch import collate, collate_rows
from gatosuite.agent.checkpoint import load_model, save_checkpoint
from gatosuite.agent.families import get_family
from gatosuite.agent.models.multimodel.blocks import ConvBlock, SeparableConv, chunk_groups
from gatosuite.agent.policy_base import single_token
from gatosuite.agent.seq2seq import split_streams
from gatosuite.errors import ConfigError
from gatosuite.tokenization import Tokenizer

OBS = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (4,), np.float32)})
ACT = spaces.Box(-1.0, 1.0, (2,), np.float32)  # two action fields: acting feeds the first back
TASKS = ("cartpole", "acrobot")


@pytest.fixture
def tok(text_model):
    return Tokenizer.from_spaces(OBS, ACT, text_model=text_model)


def _model(vocab_size, **kw):
    torch.manual_seed(0)
    family = get_family("multimodel")
    return family.model(family.prepare(family.build("nano", vocab_size, context=256, **kw), TASKS, None))


def _episode(tok, t, seed):
    rng = np.random.default_rng(seed)
    return tok.encode_episode({"state": rng.normal(size=(t, 4)).astype(np.float32)},
                              rng.uniform(-1, 1, (t, 2)).astype(np.float32))


def _logits(model, batch):
    with torch.no_grad():
        return model(split_streams(batch))[0]


@pytest.mark.parametrize("recipe", [{}, dict(value_input="token+value", action_inputs="masked",
                                              action_targets="hl-gauss")], ids=["gato-2022", "gatosuite-2026"])
def test_acting_decodes_what_training_predicts(tok, recipe):
    """start + next_token_logits over a batch of envs with windows of different lengths (encoder padding)
    and tasks (one unknown) give the forward pass's logits at each row's last timestep's two actions,
    with the MoE capacity left on: evaluation and acting serve every token. Under both recipes' inputs."""
    model = _model(tok.vocab.size, **recipe).eval()
    assert model.cfg.capacity_factor
    seqs, tasks = [_episode(tok, 5, 0), _episode(tok, 3, 1)], [0, -1]
    full = collate_rows([[s] for s in seqs], tok.vocab, tasks=[[t] for t in tasks])
    s = split_streams(full)
    logits = _logits(model, full)  # (M, V)
    rows = s.dec.target_mask.nonzero()[:, 0]  # (M,) row of each target
    want = torch.stack([logits[rows == b][-2:] for b in range(2)])  # (2 rows, 2 fields, V)
    context = collate_rows([[q.slice(0, len(q) - 2)] for q in seqs], tok.vocab, tasks=[[t] for t in tasks])
    with torch.no_grad():
        first, cache = model.start(context)  # (2, V)
        fed = collate([single_token(int(q.kinds[-2]), int(q.ids[-2]), 0) for q in seqs], tok.vocab)
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


@pytest.mark.parametrize("block", ["sepconv", "convblock"])
def test_convolutions_read_only_earlier_tokens_of_their_own_group(block):
    """Each output's gradient wrt the inputs is zero at later tokens, at another segment's tokens and at
    padding (group -1), so a shifted input from another segment contributes exactly zero."""
    torch.manual_seed(0)
    conv = SeparableConv(8, 3, 2) if block == "sepconv" else ConvBlock(8, 3, 5, 4, 0.0)
    group = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1, 1, -1, -1, -1]])  # (1, T) two segments, then padding
    x = torch.randn(1, 12, 8, requires_grad=True)
    y = conv(x, group)  # (1, T, D)
    pos = torch.arange(12)
    for t in range(12):
        (g,) = torch.autograd.grad(y[0, t].sum(), x, retain_graph=True)
        reads = g[0].abs().sum(-1) > 0  # (T,)
        if group[0, t] >= 0:
            assert reads[t] and not (reads & ~((pos <= t) & (group[0] == group[0, t]))).any(), (t, reads.tolist())
        else:  # padding reads no other token (a conv block's residual carries its own input through)
            assert not (reads & (pos != t)).any(), (t, reads.tolist())


def test_the_decoder_convolution_stays_inside_its_chunk():
    seg = torch.tensor([[0, 0, 0, 0, 1, 1, -1]])
    chunk = torch.tensor([[0, 0, 1, 1, 1, 1, -1]])  # chunk numbers do not reset at a segment boundary
    groups = chunk_groups(seg, chunk)[0].tolist()
    assert groups[0] == groups[1] != groups[2] == groups[3] != groups[4] == groups[5] and groups[6] == -1


def test_the_moe_balance_loss_reaches_every_router(tok):
    model = _model(tok.vocab.size).train()
    batch = collate_rows([[_episode(tok, 6, i)] for i in range(3)], tok.vocab, tasks=[[0], [1], [0]])
    _, loss, info = model(split_streams(batch))
    assert info["aux_loss"].requires_grad and float(info["aux_loss"].detach()) > 0
    assert 0 < info["moe/router_entropy"]
    info["aux_loss"].backward()
    moes = [model.enc_moe, model.dec[model.cfg.dec_moe_layer].ffn]
    for moe in moes:
        assert moe.w_gate.grad is not None and moe.w_gate.grad.abs().sum() > 0
        assert moe.w_noise.grad.abs().sum() > 0


def test_the_task_token_starts_decoding(tok):
    """Another task's token changes the logits; -1 and an index past the vocabulary share the unknown row."""
    model = _model(tok.vocab.size).eval()
    seq = _episode(tok, 3, 0)

    def run(task):
        return _logits(model, collate_rows([[seq]], tok.vocab, tasks=[[task]]))

    assert not torch.allclose(run(0), run(1), atol=1e-4)
    torch.testing.assert_close(run(-1), run(99))
    assert model.task.weight.shape[0] == len(TASKS) + 1
    model.train()
    _, loss, _ = model(split_streams(collate_rows([[seq]], tok.vocab, tasks=[[1]])))
    loss.backward()
    grad = model.task.weight.grad.abs().sum(1)  # (tasks + 1,)
    assert grad[2] > 0 and grad[0] == 0 and grad[1] == 0  # only the batch's task row learns


def test_config_refuses_bad_fields():
    family = get_family("multimodel")
    with pytest.raises(ConfigError, match="dec_moe_layer must be in"):
        family.build("nano", 6144, dec_moe_layer=5)
    with pytest.raises(ConfigError, match="large_dilation must be positive"):
        family.build("nano", 6144, large_dilation=0)


def test_costs_count_the_experts_a_token_uses(tok):
    model = _model(tok.vocab.size)
    per_expert = 2 * 128 * 256 + 256 + 128
    assert model.num_parameters() - model.active_parameters() == 2 * (8 - 2) * per_expert  # two MoE layers
    groups = model.param_groups(0.1)
    decayed = {id(p) for p in groups[0]["params"]}
    assert id(model.enc_moe.w_in) in decayed and id(model.enc_moe.w_gate) not in decayed
    assert id(model.inputs.tok.weight) not in decayed and id(model.task.weight) not in decayed


def test_checkpoint_round_trip_gives_the_same_logits(tok, tmp_path, text_model):
    model = _model(tok.vocab.size).eval()
    batch = collate_rows([[_episode(tok, 4, 0)]], tok.vocab, tasks=[[1]])
    save_checkpoint(tmp_path / "ck", model, text_model, {"tasks": list(TASKS)})
    loaded, meta = load_model(tmp_path / "ck")
    assert loaded.cfg == model.cfg and loaded.cfg.tasks == TASKS and meta["architecture"] == "multimodel"
    torch.testing.assert_close(_logits(loaded.eval(), batch), _logits(model, batch), rtol=0, atol=0)


@pytest.mark.slow
def test_trains_through_the_shared_trainer_then_acts(tmp_path, make_toy_caches, text_model):
    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.envs import make_task_env

    caches = make_toy_caches(tmp_path)
    args = TrainArgs(out=tmp_path / "run", model="multimodel", preset="nano", window=60, batch_size=8, steps=20,
                     warmup=2, lr=3e-3, log_every=1, val_every=0, ckpt_every=100, precision="fp32")
    summary = train(args, text_model, caches, progress=False)
    assert summary["step"] == 20 and summary["aux_loss"] > 0
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


@pytest.mark.slow
def test_fine_tuning_on_a_task_outside_its_vocabulary_trains(tmp_path, make_toy_caches, text_model):
    """The few-shot fine-tune of a family whose config fixes its task vocabulary, on a held-out task: the
    per-domain loss counts that task's targets apart instead of failing to look up an unnamed task (a
    comparison stopped there once)."""
    from gatosuite.agent.train import OUTSIDE_VOCABULARY, TrainArgs, train

    caches = make_toy_caches(tmp_path)
    base = dict(model="multimodel", preset="nano", window=60, batch_size=4, warmup=1, log_every=1, val_every=0,
                ckpt_every=100, precision="fp32")
    train(TrainArgs(out=tmp_path / "run", steps=2, **base), text_model, caches, progress=False)
    new = {"dmc-cartpole-swingup": caches["cartpole"]}  # a held-out task the first run never saw
    summary = train(TrainArgs(out=tmp_path / "tuned", steps=2, tasks="dmc-cartpole-swingup", val_fraction=0.0,
                              allow_heldout=["dmc-cartpole-swingup"], init_from=tmp_path / "run" / "checkpoint",
                              **base), text_model, new, progress=False)
    assert summary["step"] == 2
    keys = {r.split(",")[1] for r in (tmp_path / "tuned" / "train.csv").read_text().splitlines()[1:]}
    assert f"loss_domain/{OUTSIDE_VOCABULARY}" in keys, keys
