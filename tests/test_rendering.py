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
