"""Train a locomotion expert with Stable-Baselines3 SAC and export its actor (`gatosuite train-expert`);
a killed training resumes exactly (`--resume`, envs/experts/sac_state.py).

SB3 is an optional dependency (`pip install -e '.[experts]'`): only training needs it. The exported
actor is loaded by :class:`LearnedExpert` with plain torch + safetensors.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from gatosuite.errors import DataNotFoundError, RunExistsError
from gatosuite.locks import exclusive

from .learned import WEIGHTS_DIR, LearnedExpert, export_sb3_actor
from .sac_state import SeededEpisodes, has_sac_state, load_sac_state, save_sac_state


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


def _curve_rows(path: Path, upto: int | None) -> list[list[str]]:
    """The training curve's rows, those after env step `upto` dropped (a resumed run replays them)."""
    if upto is None or not path.is_file():
        return []
    with path.open(newline="") as f:
        return [r for r in csv.reader(f) if r and int(r[0]) <= upto]


def train_sac(make_env: Callable[[], gym.Env], name: str, steps: int, minutes: float, seed: int = 0,
              eval_every: int = 20_000, eval_episodes: int = 5, out_dir: Path = WEIGHTS_DIR,
              work: Path | None = None, resume: bool = False, ckpt_every: int = 10_000,
              learning_starts: int = 10_000, buffer_size: int = 1_000_000,
              sac_kwargs: dict[str, Any] | None = None) -> Path:
    """Train SAC for at most `steps` env steps or `minutes`, keep the best evaluated actor in `out_dir`.

    The whole training state is checkpointed into `work` (default runs/experts/<name>) at the first
    episode start after every `ckpt_every` steps (envs/experts/sac_state.py); `resume` goes on from it
    exactly, with what is left of `minutes`. The last actor is exported to `work`/final.safetensors.
    `sac_kwargs` are the task's own SAC hyper-parameters (TaskSpec.sac), passed to SB3's SAC as they are."""
    try:
        import torch
        from stable_baselines3 import SAC
        from stable_baselines3.common.callbacks import BaseCallback
    except ImportError as e:  # pragma: no cover - depends on the optional extra
        raise SystemExit("training experts needs Stable-Baselines3: pip install -e '.[experts]'") from e

    work = Path(work) if work is not None else Path("runs/experts") / name
    state_dir = work / "sac-state"
    fix = f"pass --resume to go on from it, or delete '{work}' to start again"
    with exclusive(work / ".lock", f"training the '{name}' expert in '{work}'", "wait for it to finish"):
        if not resume and has_sac_state(state_dir):
            raise RunExistsError(f"'{work}' holds a checkpoint of an earlier '{name}' training; {fix}")
        if resume and not has_sac_state(state_dir):
            raise DataNotFoundError(f"nothing to resume: '{state_dir}' holds no checkpoint; train without --resume")
        torch.set_num_threads(1)
        out_dir = Path(out_dir).resolve()  # LearnedExpert reads a relative path inside envs/weights
        out_dir.mkdir(parents=True, exist_ok=True)
        out = out_dir / f"{name}.safetensors"
        tmp = out_dir / f".{name}.candidate.safetensors"
        log_path = out_dir / f"{name}.train.csv"  # the training curve, kept beside the weights

        env = make_env()
        if isinstance(env.observation_space, gym.spaces.Dict):  # dm_control: the same flattening as LearnedExpert
            env = gym.wrappers.FlattenObservation(env)
        episodes = SeededEpisodes(env, base=1_000_000 * (seed + 1))  # far from evaluation seeds (10_000 on)
        hyper = {"learning_starts": learning_starts, "buffer_size": buffer_size, **(sac_kwargs or {})}
        hyper["learning_starts"] = min(hyper["learning_starts"], steps // 2)
        model = SAC("MlpPolicy", episodes, seed=seed, verbose=0, device="cpu", **hyper)
        extra = {"best": -np.inf, "elapsed": 0.0, "checkpoint_step": None}
        if resume:
            extra = load_sac_state(model, episodes, state_dir)
            print(f"[{name}] resuming at step {model.num_timesteps} (best eval return {extra['best']:.1f})",
                  flush=True)
        rows = _curve_rows(log_path, extra["checkpoint_step"] if resume else None)
        with log_path.open("w", newline="") as f:  # a fresh run starts its curve; a resumed one keeps its rows
            csv.writer(f).writerows(rows)
        best = {"score": float(extra["best"])}
        start = time.monotonic() - float(extra["elapsed"])
        deadline = start + minutes * 60

        class EvalCheckpointStop(BaseCallback):
            last = model.num_timesteps

            def _on_rollout_start(self) -> None:
                n = self.model.num_timesteps
                if n - self.last >= ckpt_every and episodes.steps == 0:  # between rollouts, at an episode start
                    save_sac_state(self.model, episodes, state_dir, {"best": best["score"], "checkpoint_step": n,
                                                                      "elapsed": time.monotonic() - start})
                    self.last = n

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

        model.learn(total_timesteps=steps - model.num_timesteps, callback=EvalCheckpointStop(),
                    reset_num_timesteps=not resume)
        episodes.close()
        export_sb3_actor(model, work / "final.safetensors", {"task": name, "steps": model.num_timesteps})
        if not out.is_file():  # the budget ended before the first evaluation: keep the final actor
            export_sb3_actor(model, out, {"task": name, "steps": model.num_timesteps})
    print(f"[{name}] done at step {model.num_timesteps}: best eval return {best['score']:.1f}, weights {out}")
    return out
