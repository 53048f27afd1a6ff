"""One test per bad-input error: each names the field, the expected form and what was seen."""

import numpy as np
import pytest
from gymnasium import spaces

from gatosuite.tokenization import TokenizationError, Tokenizer

OBS = spaces.Dict({
    "image": spaces.Box(0, 255, (16, 16, 3), np.uint8),
    "pos": spaces.Box(-np.inf, np.inf, (3,), np.float64),
    "dir": spaces.Discrete(4),
    "grid": spaces.MultiDiscrete([3, 5]),
})
ACT = spaces.Dict({"move": spaces.Box(-1.0, 1.0, (2,), np.float32), "grip": spaces.Discrete(2)})


def good(t=2):
    obs = {"image": np.zeros((t, 16, 16, 3), np.uint8), "pos": np.zeros((t, 3)),
           "dir": np.zeros(t, np.int64), "grid": np.zeros((t, 2), np.int64)}
    act = {"move": np.zeros((t, 2), np.float32), "grip": np.zeros(t, np.int64)}
    return obs, act


@pytest.fixture
def tok():
    return Tokenizer.from_spaces(OBS, ACT)


def test_good_input_encodes(tok):
    assert len(tok.encode_episode(*good())) == 2 * tok.spec.tokens_per_timestep


@pytest.mark.parametrize("value, seen", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_nan_and_inf(tok, value, seen):
    obs, act = good()
    obs["pos"][1, 2] = value
    with pytest.raises(TokenizationError, match=rf"'pos' holds {seen} at index \(1, 2\) \(timestep 1\)"):
        tok.encode_episode(obs, act)


def test_nan_action(tok):
    obs, act = good()
    act["move"][0, 1] = np.nan
    with pytest.raises(TokenizationError, match="action 'move' holds nan"):
        tok.encode_episode(obs, act)


def test_wrong_shape(tok):
    obs, act = good()
    obs["pos"] = np.zeros((2, 4))
    with pytest.raises(TokenizationError,
                       match=r"'pos': expected float array of shape \(2, 3\), got float64 array of shape \(2, 4\)"):
        tok.encode_episode(obs, act)


def test_wrong_image_dtype(tok):
    obs, act = good()
    obs["image"] = obs["image"].astype(np.float32)
    with pytest.raises(TokenizationError, match="'image': expected uint8 array.*got dtype float32"):
        tok.encode_episode(obs, act)


def test_wrong_discrete_dtype(tok):
    obs, act = good()
    obs["dir"] = np.zeros(2, np.float32)
    with pytest.raises(TokenizationError, match="'dir': expected integer array.*got dtype float32"):
        tok.encode_episode(obs, act)


def test_wrong_continuous_dtype(tok):
    obs, act = good()
    obs["pos"] = np.array([["a", "b", "c"]] * 2)
    with pytest.raises(TokenizationError, match="'pos'.*continuous values must be real numbers"):
        tok.encode_episode(obs, act)


def test_discrete_out_of_bounds(tok):
    obs, act = good()
    obs["grid"][1, 1] = 5
    with pytest.raises(TokenizationError, match=r"'grid' element 1 at timestep 1 is 5, outside its space \[0, 5\)"):
        tok.encode_episode(obs, act)


def test_negative_discrete(tok):
    obs, act = good()
    obs["dir"][0] = -1
    with pytest.raises(TokenizationError, match=r"'dir' element 0 at timestep 0 is -1, outside its space \[0, 4\)"):
        tok.encode_episode(obs, act)


def test_discrete_action_out_of_bounds(tok):
    obs, act = good()
    act["grip"][0] = 2
    with pytest.raises(TokenizationError, match=r"action 'grip' element 0 at timestep 0 is 2"):
        tok.encode_episode(obs, act)


def test_continuous_action_outside_box(tok):
    obs, act = good()
    act["move"][1, 0] = 1.5
    with pytest.raises(TokenizationError,
                       match=r"action 'move' element 0 at timestep 1 is 1.5, outside its Box \[-1, 1\]; clip"):
        tok.encode_episode(obs, act)


def test_missing_key(tok):
    obs, act = good()
    del obs["dir"]
    with pytest.raises(TokenizationError, match=r"observation is missing key 'dir' \(has \['grid', 'image', 'pos'\]\)"):
        tok.encode_episode(obs, act)


def test_observation_action_count_mismatch(tok):
    obs, _ = good(5)
    _, act = good(2)
    with pytest.raises(TokenizationError, match="5 observations for 2 actions; expected 2 or 3"):
        tok.encode_episode(obs, act)


def test_text_too_long(text_model):
    tok = Tokenizer.from_spaces(spaces.Dict({"m": spaces.Text(100)}), spaces.Discrete(2),
                                text_model=text_model, max_text_tokens=3)
    with pytest.raises(TokenizationError, match="'m' text 'go to the red ball' is .* tokens but the spec allows 3"):
        tok.encode_observations({"m": ["go to the red ball"]})


def test_text_given_as_single_string(text_model):
    tok = Tokenizer.from_spaces(spaces.Dict({"m": spaces.Text(10)}), spaces.Discrete(2), text_model=text_model)
    with pytest.raises(TokenizationError, match="got a single str; pass one string per timestep"):
        tok.encode_observations({"m": "abc"})


def test_decode_rejects_ids_outside_the_action(tok):
    ids = tok.encode_actions(good()[1])
    assert [f.key for f in tok.spec.action_fields] == ["grip", "move"]  # sorted keys
    ids[0, 0] = tok.vocab.discrete_offset + 5  # 'grip' has 2 choices
    with pytest.raises(ValueError, match="'grip' decoded to a value outside its"):
        tok.decode_actions(ids)
    ids[0, 0] = tok.vocab.continuous_offset
    with pytest.raises(ValueError, match="is not a discrete id"):
        tok.decode_actions(ids)
