"""The model zoo's contract (agent/contract.py), run over every family the registry holds, so a new family is
tested the moment it registers: it builds its nano preset, consumes the shared TokenBatch through its own
batch adapter, returns (logits, loss, info) with the standard keys, takes no loss on observation tokens,
checkpoints and loads back exactly, reports positive FLOPs that grow with depth, and, if it acts, acts
within the action space through make_policy; if it cannot act, make_policy refuses it."""

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from gatosuite.agent.batch import collate, collate_rows
from gatosuite.agent.checkpoint import CheckpointMismatchError, load_model, save_checkpoint
from gatosuite.agent.contract import DecoderActing, Objective, Seq2SeqActing, ZooModel
from gatosuite.agent.families import PLANNED, family_names, get_family
from gatosuite.errors import ConfigError, UnknownNameError
from gatosuite.tokenization import Tokenizer, TokenKind
from gatosuite.tokenization.task import task_tokenizer

OBS = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (4,), np.float32)})
ACT = spaces.Box(-1.0, 1.0, (1,), np.float32)
FAMILIES = family_names()
TASKS = ("cartpole", "acrobot")
"""The task vocabulary the contract's models are built with (a family with task-specific parameters gets it)."""


@pytest.fixture
def tok(text_model):
    return Tokenizer.from_spaces(OBS, ACT, text_model=text_model)


def _rows(tok, n=3, t=6, seed=0):
    rng = np.random.default_rng(seed)
    return [[tok.encode_episode({"state": rng.normal(size=(t, 4)).astype(np.float32)},
                                rng.uniform(-1, 1, (t, 1)).astype(np.float32))] for _ in range(n)]


def _batch(tok, n=3, t=6, seed=0):
    """Rows of one segment each, every row a task of the vocabulary (the last an unknown one, -1)."""
    return collate_rows(_rows(tok, n, t, seed), tok.vocab, tasks=[[i % 2] for i in range(n - 1)] + [[-1]])


def _model(name, vocab_size, text_model=None, **kw):
    torch.manual_seed(0)
    family = get_family(name)
    cfg = family.prepare(family.build("nano", vocab_size, context=128, **kw), TASKS, text_model)
    return family.model(cfg)


def _inputs(name, model, batch):
    return get_family(name).adapt(batch, model.cfg)


def test_the_registry_lists_the_families_and_refuses_unknown_ones():
    assert {"gato", "moe", "gato-moe", "limoe"} <= set(FAMILIES)
    with pytest.raises(UnknownNameError, match=f"unknown model family 'gpt5'; known: {', '.join(FAMILIES)}"):
        get_family("gpt5")
    with pytest.raises(UnknownNameError, match="family 'moe' has no preset 'huge'"):
        get_family("moe").build("huge", 100)
    with pytest.raises(ConfigError, match="has no field n_expert"):
        get_family("moe").build("nano", 100, n_expert=4)
    titles = {get_family(n).display for n in FAMILIES} | {p.title for p in PLANNED}
    assert len(titles) == len(FAMILIES) + len(PLANNED)  # the planned ones are not also registered


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_follows_the_contract(name, tok, text_model):
    family = get_family(name)
    model = _model(name, tok.vocab.size, text_model)
    assert isinstance(model, ZooModel) and model.can_act == family.can_act
    assert type(model.cfg).architecture == name and model.cfg.vocab_size == tok.vocab.size
    assert model.cfg.context == 128
    if family.can_act:
        assert isinstance(model, (DecoderActing, Seq2SeqActing))
    if family.objective is not Objective.NEXT_TOKEN:
        return  # a contrastive family's own tests (test_limoe.py) check its outputs
    batch = _batch(tok)
    inputs = _inputs(name, model, batch)
    logits, loss, info = model(inputs)
    m = int(inputs.target_task_index().shape[0])
    assert m > 0 and logits.shape == (m, tok.vocab.size) and loss.ndim == 0 and torch.isfinite(loss)
    assert info["token_loss"].shape == (m,) and info["n_targets"] == m
    torch.testing.assert_close(info["token_loss"].mean(), loss.detach())
    kinds = set(info["target_kinds"].tolist())
    assert kinds <= {TokenKind.TEXT, TokenKind.ACTION_DISCRETE, TokenKind.ACTION_CONTINUOUS}  # never an observation
    assert set(inputs.target_task_index().tolist()) == {0, 1, -1}  # every row's targets, in the batch's tasks
    assert model.active_parameters() <= model.num_parameters() < model.num_parameters(non_embedding=False)
    groups = model.param_groups(0.1)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    total = loss + info["aux_loss"] if "aux_loss" in info else loss
    total.backward()
    assert sum(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters()) > 0


