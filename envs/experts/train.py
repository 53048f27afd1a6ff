"""Train a locomotion expert with Stable-Baselines3 SAC and export its actor (`gatosuite train-expert`).

SB3 is an optional dependency (`pip install -e '.[experts]'`): only training needs it. The exported
actor is loaded by :class:`LearnedExpert` with plain torch + safetensors.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from .learned import WEIGHTS_DIR, LearnedExpert, export_sb3_actor


def _evaluate(make_env: Callable[[], gym.Env], weights: Path, episodes: int, seed: int) -> float:
    env = make_env()
    expert = LearnedExpert(weights, env)
    returns = []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        done, total = False, 0.0
        while not done:
            obs, r, term, trunc, info = env.step(expert.act(env, obs))
            total += float(r)
            done = term or trunc
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def train_sac(make_env: Callable[[], gym.Env], name: str, steps: int, minutes: float, seed: int = 0,
              eval_every: int = 20_000, eval_episodes: int = 5, out_dir: Path = WEIGHTS_DIR) -> Path:
    """Train SAC for at most `steps` env steps or `minutes`, keep the best evaluated actor."""
    try:
        import torch
        from stable_baselines3 import SAC
        from stable_baselines3.common.callbacks import BaseCallback
    except ImportError as e:  # pragma: no cover - depends on the optional extra
        raise SystemExit("training experts needs Stable-Baselines3: pip install -e '.[experts]'") from e

    torch.set_num_threads(1)
    out = out_dir / f"{name}.safetensors"
    tmp = out_dir / f".{name}.candidate.safetensors"
    log_path = out_dir / f"{name}.train.csv"  # the training curve, kept beside the weights
    deadline = time.monotonic() + minutes * 60
    best = {"score": -np.inf}

    class EvalAndStop(BaseCallback):
        def _on_step(self) -> bool:
            n = self.num_timesteps
            if n % eval_every == 0:
                export_sb3_actor(self.model, tmp, {"task": name, "steps": n})
                score = _evaluate(make_env, tmp, eval_episodes, seed=10_000)
                with log_path.open("a", newline="") as f:
                    csv.writer(f).writerow([n, round(time.monotonic() - start, 1), score])
                print(f"[{name}] step {n}: eval return {score:.1f} (best {best['score']:.1f})", flush=True)
                if score > best["score"]:
                    best["score"] = score
                    tmp.replace(out)
            return time.monotonic() < deadline

    env = make_env()
    if isinstance(env.observation_space, gym.spaces.Dict):  # dm_control: the same flattening as LearnedExpert
        env = gym.wrappers.FlattenObservation(env)
    model = SAC("MlpPolicy", env, learning_starts=min(10_000, steps // 2), seed=seed, verbose=0, device="cpu")
    start = time.monotonic()
    model.learn(total_timesteps=steps, callback=EvalAndStop())
    env.close()
    if not out.is_file():  # the budget ended before the first evaluation: keep the final actor
        export_sb3_actor(model, out, {"task": name, "steps": model.num_timesteps})
    print(f"[{name}] done: best eval return {best['score']:.1f}, weights {out}")
    return out
