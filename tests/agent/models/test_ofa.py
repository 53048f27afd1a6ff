"""OFA: every segment's encoder input opens with its task's instruction, which every chunk reads and which
changes the logits; a task outside the vocabulary gets the generic instruction; acting through start and
next_token_logits gives exactly the training logits; packed segments do not leak; the encoder is
block-causal; checkpoints round-trip; the real trainer lowers its loss; and make_policy acts in cartpole."""

import csv
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from gatosuite.agent.batch import collate_rows
from gatosuite.agent.checkpoint import load_model, save_checkpoint
from gatosuite.agent.contract import Seq2SeqActing, ZooModel
from gatosuite.agent.families import get_family
from gatosuite.agent.models.ofa import GENERIC_INSTRUCTION, InstructedBatch, instruction_text
from gatosuite.agent.seq2seq import split_streams
from gatosuite.tokenization import Tokenizer, TokenKind

OBS = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (4,), np.float32)})
ACT = spaces.Box(-1.0, 1.0, (2,), np.float32)
TASKS = ("cartpole", "babyai-gotolocal")


@pytest.fixture
def tok(text_model):
    return Tokenizer.from_spaces(OBS, ACT, text_model=text_model)


@pytest.fixture
def model(tok, text_model):
    torch.manual_seed(0)
    family = get_family("ofa")
    cfg = family.prepare(family.build("nano", tok.vocab.size, context=128), TASKS, text_model)
    return family.model(cfg).eval()


def _episode(tok, t, seed):
    rng = np.random.default_rng(seed)
    return tok.encode_episode({"state": rng.normal(size=(t, 4)).astype(np.float32)},
                              rng.uniform(-1, 1, (t, 2)).astype(np.float32))


def _logits(model, rows, tok, tasks, cfg=None):
    batch = collate_rows(rows, tok.vocab, tasks=tasks)
    with torch.no_grad():
        return model(get_family("ofa").adapt(batch, cfg or model.cfg))[0]


def test_prepared_tokenizes_each_tasks_instruction_from_the_registry(model, text_model):
    cfg = model.cfg
    assert cfg.tasks == TASKS and len(cfg.instructions) == 2
    for task, ids in zip(TASKS, cfg.instructions):
        assert text_model.decode(ids) == instruction_text(task)[:len(text_model.decode(ids))]
    assert text_model.decode(cfg.generic_instruction) == GENERIC_INSTRUCTION
    assert instruction_text("cartpole").startswith("classic task cartpole:")
    assert "follow the mission in the observation" in instruction_text("babyai-gotolocal")
    assert instruction_text("not-a-task") == GENERIC_INSTRUCTION
    assert cfg.prepared(text_model) is cfg  # a prepared config (a checkpoint being fine-tuned) keeps its ids


def test_the_instruction_opens_every_segments_encoder_input(model, tok):
    a, b, c = _episode(tok, 3, 0), _episode(tok, 2, 1), _episode(tok, 4, 2)
    s = get_family("ofa").adapt(collate_rows([[a, b], [c]], tok.vocab, tasks=[[0, 1], [-1]]), model.cfg)
    assert isinstance(s, InstructedBatch)
    p = s.instruction_slots
    inst = s.instruction_mask()
    enc, cross = s.enc_self_mask()[:, 0], s.cross_mask()[:, 0]  # (B, S, S), (B, U, S)
    expected = {(0, 0): model.cfg.instructions[0], (0, 1): model.cfg.instructions[1],
                (1, 0): model.cfg.generic_instruction}
    for (row, seg), ids in expected.items():
        mine = inst[row] & (s.enc_segment[row] == seg)  # (S,)
        assert s.enc.ids[row][mine].tolist() == list(ids)
        assert s.enc.positions[row][mine].tolist() == list(range(len(ids)))
        assert (s.enc_chunk[row][mine] == -1).all() and (s.enc.kinds[row][mine] == TokenKind.TEXT).all()
        assert mine.nonzero().max() < p  # in the block that opens the row
        context = s.enc_real[row] & ~inst[row] & (s.enc_segment[row] == seg)
        assert context.any() and enc[row][context][:, mine].all()  # every chunk's tokens read it
        others = inst[row] & ~mine
        assert not enc[row][context][:, others].any()  # and no other segment's
        queries = s.dec_real[row] & (s.dec_segment[row] == seg)
        assert queries.any() and cross[row][queries][:, mine].all() and not cross[row][queries][:, others].any()
    assert enc.any(-1).all() and cross.any(-1).all()  # no empty mask row, padding included


