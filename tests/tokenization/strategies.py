"""Hypothesis strategies: random Gymnasium spaces of every supported kind, and episodes from them."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from hypothesis import strategies as st

from gatosuite.tokenization.stacking import stack_timesteps

small_shape = st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple)


@st.composite
def obs_leaf(draw) -> spaces.Space:
    kind = draw(st.sampled_from(["box", "box_inf", "image", "discrete", "multidiscrete", "multibinary",
                                 "text", "int_box"]))
    if kind == "box":
        shape = draw(small_shape)
        return spaces.Box(-5.0, 5.0, shape, np.float32)
    if kind == "box_inf":
        return spaces.Box(-np.inf, np.inf, draw(small_shape), np.float64)
    if kind == "image":
        h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
        return spaces.Box(0, 255, (h, w, 3), np.uint8)
    if kind == "discrete":
        return spaces.Discrete(draw(st.integers(1, 1024)), start=draw(st.integers(-3, 3)))
    if kind == "multidiscrete":
        return spaces.MultiDiscrete(draw(st.lists(st.integers(1, 1024), min_size=1, max_size=5)))
    if kind == "multibinary":
        return spaces.MultiBinary(draw(st.integers(1, 6)))
    if kind == "int_box":
        return spaces.Box(0, draw(st.integers(1, 1023)), draw(small_shape), np.int64)
    return spaces.Text(max_length=draw(st.integers(1, 12)))


@st.composite
def obs_space(draw) -> spaces.Space:
    if draw(st.booleans()):
        return draw(obs_leaf().filter(lambda s: not isinstance(s, spaces.Text)))
    keys = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=1, max_size=5, unique=True))
    d = {k: draw(obs_leaf()) for k in keys}
    if draw(st.booleans()):
        d["nested"] = spaces.Dict({"z": draw(obs_leaf()), "a": draw(obs_leaf())})
    return spaces.Dict(d)


@st.composite
def action_leaf(draw) -> spaces.Space:
    kind = draw(st.sampled_from(["box", "discrete", "multidiscrete", "multibinary"]))
    if kind == "box":
        low = draw(st.floats(-10, 9))
        return spaces.Box(low, low + draw(st.floats(0.01, 10)), draw(small_shape), np.float32)
    if kind == "discrete":
        return spaces.Discrete(draw(st.integers(1, 1024)), start=draw(st.integers(-2, 2)))
    if kind == "multidiscrete":
        return spaces.MultiDiscrete(draw(st.lists(st.integers(1, 50), min_size=1, max_size=4)))
    return spaces.MultiBinary(draw(st.integers(1, 4)))


@st.composite
def action_space(draw) -> spaces.Space:
    if draw(st.booleans()):
        return draw(action_leaf())
    keys = draw(st.lists(st.text("xyz", min_size=1, max_size=2), min_size=1, max_size=3, unique=True))
    return spaces.Dict({k: draw(action_leaf()) for k in keys})


def sample_many(space: spaces.Space, n: int, seed: int):
    """n samples of `space`, stacked on a leading axis (lists of str for Text)."""
    space.seed(seed)
    samples = [space.sample() for _ in range(n)]
    return stack_timesteps(samples)
