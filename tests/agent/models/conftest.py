"""Fixtures shared by the model families' tests."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from gatosuite.agent.batch import collate_rows
from gatosuite.agent.families import get_family
from gatosuite.tokenization import Tokenizer


@pytest.fixture
def pathnet_small(text_model):
    """A 2-layer PathNet of 4 modules per layer (2 active) and a batch of three 5-step episodes."""
    obs = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (4,), np.float32)})
    tok = Tokenizer.from_spaces(obs, spaces.Box(-1.0, 1.0, (1,), np.float32), text_model=text_model)
    family = get_family("pathnet")
    torch.manual_seed(0)
    model = family.model(family.build("nano", tok.vocab.size, context=64, n_layer=2, n_embd=32, n_head=2,
                                      ffn=64, modules_per_layer=4, active=2))
    rng = np.random.default_rng(0)
    rows = [[tok.encode_episode({"state": rng.normal(size=(5, 4)).astype(np.float32)},
                                rng.uniform(-1, 1, (5, 1)).astype(np.float32))] for _ in range(3)]
    return model, collate_rows(rows, tok.vocab)


@pytest.fixture
def munet_small(text_model):
    """A fresh 2-layer muNet system of width 32 (one unnamed route) and a batch of three 5-step episodes."""
    obs = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (4,), np.float32)})
    tok = Tokenizer.from_spaces(obs, spaces.Box(-1.0, 1.0, (1,), np.float32), text_model=text_model)
    family = get_family("munet")
    torch.manual_seed(0)
    model = family.model(family.build("nano", tok.vocab.size, context=64, n_layer=2, n_embd=32, n_head=2, ffn=64))
    rng = np.random.default_rng(0)
    rows = [[tok.encode_episode({"state": rng.normal(size=(5, 4)).astype(np.float32)},
                                rng.uniform(-1, 1, (5, 1)).astype(np.float32))] for _ in range(3)]
    return model, collate_rows(rows, tok.vocab)
