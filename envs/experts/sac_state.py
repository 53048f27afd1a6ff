"""Everything a Stable-Baselines3 SAC run needs to go on exactly where it stopped, saved without pickle.

`gatosuite train-expert --resume` continues a killed expert training as if it had never stopped: the
same actions, replay samples and gradient steps, so the same weights bit for bit (tested). SB3's own
`save()` pickles, and it leaves out the replay buffer and the random generators; this module writes

* `weights.safetensors`: the policy (actor, critics, target critics), the entropy coefficient, every
  optimizer's moment tensors and torch's global generator;
* `buffer.npz`: the filled part of the replay buffer and numpy's global Mersenne-Twister keys, read back
  with `allow_pickle=False`;
* `state.json`: the counters, optimizer hyper-parameters, the action space's and Python's generators,
  and the caller's own progress (best score, elapsed time).

A checkpoint is taken only when an episode has just begun, so that the env need not be saved:
`SeededEpisodes` starts episode k from seed `base + k` whatever SB3 asks, and resuming replays that reset.
The folder is written beside the old one and swapped in by two renames; `load_sac_state` takes the old
one if a kill fell between them.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gatosuite.errors import ConfigError, CorruptFileError

FORMAT = 1
BUFFER_FIELDS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


class SeededEpisodes(gym.Wrapper):
    """Episode k of training resets from seed `base + k` (SB3 reseeds only the first reset), so that a
    resumed run can rebuild the episode it stopped at from a number instead of the simulator's state."""

    def __init__(self, env: gym.Env, base: int) -> None:
        super().__init__(env)
        self.base = base
        self.episodes = 0
        """Resets done so far; the current episode is number `episodes - 1`."""
        self.steps = 0
        """Steps taken in the current episode."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):  # noqa: ARG002
        self.episodes += 1
        self.steps = 0
        return self.env.reset(seed=self.base + self.episodes - 1, options=options)

    def step(self, action):
        self.steps += 1
        return self.env.step(action)


def _old(folder: Path) -> Path:
    """Where the previous checkpoint waits while a new one is swapped in."""
    return folder.with_name(folder.name + ".old")


def _optimizers(model: Any) -> dict[str, torch.optim.Optimizer]:
    opts = {"actor": model.actor.optimizer, "critic": model.critic.optimizer}
    if getattr(model, "ent_coef_optimizer", None) is not None:
        opts["ent_coef"] = model.ent_coef_optimizer
    return opts


def save_sac_state(model: Any, episodes: SeededEpisodes, folder: Path, extra: dict[str, Any]) -> None:
    """Write `model`'s whole training state to `folder` (replaced atomically); call it only at an
    episode's first step (`episodes.steps == 0`), between SB3's rollouts."""
    if episodes.steps != 0:
        raise ValueError("a SAC checkpoint is taken only at the start of an episode")
    tmp, old = folder.with_name(folder.name + ".tmp"), _old(folder)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors = {f"policy.{k}": v.detach().cpu().contiguous() for k, v in model.policy.state_dict().items()}
    if getattr(model, "log_ent_coef", None) is not None:
        tensors["log_ent_coef"] = model.log_ent_coef.detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    groups: dict[str, Any] = {}
    for name, opt in _optimizers(model).items():
        sd = opt.state_dict()
        groups[name] = {"param_groups": sd["param_groups"], "scalars": {}}
        for idx, state in sd["state"].items():
            for key, value in state.items():
                if torch.is_tensor(value):
                    tensors[f"opt.{name}.{idx}.{key}"] = value.detach().cpu().contiguous()
                else:
                    groups[name]["scalars"][f"{idx}.{key}"] = value
    save_file(tensors, str(tmp / "weights.safetensors"))
    buf = model.replay_buffer
    n = buf.buffer_size if buf.full else buf.pos
    np_state, py_state = np.random.get_state(), random.getstate()
    np.savez(tmp / "buffer.npz", mt_keys=np_state[1], last_obs=np.asarray(model._last_obs),
             **{f: getattr(buf, f)[:n] for f in BUFFER_FIELDS})
    state = {
        "format": FORMAT, "num_timesteps": int(model.num_timesteps), "n_updates": int(model._n_updates),
        "episode_num": int(model._episode_num), "episodes_started": episodes.episodes, "base_seed": episodes.base,
        "buffer": {"pos": int(buf.pos), "full": bool(buf.full), "size": int(buf.buffer_size), "stored": int(n)},
        "optimizers": groups,
        "rng": {"numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
                "python": [py_state[0], list(py_state[1]), py_state[2]],
                "action_space": model.action_space.np_random.bit_generator.state},
        "extra": extra,
    }
    (tmp / "state.json").write_text(json.dumps(state))
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def has_sac_state(folder: Path) -> bool:
    return folder.is_dir() or _old(folder).is_dir()


def load_sac_state(model: Any, episodes: SeededEpisodes, folder: Path) -> dict[str, Any]:
    """Restore what `save_sac_state` wrote into a freshly built `model` (same env, same hyper-parameters)
    and reset its env into the saved episode; returns the caller's `extra`."""
    if not folder.is_dir() and _old(folder).is_dir():
        folder = _old(folder)  # killed between the two renames
    fix = f"delete '{folder}' to train from the start"
    try:
        state = json.loads((folder / "state.json").read_text())
        tensors = load_file(str(folder / "weights.safetensors"))
        with np.load(folder / "buffer.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, SafetensorError, KeyError) as e:
        raise CorruptFileError(f"the SAC checkpoint '{folder}' cannot be read ({e}); {fix}") from e
    if state.get("format") != FORMAT:
        raise CorruptFileError(f"the SAC checkpoint '{folder}' has format {state.get('format')}, not {FORMAT}; {fix}")
    buf = model.replay_buffer
    if state["buffer"]["size"] != buf.buffer_size or state["base_seed"] != episodes.base:
        raise ConfigError(f"the SAC checkpoint '{folder}' was trained with another buffer size or seed; pass "
                          f"the same ones to resume it, or {fix}")
    try:
        model.policy.load_state_dict({k[len("policy."):]: v for k, v in tensors.items() if k.startswith("policy.")})
    except RuntimeError as e:
        raise ConfigError(f"the SAC checkpoint '{folder}' holds another network: {e}; {fix}") from e
    if "log_ent_coef" in tensors:
        with torch.no_grad():
            model.log_ent_coef.copy_(tensors["log_ent_coef"])
    for name, opt in _optimizers(model).items():
        g = state["optimizers"][name]
        per: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith(f"opt.{name}."):
                idx, field = key[len(f"opt.{name}."):].split(".", 1)
                per.setdefault(int(idx), {})[field] = value
        for key, value in g["scalars"].items():
            idx, field = key.split(".", 1)
            per.setdefault(int(idx), {})[field] = value
        opt.load_state_dict({"state": per, "param_groups": g["param_groups"]})
    n = state["buffer"]["stored"]
    for f in BUFFER_FIELDS:
        getattr(buf, f)[:n] = arrays[f]
    buf.pos, buf.full = state["buffer"]["pos"], state["buffer"]["full"]
    model.num_timesteps, model._n_updates = state["num_timesteps"], state["n_updates"]
    model._episode_num = state["episode_num"]
    episodes.episodes = state["episodes_started"] - 1
    obs = model.env.reset()  # SeededEpisodes replays the reset of the episode the run stopped at
    if not np.array_equal(obs, arrays["last_obs"]):
        raise ConfigError(f"the env did not reset to the observation saved in '{folder}' (is it the same task "
                          f"and version?); {fix}")
    model._last_obs, model._last_episode_starts = obs, np.ones((model.env.num_envs,), dtype=bool)
    r = state["rng"]
    torch.set_rng_state(tensors["rng.torch"])
    np.random.set_state((r["numpy"][0], arrays["mt_keys"], r["numpy"][1], r["numpy"][2], r["numpy"][3]))
    random.setstate((r["python"][0], tuple(r["python"][1]), r["python"][2]))
    model.action_space.np_random.bit_generator.state = r["action_space"]
    return state["extra"]
