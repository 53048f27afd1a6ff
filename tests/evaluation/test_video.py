"""Pictures made from rollout videos, for pages that cannot play video."""

import imageio.v2 as imageio
import numpy as np
import pytest

from gatosuite.evaluation.rollout import write_video
from gatosuite.evaluation.video import contact_sheet


def _video(path, colours):
    frames = [np.full((32, 48, 3), c, dtype=np.uint8) for c in colours]
    return write_video(frames, path, fps=10)


def test_contact_sheet_shows_each_videos_middle_frame_under_its_label(tmp_path):
    red = _video(tmp_path / "a.mp4", [(0, 0, 0), (200, 0, 0), (0, 0, 0)])  # the middle frame is red
    green = _video(tmp_path / "b.mp4", [(0, 200, 0)] * 5)
    blue = _video(tmp_path / "c.mp4", [(0, 0, 200)] * 2 + [(0, 200, 0)] * 3)  # frame 2 of 0..4 is green
    out = contact_sheet([red, green, blue], ["a 1.00", "b 0.50", "c"], tmp_path / "sheet.png", cols=2, size=40)
    sheet = imageio.imread(out)
    band = 18
    assert sheet.shape == (2 * (band + 40), 2 * 40, 3)  # 3 tiles in 2 columns: the fourth place is blank

    def tile(r, c):  # the middle of the tile in row r, column c, below its label band
        return sheet[r * (band + 40) + band + 10:(r + 1) * (band + 40) - 10, c * 40 + 10:(c + 1) * 40 - 10]

    assert np.argmax(tile(0, 0).mean(axis=(0, 1))) == 0  # red
    assert np.argmax(tile(0, 1).mean(axis=(0, 1))) == 1  # green
    assert np.argmax(tile(1, 0).mean(axis=(0, 1))) == 1  # the middle of c is green, not its first frames' blue
    assert tile(1, 1).max() == 0  # blank
    assert sheet[:band, :40].max() > 128  # the label is drawn in white on its band


def test_contact_sheet_needs_a_label_per_video(tmp_path):
    with pytest.raises(ValueError, match="one label per video"):
        contact_sheet([_video(tmp_path / "a.mp4", [(0, 0, 0)])], [], tmp_path / "x.png")
