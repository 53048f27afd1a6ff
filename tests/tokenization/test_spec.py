import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import given

from gatosuite.tokenization.spec import TimestepSpec, TokenKind, UnsupportedSpaceError
from gatosuite.tokenization.vocab import Vocabulary

from .strategies import action_space, obs_space

OBS_ORDER = [TokenKind.TEXT, TokenKind.IMAGE, TokenKind.DISCRETE, TokenKind.CONTINUOUS]


def test_babyai_like_layout():
    obs = spaces.Dict({
        "mission": spaces.Text(20), "image": spaces.Box(0, 255, (64, 64, 3), np.uint8),
        "direction": spaces.Discrete(4), "b_pos": spaces.Box(-1, 1, (2,)), "a_vel": spaces.Box(-1, 1, (3,)),
    })
    spec = TimestepSpec.from_spaces(obs, spaces.Discrete(7), max_text_tokens=8)
    assert [f.key for f in spec.obs_fields] == ["mission", "image", "direction", "a_vel", "b_pos"]
    assert [f.n_tokens for f in spec.obs_fields] == [8, 16, 1, 3, 2]
    assert spec.tokens_per_timestep == 30 + 1 + 1
    k = spec.kinds()
    assert k[30] == TokenKind.SEPARATOR and k[31] == TokenKind.ACTION_DISCRETE
    assert (spec.local_positions()[:30] == np.arange(30)).all() and (spec.local_positions()[30:] == -1).all()


@given(obs_space(), action_space())
def test_layout_order_and_counts(obs, act):
    spec = TimestepSpec.from_spaces(obs, act)
    ranks = [OBS_ORDER.index(f.kind) for f in spec.obs_fields]
    assert ranks == sorted(ranks)
    for kind in OBS_ORDER:  # sorted keys within each modality
        keys = [f.key.split("/") for f in spec.obs_fields if f.kind == kind]
        assert keys == sorted(keys)
    kinds = spec.kinds()
    assert len(kinds) == spec.tokens_per_timestep == spec.obs_tokens + 1 + spec.action_tokens
    assert (kinds[spec.obs_tokens] == TokenKind.SEPARATOR)
    mask = spec.loss_mask()
    assert set(kinds[mask]) <= {TokenKind.TEXT, TokenKind.ACTION_DISCRETE, TokenKind.ACTION_CONTINUOUS}
    assert mask[spec.obs_tokens + 1:].all()
    ranges = spec.action_id_ranges(Vocabulary(4096))
    assert ranges.shape == (spec.action_tokens, 2) and (ranges[:, 1] > ranges[:, 0]).all()


def test_action_ranges_are_tight():
    v = Vocabulary(100)
    spec = TimestepSpec.from_spaces(spaces.Box(-1, 1, (2,)), spaces.Dict({"d": spaces.Discrete(3),
                                                                           "m": spaces.MultiDiscrete([2, 5])}))
    np.testing.assert_array_equal(spec.action_id_ranges(v), [[100, 103], [100, 102], [100, 105]])


@pytest.mark.parametrize("space, match", [
    (spaces.Tuple([spaces.Discrete(2)]), "unsupported space Tuple"),
    (spaces.Sequence(spaces.Discrete(2)), "unsupported space Sequence"),
    (spaces.Discrete(2000), "2000 discrete values"),
    (spaces.MultiDiscrete([4, 1025]), "1025 discrete values"),
])
def test_unsupported_observation_spaces_are_named(space, match):
    with pytest.raises(UnsupportedSpaceError, match=match):
        TimestepSpec.from_spaces(spaces.Dict({"bad": space}), spaces.Discrete(2))


@pytest.mark.parametrize("space, match", [
    (spaces.Box(-np.inf, np.inf, (2,)), "infinite bounds"),
    (spaces.Text(5), "unsupported space Text"),
    (spaces.Box(0, 255, (4, 4, 3), np.uint8), "unsupported space Box"),
])
def test_unsupported_action_spaces_are_named(space, match):
    with pytest.raises(UnsupportedSpaceError, match=match):
        TimestepSpec.from_spaces(spaces.Box(-1, 1, (2,)), space)
