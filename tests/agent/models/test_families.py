"""The model zoo's contract: every registered family builds its nano preset, consumes the same TokenBatch,
returns (logits, loss, info) with the standard keys, checkpoints with its architecture recorded, and
acts through make_policy. The MoE families add a balance loss the trainer optimises and logs."""

import json

import numpy as np
import pytest
import torch
from gymnasium import spaces

from gatosuite.agent.batch import collate
from gatosuite.agent.checkpoint import CheckpointMismatchError, load_model, save_checkpoint
from gatosuite.agent.contract import ActingModel, ZooModel
from gatosuite.agent.families import family_names, get_family
from gatosuite.errors import ConfigError, UnknownNameError
from gatosuite.tokenization import Tokenizer

OBS = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (4,), np.float32)})
ACT = spaces.Box(-1.0, 1.0, (1,), np.float32)


@pytest.fixture
def tok(text_model):
    return Tokenizer.from_spaces(OBS, ACT, text_model=text_model)


def _batch(tok, n=3, t=12, seed=0):
    rng = np.random.default_rng(seed)
    seqs = [tok.encode_episode({"state": rng.normal(size=(t, 4)).astype(np.float32)},
                               rng.uniform(-1, 1, (t, 1)).astype(np.float32)) for _ in range(n)]
    return collate(seqs, tok.vocab)


def _model(name, tok, **kw):
    torch.manual_seed(0)
    family = get_family(name)
    return family.model(family.build("nano", tok.vocab.size, context=128, **kw))


def test_the_registry_lists_the_families_and_refuses_unknown_ones():
    assert {"gato", "moe", "gato-moe"} <= set(family_names())
    with pytest.raises(UnknownNameError, match="unknown model family 'gpt5'; known: gato, gato-moe, limoe, moe"):
        get_family("gpt5")
    with pytest.raises(UnknownNameError, match="family 'moe' has no preset 'huge'"):
        get_family("moe").build("huge", 100)
    with pytest.raises(ConfigError, match="has no field n_expert"):
        get_family("moe").build("nano", 100, n_expert=4)


@pytest.mark.parametrize("name", ["gato", "moe", "gato-moe"])
def test_every_family_follows_the_contract(name, tok):
    model = _model(name, tok)
    assert isinstance(model, ZooModel) and isinstance(model, ActingModel) and model.can_act
    batch = _batch(tok)
    logits, loss, info = model(batch)
    m = int(batch.target_mask.sum())
    assert logits.shape == (m, tok.vocab.size) and loss.ndim == 0 and torch.isfinite(loss)
    assert info["token_loss"].shape == (m,) and info["n_targets"] == m
    assert model.active_parameters() <= model.num_parameters()
    groups = model.param_groups(0.1)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    if name == "gato":
        assert "aux_loss" not in info and model.active_parameters() == model.num_parameters()
    else:
        assert info["aux_loss"].requires_grad and info["aux_loss"] >= 0
        assert 0 < info["moe/router_entropy"] and abs(sum(info[f"moe/load/{i}"] for i in range(8)) - 1) < 1e-6
        (loss + info["aux_loss"]).backward()
        assert all(blk.moe.w_noise.grad is not None and blk.moe.w_noise.grad.abs().sum() > 0
                   for blk in model._moe_blocks())  # the load loss trains the noise through the normal CDF


def test_moe_families_match_gatos_active_parameters():
    dense = _model("gato", Tokenizer.from_spaces(OBS, ACT))
    for name, moe_layers in (("gato-moe", 2), ("moe", 4)):
        sparse = _model(name, Tokenizer.from_spaces(OBS, ACT))
        router = moe_layers * (2 * 128 * 8 + 128)  # W_g and W_noise, and one more output bias per MoE layer
        assert sparse.active_parameters() == dense.active_parameters() + router
        assert sparse.num_parameters() > 1.8 * dense.num_parameters()


@pytest.mark.parametrize("name", ["gato", "gato-moe"])
def test_checkpoints_record_the_architecture_and_load_it_back(name, tok, tmp_path):
    model = _model(name, tok).eval()
    save_checkpoint(tmp_path / "ck", model, None)
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert meta["architecture"] == name
    loaded, _ = load_model(tmp_path / "ck")
    assert type(loaded) is type(model) and loaded.cfg == model.cfg
    batch = _batch(tok)
    torch.testing.assert_close(loaded.eval()(batch)[0], model(batch)[0])  # eval: no routing noise
    other = get_family("moe" if name != "moe" else "gato").build("nano", tok.vocab.size, context=128)
    with pytest.raises(CheckpointMismatchError, match=f"holds a '{name}' model"):
        load_model(tmp_path / "ck", expected=other)


def test_a_checkpoint_without_architecture_is_gato(tok, tmp_path):
    save_checkpoint(tmp_path / "ck", _model("gato", tok), None)
    path = tmp_path / "ck" / "config.json"
    meta = json.loads(path.read_text())
    del meta["architecture"]
    path.write_text(json.dumps(meta))
    assert type(load_model(tmp_path / "ck")[0]).__name__ == "GatoModel"


def test_incremental_decoding_matches_the_full_pass(tok):
    """gato-moe through the KV cache (as its policy runs it) gives the full pass's hidden states."""
    model = _model("gato-moe", tok, capacity_factor=None).eval()
    rng = np.random.default_rng(0)
    seq = tok.encode_episode({"state": rng.normal(size=(6, 4)).astype(np.float32)},
                             rng.uniform(-1, 1, (6, 1)).astype(np.float32))
    with torch.no_grad():
        full = model.hidden(collate([seq], tok.vocab))[0]  # (T, D)
        cache = model.new_cache(1)
        model.hidden(collate([seq.slice(0, 12)], tok.vocab), cache)
        rest = model.hidden(collate([seq.slice(12, len(seq))], tok.vocab), cache)[0]  # (T - 12, D)
    torch.testing.assert_close(rest, full[12:], rtol=1e-4, atol=1e-4)


def test_acting_imports_no_dataset_or_collection_code(tok, tmp_path, text_model):
    """A policy needs a task's spaces (envs/) and tokenizer (tokenization/), never datasets/ or collection."""
    import subprocess
    import sys

    save_checkpoint(tmp_path / "ck", _model("gato", Tokenizer.from_spaces(OBS, ACT, text_model=text_model)),
                    text_model)
    code = ("import sys; from gatosuite.agent.factory import make_policy; "
            f"p = make_policy({str(tmp_path / 'ck')!r}, 'cartpole'); "
            "print(sorted(m for m in sys.modules if m.startswith('gatosuite.datasets')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""})
    assert out.stdout.strip() == "[]", out.stdout
