"""Headless rendering works with the EGL setup the Makefile installs (MUJOCO_GL=egl)."""

import os

import gymnasium as gym
import numpy as np

import gatosuite  # noqa: F401  (sets MUJOCO_GL before mujoco is imported)


def test_mujoco_renders_headless_with_egl():
    assert os.environ["MUJOCO_GL"] == "egl"
    env = gym.make("InvertedPendulum-v5", render_mode="rgb_array", width=64, height=64)
    env.reset(seed=0)
    frame = env.render()
    env.close()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert frame.std() > 5  # a real scene, not a blank buffer


def test_meta_world_videos_show_the_goal_marker():
    """A goal family's video must show where the goal is; Meta-World's default camera does not
    (0 pixels of the marker at video size, measured), its corner camera does."""
    from gatosuite.envs import make_task_env

    env = make_task_env("mw-reach-goal-heldout", render=True)
    env.reset(seed=1000)
    u = env.unwrapped
    goal = u.model.site("goal").id
    shown = env.render()
    u.model.site_rgba[goal, 3] = 0.0  # the marker made invisible
    hidden = env.render()
    env.close()
    changed = (np.abs(shown.astype(int) - hidden.astype(int)).sum(-1) > 30).sum()
    assert changed >= 10  # 22 pixels when measured
    f = shown.astype(int)  # upright: the wooden table top lies in the lower half (the raw frame is upside down)
    wood = (f[..., 0] > f[..., 1] + 15) & (f[..., 1] > f[..., 2] + 5) & (f[..., 0] > 60) & (f[..., 0] < 200)
    assert wood[len(f) // 2:].sum() > 10 * wood[: len(f) // 2].sum()