@pytest.mark.parametrize("name", [n for n in FAMILIES if get_family(n).objective is Objective.NEXT_TOKEN])
def test_the_loss_is_masked_as_gatos(name, tok, text_model):
    """Only text and action targets count: changing what an observation token's label says (a position
    that predicts an observation) moves neither the loss nor any logit."""
    model = _model(name, tok.vocab.size, text_model).eval()
    batch = _batch(tok)
    with torch.no_grad():
        logits, loss, _ = model(_inputs(name, model, batch))
        off = ~batch.target_mask & (batch.kinds != TokenKind.PAD)
        batch.targets[off] = (batch.targets[off] + 7) % tok.vocab.size  # labels nothing is trained on
        logits2, loss2, _ = model(_inputs(name, model, batch))
    torch.testing.assert_close(loss2, loss)
    torch.testing.assert_close(logits2, logits)


@pytest.mark.parametrize("name", FAMILIES)
def test_checkpoints_round_trip_the_weights_exactly(name, tok, text_model, tmp_path):
    model = _model(name, tok.vocab.size, text_model).eval()
    save_checkpoint(tmp_path / "ck", model, None)
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert meta["architecture"] == name
    loaded, _ = load_model(tmp_path / "ck")
    assert type(loaded) is type(model) and loaded.cfg == model.cfg
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    other = get_family("gato" if name != "gato" else "moe").build("nano", tok.vocab.size, context=128)
    with pytest.raises(CheckpointMismatchError, match=f"holds a '{name}' model"):
        load_model(tmp_path / "ck", expected=other)


@pytest.mark.parametrize("name", FAMILIES)
def test_flops_per_token_are_positive_and_grow_with_depth(name, tok, text_model):
    family = get_family(name)
    cfg = family.build("nano", tok.vocab.size, context=128)
    depth = {f: getattr(cfg, f) * 2 for f in ("n_layer", "n_enc_layer", "n_dec_layer", "n_enc_layers",
                                                "n_dec_layers") if hasattr(cfg, f)}
    shallow = _model(name, tok.vocab.size, text_model)
    deep = _model(name, tok.vocab.size, text_model, **depth)
    assert 0 < shallow.flops_per_token(128) < deep.flops_per_token(128)
    assert shallow.flops_per_token(64) <= shallow.flops_per_token(128)


UNIT_TIER_ACTING = ("gato", "ofa", "limoe")
"""Families whose acting test the unit tier runs: one of each policy, and one refused; `make test` runs all."""


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in UNIT_TIER_ACTING else pytest.mark.slow)
                                  for n in FAMILIES])