def test_changing_the_instruction_changes_the_logits_of_its_own_segment_only(model, tok):
    a, b = _episode(tok, 3, 0), _episode(tok, 3, 1)
    rows, tasks = [[a, b]], [[0, 1]]
    base = _logits(model, rows, tok, tasks)
    other = replace(model.cfg, instructions=(model.cfg.instructions[0][::-1], model.cfg.instructions[1]))
    changed = _logits(model, rows, tok, tasks, other)
    n_a = 3 * 2  # a's targets come first (row-major): 3 timesteps of 2 action fields
    assert (changed[:n_a] - base[:n_a]).abs().max() > 1e-5  # float noise is ~1e-7
    torch.testing.assert_close(changed[n_a:], base[n_a:])  # b's instruction did not change


def test_a_task_outside_the_vocabulary_gets_the_generic_instruction(model, tok):
    a = _episode(tok, 3, 0)
    s = get_family("ofa").adapt(collate_rows([[a]], tok.vocab, tasks=[[-1]]), model.cfg)
    assert s.enc.ids[0][s.instruction_mask()[0]].tolist() == list(model.cfg.generic_instruction)
    unknown = _logits(model, [[a]], tok, [[-1]])
    assert torch.isfinite(unknown).all()
    assert (unknown - _logits(model, [[a]], tok, [[0]])).abs().max() > 1e-5
    # an unprepared config (no text model) has no instructions: the model still runs on the context alone
    bare = replace(model.cfg, tasks=(), instructions=(), generic_instruction=())
    assert torch.isfinite(_logits(model, [[a]], tok, [[-1]], bare)).all()


def _mission_tok(text_model):
    obs = spaces.Dict({"mission": spaces.Text(40), "image": spaces.Box(0, 255, (16, 32, 3), np.uint8),
                       "state": spaces.Box(-np.inf, np.inf, (3,), np.float32)})
    return Tokenizer.from_spaces(obs, ACT, text_model=text_model, max_text_tokens=8)


def _mission_episode(tok, t, seed):
    rng = np.random.default_rng(seed)
    obs = {"mission": ["go to the red ball"] * t, "image": rng.integers(0, 256, (t, 16, 32, 3), dtype=np.uint8),
           "state": rng.normal(size=(t, 3)).astype(np.float32)}
    return tok.encode_episode(obs, rng.uniform(-1, 1, (t, 2)).astype(np.float32))


def test_pixels_stay_on_their_image_tokens_behind_the_instruction_block(model, text_model):
    tok = _mission_tok(text_model)
    batch = collate_rows([[_mission_episode(tok, 2, 0), _mission_episode(tok, 1, 1)], [_mission_episode(tok, 3, 2)]],
                         tok.vocab, tasks=[[0, 1], [-1]])
    s = get_family("ofa").adapt(batch, model.cfg)
    assert s.instruction_slots > 0 and s.enc.patches.shape[0] == batch.patches.shape[0] > 0
    assert (s.enc.kinds.view(-1)[s.enc.patch_slot] == TokenKind.IMAGE).all()
    ctx = s.context_stream()
    assert (ctx.kinds.reshape(-1)[ctx.patch_slot] == TokenKind.IMAGE).all()
    torch.testing.assert_close(ctx.ids, split_streams(batch).enc.ids)  # the shared adapter's own stream


