import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gatosuite.tokenization import continuous as C

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def test_mu_law_matches_the_paper_formula():
    x = np.array([-300.0, -1.0, -0.01, 0.0, 0.5, 256.0])
    expected = np.sign(x) * np.log(np.abs(x) * 100 + 1) / np.log(256 * 100 + 1)
    np.testing.assert_allclose(C.mu_law_encode(x), expected)
    assert C.mu_law_encode(np.array([256.0]))[0] == 1.0


@given(arrays(np.float64, st.integers(1, 50), elements=finite))
def test_mu_law_inverts(x):
    np.testing.assert_allclose(C.mu_law_decode(C.mu_law_encode(x)), x, rtol=1e-9, atol=1e-9)


@given(arrays(np.float64, st.integers(1, 50), elements=finite))
def test_observation_bins_in_range_and_monotone(x):
    bins = C.encode_observation(x)
    assert bins.min() >= 0 and bins.max() < 1024
    order = np.argsort(x, kind="stable")
    assert (np.diff(bins[order]) >= 0).all()


@given(st.floats(-256, 256, allow_nan=False))
def test_observation_decode_lands_in_the_same_bin(x):
    b = C.encode_observation(np.array([x]))
    assert (C.encode_observation(C.decode_observation(b)) == b).all()


@st.composite
def bounded_actions(draw):
    n = draw(st.integers(1, 8))
    low = np.array(draw(st.lists(st.floats(-100, 99, allow_nan=False), min_size=n, max_size=n)))
    width = np.array(draw(st.lists(st.floats(1e-3, 200), min_size=n, max_size=n)))
    high = low + width
    u = np.array(draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    return low + u * (high - low), low, high


@given(bounded_actions())
def test_action_roundtrip_within_half_a_bin(case):
    a, low, high = case
    bins = C.encode_action(a, low, high)
    assert bins.min() >= 0 and bins.max() < 1024
    half_bin = (high - low) / 1024 / 2
    err = np.abs(C.decode_action(bins, low, high) - a)
    assert (err <= half_bin * (1 + 1e-9) + 1e-12).all()


def test_action_edges_use_first_and_last_bin():
    low, high = np.array([-2.0]), np.array([2.0])
    assert C.encode_action(np.array([-2.0]), low, high)[0] == 0
    assert C.encode_action(np.array([2.0]), low, high)[0] == 1023
    assert C.decode_action(np.array([0]), low, high)[0] == -2.0 + 4.0 / 2048