def test_a_family_acts_within_the_action_space_or_is_refused(name, text_model, tmp_path):
    """Through make_policy, in a Gymnasium vector env of a real task: every action is in the space."""
    from gatosuite.agent.factory import make_policy
    from gatosuite.envs import make_task_env

    vocab_size = task_tokenizer("cartpole", text_model).vocab.size
    model = _model(name, vocab_size, text_model).eval()
    save_checkpoint(tmp_path / "ck", model, text_model, {"tasks": list(TASKS), "segment_steps": 4})
    if not get_family(name).can_act:
        with pytest.raises(ConfigError, match="cannot act"):
            make_policy(tmp_path / "ck", "cartpole")
        return
    policy = make_policy(tmp_path / "ck", "cartpole", precision="fp32")
    assert policy.tok.spec.tokens_per_timestep == policy.L and policy.capacity >= 1
    envs = gym.vector.SyncVectorEnv([lambda: make_task_env("cartpole") for _ in range(3)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, _ = envs.reset(seed=0)
    policy.reset(3)
    assert policy.capacity == 4  # a segment of 4 timesteps
    for _ in range(policy.capacity + 2):  # past one window slide
        action = policy.act(obs)
        assert all(envs.single_action_space.contains(a) for a in action)
        obs, *_ = envs.step(action)
    envs.close()


@pytest.mark.parametrize("name", [n for n in FAMILIES if get_family(n).can_act])
def test_acting_decodes_what_training_predicts(name, tok, text_model):
    """The logits a policy decodes from (incrementally: a KV cache, or an encoder's memory and a decoder
    cache) are the ones the training forward pass gives at the last timestep's action target."""
    from gatosuite.agent.seq2seq import split_streams

    model = _model(name, tok.vocab.size, text_model, **({"capacity_factor": None}
                                                         if "capacity_factor" in
                                                         get_family(name).config.__dataclass_fields__ else {}))
    model.eval()
    (seq,) = _rows(tok, n=1, t=4)[0]
    full = collate([seq], tok.vocab)
    full.task_index = torch.zeros_like(full.ids)
    context = collate([seq.slice(0, len(seq) - 1)], tok.vocab)  # everything before the last action token
    context.task_index = torch.zeros_like(context.ids)
    with torch.no_grad():
        logits, _, _ = model(_inputs(name, model, full))
        if isinstance(model, Seq2SeqActing):
            acted, _ = model.start(context)  # (1, V)
            assert split_streams(full).dec.target_mask.sum() == logits.shape[0]
        else:
            acted = model.next_token_logits(context, model.new_cache(1))  # (1, V)
    torch.testing.assert_close(acted[0], logits[-1], rtol=1e-4, atol=1e-4)


def _gato_model(name, tok, **kw):
    torch.manual_seed(0)
    family = get_family(name)
    return family.model(family.build("nano", tok.vocab.size, context=128, **kw))


def _episode_batch(tok, n=3, t=12, seed=0):
    rng = np.random.default_rng(seed)
    seqs = [tok.encode_episode({"state": rng.normal(size=(t, 4)).astype(np.float32)},
                               rng.uniform(-1, 1, (t, 1)).astype(np.float32)) for _ in range(n)]
    return collate(seqs, tok.vocab)


def test_moe_families_match_gatos_active_parameters():
    dense = _gato_model("gato", Tokenizer.from_spaces(OBS, ACT))
    for name, moe_layers in (("gato-moe", 2), ("moe", 4)):
        sparse = _gato_model(name, Tokenizer.from_spaces(OBS, ACT))
        router = moe_layers * (2 * 128 * 8 + 128)  # W_g and W_noise, and one more output bias per MoE layer
        assert sparse.active_parameters() == dense.active_parameters() + router
        assert sparse.num_parameters() > 1.8 * dense.num_parameters()


def test_a_checkpoint_without_architecture_is_gato(tok, tmp_path):
    save_checkpoint(tmp_path / "ck", _gato_model("gato", tok), None)
    path = tmp_path / "ck" / "config.json"
    meta = json.loads(path.read_text())
    del meta["architecture"]
    path.write_text(json.dumps(meta))
    assert type(load_model(tmp_path / "ck")[0]).__name__ == "GatoModel"


def test_incremental_decoding_matches_the_full_pass(tok):
    """gato-moe through the KV cache (as its policy runs it) gives the full pass's hidden states."""
    model = _gato_model("gato-moe", tok, capacity_factor=None).eval()
    rng = np.random.default_rng(0)
    seq = tok.encode_episode({"state": rng.normal(size=(6, 4)).astype(np.float32)},
                             rng.uniform(-1, 1, (6, 1)).astype(np.float32))
    with torch.no_grad():
        full = model.hidden(collate([seq], tok.vocab))[0]  # (T, D)
        cache = model.new_cache(1)
        model.hidden(collate([seq.slice(0, 12)], tok.vocab), cache)
        rest = model.hidden(collate([seq.slice(12, len(seq))], tok.vocab), cache)[0]  # (T - 12, D)
    torch.testing.assert_close(rest, full[12:], rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_acting_imports_no_dataset_or_collection_code(tok, tmp_path, text_model):
    """A policy needs a task's spaces (envs/) and tokenizer (tokenization/), never datasets/ or collection."""
    import subprocess
    import sys

    save_checkpoint(tmp_path / "ck", _gato_model("gato", Tokenizer.from_spaces(OBS, ACT, text_model=text_model)),
                    text_model)
    code = ("import sys; from gatosuite.agent.factory import make_policy; "
            f"p = make_policy({str(tmp_path / 'ck')!r}, 'cartpole'); "
            "print(sorted(m for m in sys.modules if m.startswith('gatosuite.datasets')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""})
    assert out.stdout.strip() == "[]", out.stdout