@pytest.mark.parametrize("kind", ["state", "mission and pixels"])
def test_start_and_next_token_logits_match_forward(model, tok, text_model, kind):
    if kind == "state":
        eps = [_episode(tok, 4, 0), _episode(tok, 2, 1)]  # rows of different lengths, as a vector env has
    else:
        tok = _mission_tok(text_model)
        eps = [_mission_episode(tok, 4, 0), _mission_episode(tok, 2, 1)]
    n_act = tok.spec.action_tokens
    contexts = [ep.slice(0, len(ep) - n_act) for ep in eps]
    with torch.no_grad():
        logits, cache = model.start(collate_rows([[c] for c in contexts], tok.vocab, tasks=[[0], [1]]))
        fed = collate_rows([[ep.slice(len(ep) - n_act, len(ep) - n_act + 1)] for ep in eps], tok.vocab)
        second = model.next_token_logits(fed, cache)
    assert isinstance(model, Seq2SeqActing) and isinstance(model, ZooModel)
    for k, (ep, task) in enumerate(zip(eps, (0, 1))):
        full = _logits(model, [[ep]], tok, [[task]])  # (M, V): the last timestep's targets are the last rows
        torch.testing.assert_close(logits[k], full[-2], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(second[k], full[-1], rtol=1e-4, atol=1e-4)


def test_packed_segments_do_not_leak_into_each_other(model, tok):
    a, b = _episode(tok, 3, 0), _episode(tok, 4, 1)
    alone = _logits(model, [[b]], tok, [[1]])
    packed = _logits(model, [[a, b]], tok, [[0, 1]])
    torch.testing.assert_close(packed[3 * 2:], alone, rtol=1e-4, atol=1e-4)


def test_a_later_observation_never_changes_earlier_logits(model, tok):
    ep = _episode(tok, 4, 0)
    changed = _episode(tok, 4, 0)
    step = tok.spec.tokens_per_timestep
    changed.ids = changed.ids.copy()
    changed.ids[3 * step] = tok.vocab.continuous_offset + 7  # timestep 3's first observation token
    before, after = _logits(model, [[ep]], tok, [[0]]), _logits(model, [[changed]], tok, [[0]])
    torch.testing.assert_close(after[:3 * 2], before[:3 * 2])  # timesteps 0-2
    assert (after[3 * 2:] - before[3 * 2:]).abs().max() > 1e-4  # timestep 3 reads it


def test_parameter_accounting(model):
    groups = model.param_groups(0.1)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    decayed = {id(p) for p in groups[0]["params"]}
    assert id(model.inp.tok.weight) not in decayed and id(model.inst_pos.weight) not in decayed
    assert id(model.enc_blocks[0].attn.qkv.weight) in decayed and id(model.dec_blocks[0].cross.q.weight) in decayed
    enc, dec = model.stack_parameters()
    assert model.num_parameters() == enc + dec + sum(p.numel() for p in model.inp.patch.parameters()) + 4 * 128
    assert model.flops_per_token(240) == 6.0 * dec + 12.0 * 3 * 128 * 240


def test_checkpoints_round_trip(model, tok, tmp_path, text_model):
    save_checkpoint(tmp_path / "ck", model, text_model)
    loaded, _ = load_model(tmp_path / "ck")
    assert loaded.cfg == model.cfg and type(loaded) is type(model)  # instructions come back as tuples
    rows, tasks = [[_episode(tok, 3, 0), _episode(tok, 2, 1)]], [[0, 1]]
    torch.testing.assert_close(_logits(loaded.eval(), rows, tok, tasks), _logits(model, rows, tok, tasks))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, make_toy_caches, text_model):
    """A 20-step run of the real trainer on the cached cartpole toy data."""
    from gatosuite.agent.train import TrainArgs, train

    tmp = tmp_path_factory.mktemp("ofa")
    args = TrainArgs(out=tmp / "run", model="ofa", preset="nano", window=60, batch_size=8, steps=20, warmup=2,
                     lr=3e-3, log_every=1, val_every=100, val_batches=1, ckpt_every=100, precision="fp32",
                     device="cpu")
    train(args, text_model, make_toy_caches(tmp), progress=False)
    return tmp / "run"


@pytest.mark.slow
def test_the_trainer_lowers_the_loss_and_records_the_instructions(trained, text_model):
    with open(trained / "train.csv") as f:
        losses = [float(r["value"]) for r in csv.DictReader(f) if r["key"] == "loss"]
    assert len(losses) >= 10 and np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.3
    model, _ = load_model(trained / "checkpoint")
    assert model.cfg.tasks == ("cartpole",)
    decoded = text_model.decode(model.cfg.instructions[0])  # cut at max_instruction_tokens by this small model
    assert len(decoded) > 20 and instruction_text("cartpole").startswith(decoded)


@pytest.mark.slow
def test_make_policy_acts_in_cartpole(trained):
    from gatosuite.agent.factory import make_policy
    from gatosuite.envs import make_task_env

    policy = make_policy(trained / "checkpoint", "cartpole", device="cpu")
    assert type(policy).__name__ == "Seq2SeqPolicy" and policy.task_index == 0
    envs = gym.vector.SyncVectorEnv([lambda: make_task_env("cartpole")] * 2,
                                    autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    obs, _ = envs.reset(seed=0)
    policy.reset(num_envs=2)
    for _ in range(12):  # the window (60 tokens, 10 timesteps) slides once
        actions = policy.act(obs)
        assert envs.action_space.contains(actions)
        obs, _, term, trunc, _ = envs.step(actions)
        policy.reset_envs(term | trunc)
    envs.close()


def test_split_streams_alone_is_instructed_by_forward(model, tok):
    """A plain Seq2SeqBatch (the shared adapter's) means the same to the model as the family's adapter's."""
    batch = collate_rows([[_episode(tok, 3, 0)]], tok.vocab, tasks=[[1]])
    with torch.no_grad():
        torch.testing.assert_close(model(split_streams(batch))[0], _logits(model, [[_episode(tok, 3, 0)]], tok, [[1]]))
