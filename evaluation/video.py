"""Videos side by side: the same seed played two ways (e.g. zero-shot and prompted), one frame row; and a
filmstrip, a few of a video's frames in one image, for pages that cannot play video (README, reports)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .rollout import write_video


def _band(text: str, width: int, height: int = 18) -> np.ndarray:
    """`text` in white on a black band of the given width (matplotlib's Agg renderer, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    fig.patch.set_facecolor("black")
    fig.text(0.02, 0.5, text, color="white", fontsize=8, va="center")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    band = np.asarray(canvas.buffer_rgba())[:height, :width, :3]
    return np.pad(band, ((0, height - band.shape[0]), (0, width - band.shape[1]), (0, 0)))


def side_by_side(videos: list[Path], labels: list[str], out: Path, fps: float | None = None) -> Path:
    """One MP4 whose frames are the inputs' frames next to each other, each under its label; a shorter
    video holds its last frame."""
    import imageio.v2 as imageio

    clips = []
    for path in videos:
        reader = imageio.get_reader(path)
        fps = fps or float(reader.get_meta_data().get("fps", 10))
        clips.append([np.asarray(f) for f in reader])
        reader.close()
    n = max(len(c) for c in clips)
    h = max(c[0].shape[0] for c in clips)
    bands = [_band(label, c[0].shape[1]) for c, label in zip(clips, labels)]
    frames = []
    for i in range(n):
        row = []
        for clip, band in zip(clips, bands):
            f = clip[min(i, len(clip) - 1)]
            row.append(np.concatenate([band, np.pad(f, ((0, h - f.shape[0]), (0, 0), (0, 0)))], axis=0))
        frames.append(np.concatenate(row, axis=1))
    return write_video(frames, out, fps)


def filmstrip(video: Path, out: Path, rows: int = 4) -> Path:
    """A PNG of `rows` frames of `video`, evenly spaced from the first to the last, one above the other,
    each under a band naming its frame ("frame 12 of 50")."""
    import imageio.v2 as imageio

    reader = imageio.get_reader(video)
    frames = [np.asarray(f) for f in reader]
    reader.close()
    if not frames:
        raise ValueError(f"'{video}' has no frames")
    picks = np.unique(np.linspace(0, len(frames) - 1, max(1, rows)).round().astype(int))
    width = frames[0].shape[1]
    strip = np.concatenate([np.concatenate([_band(f"frame {i + 1} of {len(frames)}", width), frames[i]], axis=0)
                            for i in picks], axis=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(out, strip)
    return out


def contact_sheet(videos: list[Path], labels: list[str], out: Path, cols: int = 4, size: int = 160,
                  at: float = 0.5) -> Path:
    """A PNG grid with one frame of each video (the frame `at` of the way through it), scaled to `size`
    pixels square and shown under its label: many tasks at a glance, where a page cannot play video."""
    import imageio.v2 as imageio
    from PIL import Image

    if not videos or len(videos) != len(labels):
        raise ValueError("contact_sheet needs one label per video, and at least one video")
    tiles = []
    for path, label in zip(videos, labels):
        reader = imageio.get_reader(path)
        frames = [np.asarray(f) for f in reader]
        reader.close()
        if not frames:
            raise ValueError(f"'{path}' has no frames")
        frame = Image.fromarray(frames[round(at * (len(frames) - 1))]).resize((size, size), Image.BILINEAR)
        tiles.append(np.concatenate([_band(label, size), np.asarray(frame)[..., :3]], axis=0))
    blank = np.zeros_like(tiles[0])
    tiles += [blank] * (-len(tiles) % cols)
    grid = np.concatenate([np.concatenate(tiles[r:r + cols], axis=1) for r in range(0, len(tiles), cols)], axis=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(out, grid)
    return out
