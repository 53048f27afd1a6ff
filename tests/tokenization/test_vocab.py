import numpy as np
import pytest

from gatosuite.tokenization.vocab import N_CONTINUOUS_BINS, N_DISCRETE, Vocabulary


def test_ranges_are_disjoint_and_contiguous():
    v = Vocabulary(4096)
    assert v.text_range == (0, 4096)
    assert v.discrete_range == (4096, 4096 + N_DISCRETE)
    assert v.continuous_range == (4096 + N_DISCRETE, 4096 + N_DISCRETE + N_CONTINUOUS_BINS)
    specials = [v.separator, v.bos, v.eos, v.pad]
    assert specials == list(range(v.continuous_range[1], v.continuous_range[1] + 4))
    assert v.size == v.pad + 1


def test_shift_roundtrip_and_range_check():
    v = Vocabulary(500)
    vals = np.arange(N_DISCRETE)
    assert (v.discrete_values(v.discrete_ids(vals)) == vals).all()
    assert (v.continuous_bins(v.continuous_ids(vals)) == vals).all()
    with pytest.raises(ValueError, match="not a discrete id"):
        v.discrete_values(np.array([v.continuous_offset]))
    with pytest.raises(ValueError, match="not a continuous id"):
        v.continuous_bins(np.array([3]))


def test_names_and_bad_sizes():
    v = Vocabulary(10)
    assert v.name_of(v.separator) == "|" and v.name_of(v.pad) == "<pad>"
    assert v.name_of(v.discrete_offset + 5) == "disc:5"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        v.name_of(v.size)
    with pytest.raises(ValueError, match="positive int"):
        Vocabulary(0)
