"""A printed tour of the tokenizer on three kinds of task; what `gatosuite demo` runs for now."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .debug import dump_sequence
from .stacking import stack_timesteps
from .text import default_text_model
from .tokenizer import Tokenizer


def _rollout(env: gym.Env, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    observations, actions = [obs], []
    for _ in range(steps):
        actions.append(env.action_space.sample())
        obs, _, term, trunc, _ = env.step(actions[-1])
        observations.append(obs)
        if term or trunc:
            break
    return stack_timesteps(observations), stack_timesteps(actions)


def walkthrough(text_vocab: int = 4096) -> None:
    t0 = time.perf_counter()
    print(f"== training/loading the SentencePiece model (vocab {text_vocab}) on the offline corpus")
    text = default_text_model(text_vocab)
    print(f"   {text.vocab_size} pieces in {time.perf_counter() - t0:.1f}s; "
          f"'pick up the blue key' -> {text.encode(['pick up the blue key'])[0]}")

    for env_id in ("CartPole-v1", "Pendulum-v1"):
        env = gym.make(env_id)
        obs, act = _rollout(env, 2, seed=0)
        env.close()
        tok = Tokenizer.from_spaces(env.observation_space, env.action_space)
        seq = tok.encode_episode(obs, act)
        print(f"\n== {env_id}: {tok.spec.describe()}\n{dump_sequence(tok, seq)}")
        ids = seq.ids.reshape(len(act), -1)[:, -tok.spec.action_tokens:]
        print(f"   actions {act.tolist()} decode to {np.asarray(tok.decode_actions(ids)).tolist()}")

    print("\n== a BabyAI-like timestep: mission text + 64x64 frame + direction, discrete action")
    obs_space = spaces.Dict({
        "mission": spaces.Text(64), "image": spaces.Box(0, 255, (64, 64, 3), np.uint8),
        "direction": spaces.Discrete(4),
    })
    tok = Tokenizer.from_spaces(obs_space, spaces.Discrete(7), text_model=text, max_text_tokens=12)
    rng = np.random.default_rng(0)
    obs = {"mission": ["go to the red ball"], "direction": np.array([2]),
           "image": rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)}
    seq = tok.encode_episode(obs, np.array([2]))
    print(f"{tok.spec.describe()}\n{dump_sequence(tok, seq)}")
    print(f"\ndone in {time.perf_counter() - t0:.1f}s. The agent, training and evaluation arrive in later issues.")
