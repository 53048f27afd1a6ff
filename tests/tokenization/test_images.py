import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gatosuite.tokenization import images as I


@given(st.integers(1, 70), st.integers(1, 70), st.integers(1, 3))
def test_patchify_roundtrip_any_size(h, w, n):
    rng = np.random.default_rng(h * 100 + w)
    frames = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    patches = I.patchify(frames)
    assert patches.shape == (n, I.num_patches(h, w), 3, 16, 16)
    np.testing.assert_array_equal(I.unpatchify(patches, h, w), frames)


def test_raster_order_and_zero_padding():
    frame = np.zeros((1, 20, 40, 3), np.uint8)
    frame[0, 0:16, 16:32] = 7   # row 0, col 1
    frame[0, 16:20, 0:16] = 9   # row 1, col 0 (partly padding)
    p = I.patchify(frame)[0]     # padded to 32x48 -> 2x3 patches
    assert p.shape[0] == 6
    assert (p[1] == 7).all()
    assert (p[3][:, :4] == 9).all() and (p[3][:, 4:] == 0).all()  # rows 20..31 are zero padding


def test_normalization_is_gato_scale():
    x = np.array([0, 255, 128], np.uint8)
    v = I.normalize_patches(x)
    np.testing.assert_allclose(v, [-0.25, 0.25, (128 / 255 * 2 - 1) / 4], atol=1e-7)
    np.testing.assert_array_equal(I.denormalize_patches(v), x)


def test_intervals_and_position_bins():
    rows, cols = I.patch_intervals(64, 32)  # 4 x 2 patches
    assert rows.shape == (8, 2)
    np.testing.assert_allclose(rows[2], [0.25, 0.5])
    np.testing.assert_allclose(cols[3], [0.5, 1.0])
    # evaluation: the bin of the interval mean
    np.testing.assert_array_equal(I.patch_position_bins(rows[:, None][:2, 0]), [16, 16])
    # training: uniformly inside the interval
    draws = I.patch_position_bins(np.repeat(rows[2:3], 5000, 0), np.random.default_rng(0))
    assert draws.min() == 32 and draws.max() == 63
    assert abs(draws.mean() - 47.5) < 1.0


def test_unpatchify_rejects_wrong_count():
    with pytest.raises(ValueError, match="cannot form"):
        I.unpatchify(np.zeros((1, 3, 3, 16, 16), np.uint8), 32, 32)
