"""OFA's claim at the suite's scale: on BabyAI, instruction combinations never seen in training are followed
above chance.

1. Collect BabyAI bot episodes of babyai-gotolocal (missions "go to the/a <colour> <object>", with
   distractors in the room) into data/ofa-babyai, seeds 0..N-1.
2. Hold out colour-object pairs (default: red ball, green key): every episode whose mission names one of
   them is left out of training (the token cache is seen through an `EpisodeSubset` of the others; the
   seeds of both sets are recorded).
3. Train `ofa` nano on the rest with the shared trainer (one thread; the schedule fitted to --minutes from
   the step rate it measures, so it ends in budget on a loaded machine too).
4. Evaluate on seeds whose missions name a held-out pair and on seeds of seen pairs (first seeds from
   10,000 whose reset mission falls in each set): success of OFA, of a seeded uniform random policy and of
   the BabyAI bot on the same seeds (`evaluation.rollout`), with Wilson 95% intervals. Success in
   GoToLocal only needs the agent to face a matching object once within 64 steps, so a wandering policy
   succeeds often; a second measure is stricter: the first ball, box or key the agent faces matches the
   mission (probed by an env wrapper in a loop of its own), for OFA and random.

    python benchmarks/bench_ofa.py                        # the recorded run
    python benchmarks/bench_ofa.py --steps 20 --episodes-eval 4 --label smoke --out /tmp/bench-ofa-smoke

Writes benchmarks/results/ofa.json (merged by label).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

TASK = "babyai-gotolocal"
RESULTS = Path(__file__).parent / "results"
MISSION = re.compile(r"go to (?:the|a) (\w+) (ball|box|key)")
OBJECTS = ("ball", "box", "key")


def pair(mission: str) -> str:
    """'colour object' of a GoToLocal mission ('go to the red ball' -> 'red ball')."""
    m = MISSION.fullmatch(str(mission).strip())
    if m is None:
        raise ValueError(f"not a GoToLocal mission: {mission!r}")
    return f"{m.group(1)} {m.group(2)}"


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95% interval of a binomial proportion k / n."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (centre - half, centre + half)


def rate(flags: list[bool]) -> dict[str, Any]:
    k, n = int(sum(flags)), len(flags)
    return {"rate": k / n if n else float("nan"), "ci95": wilson(k, n), "k": k, "n": n}


def eval_seeds(held: set[str], n: int, start: int = 10_000) -> tuple[list[int], list[int]]:
    """The first `n` seeds from `start` whose reset mission names a held-out pair, and the first `n` that do
    not."""
    from gatosuite.envs import make_task_env

    env = make_task_env(TASK)
    heldout, seen = [], []
    s = start
    while len(heldout) < n or len(seen) < n:
        obs, _ = env.reset(seed=s)
        (heldout if pair(obs["mission"]) in held else seen).append(s)
        s += 1
    env.close()
    return heldout[:n], seen[:n]


class RandomPolicy:
    """A uniform random policy over BabyAI's 7 actions, seeded (the suite's reference uses the same)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, num_envs: int = 1) -> None:
        self.n = num_envs

    def reset_envs(self, mask: np.ndarray) -> None:
        pass

    def act(self, obs: Any) -> np.ndarray:
        return self.rng.integers(0, 7, self.n)


class FirstFaced(gym.Wrapper):
    """Records the first ball, box or key the agent faces in an episode ('colour type', or None)."""

    def reset(self, **kw: Any):
        self.first: str | None = None
        out = super().reset(**kw)
        self._look()
        return out

    def step(self, action: Any):
        out = super().step(action)
        self._look()
        return out

    def _look(self) -> None:
        u = self.env.unwrapped
        obj = u.grid.get(*u.front_pos)
        if self.first is None and obj is not None and obj.type in OBJECTS:
            self.first = f"{obj.color} {obj.type}"


def first_faced(policy: Any, seeds: list[int]) -> list[dict[str, Any]]:
    """One episode per seed, one env: whether the first object faced matches the mission, and success."""
    from gatosuite.envs import make_task_env

    env = FirstFaced(make_task_env(TASK))
    out = []
    for s in seeds:
        obs, _ = env.reset(seed=s)
        target = pair(obs["mission"])
        policy.reset(1)
        done, r = False, 0.0
        while not done:
            action = policy.act({k: np.asarray(v)[None] for k, v in obs.items()})
            obs, r, term, trunc, _ = env.step(int(np.asarray(action)[0]))
            done = term or trunc
        out.append({"seed": s, "mission": target, "first": env.first, "match": env.first == target,
                    "success": bool(term and r > 0)})
    env.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("data/ofa-babyai"))
    ap.add_argument("--out", type=Path, default=Path("runs/bench-ofa"))
    ap.add_argument("--episodes", type=int, default=2000, help="bot episodes collected (seeds 0..N-1)")
    ap.add_argument("--heldout", nargs="+", default=["red ball", "green key"])
    ap.add_argument("--minutes", type=float, default=15.0, help="training budget; the schedule is fitted to it")
    ap.add_argument("--steps", type=int, default=None, help="a fixed step count instead of --minutes")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--window", type=int, default=280, help="8 BabyAI timesteps of 35 tokens")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--episodes-eval", type=int, default=40, help="evaluation episodes per condition")
    ap.add_argument("--model", default="ofa", help="the family trained (another one gives a reference)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", default="main")
    a = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.datasets import minari_store
    from gatosuite.datasets.cache import EpisodeSubset, open_cache
    from gatosuite.datasets.collect import collect
    from gatosuite.evaluation.rollout import ExpertPolicy, rollout
    from gatosuite.tokenization import default_text_model
    from gatosuite.tokenization.task import task_tokenizer

    t0 = time.perf_counter()
    held = set(a.heldout)
    timings: dict[str, float] = {}
    collect(TASK, a.episodes, a.root, seed=0, resume=True, progress=False)
    text = default_text_model(4096)
    cache = open_cache(a.root, TASK, task_tokenizer(TASK, text))
    episodes = [(ep.seed, pair(ep.observations["mission"][0])) for ep in minari_store.iter_episodes(a.root, TASK)]
    train_idx = [i for i, (_, p) in enumerate(episodes) if p not in held]
    left_out = [s for s, p in episodes if p in held]
    pairs_trained = sorted({p for _, p in episodes if p not in held})
    timings["data_s"] = time.perf_counter() - t0
    print(f"{len(train_idx)} training episodes of {len(episodes)}; {len(left_out)} left out "
          f"({', '.join(sorted(held))}); {len(pairs_trained)} pairs trained", flush=True)

    t = time.perf_counter()
    shutil.rmtree(a.out, ignore_errors=True)
    budget = (dict(steps=a.steps, warmup=min(100, a.steps // 10)) if a.steps else
              dict(steps=100_000, minutes=a.minutes, fit_schedule=True, warmup=50))
    args = TrainArgs(tasks=TASK, root=a.root, out=a.out / "train", model=a.model, preset="nano", window=a.window,
                     batch_size=a.batch_size, lr=a.lr, prompt_prob=0.0, log_every=25, val_every=250, val_batches=2,
                     ckpt_every=10**9, precision="fp32", device="cpu", seed=a.seed, **budget)
    summary = train(args, text, {TASK: EpisodeSubset(cache, train_idx)}, progress=False)
    timings["train_s"] = time.perf_counter() - t
    ckpt = a.out / "train" / "checkpoint"
    print(f"trained {summary['step']} steps in {timings['train_s'] / 60:.1f} min; loss {summary['loss']:.3f}",
          flush=True)

    t = time.perf_counter()
    heldout_seeds, seen_seeds = eval_seeds(held, a.episodes_eval)
    conditions: dict[str, Any] = {}
    for name, seeds in (("heldout", heldout_seeds), ("seen", seen_seeds)):
        res: dict[str, Any] = {"seeds": seeds}
        for who, policy in (("model", make_policy(ckpt, TASK, device="cpu")), ("random", RandomPolicy(a.seed)),
                            ("bot", ExpertPolicy())):
            eps = rollout(policy, TASK, seeds, num_envs=10, progress=False)
            res[who] = {**rate([bool(e.success) for e in eps]), "mean_length": float(np.mean([e.length for e in eps])),
                        "mean_return": float(np.mean([e.ret for e in eps]))}
        for who, policy in (("model", make_policy(ckpt, TASK, device="cpu")), ("random", RandomPolicy(a.seed + 1))):
            probe = first_faced(policy, seeds)
            res[f"{who}_first_faced"] = {**rate([p["match"] for p in probe]), "episodes": probe}
        conditions[name] = res
        print(f"{name}: " + ", ".join(f"{w} {res[w]['rate']:.3f} [{res[w]['ci95'][0]:.3f}, {res[w]['ci95'][1]:.3f}]"
                                      for w in ("model", "random", "bot"))
              + f"; first faced matches: {a.model} {res['model_first_faced']['rate']:.3f}, random "
                f"{res['random_first_faced']['rate']:.3f}", flush=True)
    timings["eval_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0

    h = conditions["heldout"]
    claim = bool(h["model"]["ci95"][0] > h["random"]["rate"]
                 and h["model_first_faced"]["ci95"][0] > h["random_first_faced"]["rate"])
    entry = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "model": a.model, "task": TASK,
        "heldout_pairs": sorted(held),
        "collected_episodes": len(episodes), "collected_seeds": [0, a.episodes - 1],
        "training_episodes": len(train_idx), "left_out_seeds": left_out, "pairs_trained": pairs_trained,
        "train": {**{k: v for k, v in summary.items() if isinstance(v, (int, float, str))},
                  "family": a.model, "preset": "nano", "minutes": None if a.steps else a.minutes, "window": a.window,
                  "batch_size": a.batch_size, "lr": a.lr, "prompt_prob": 0.0, "threads": 1},
        "conditions": conditions, "timings_s": timings,
        "claim_holds": claim,
        "claim_rule": "held-out model success's 95% lower bound above random's success on the same seeds, and the same "
                      "for the first-faced-object match",
    }
    path = RESULTS / "ofa.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    old[a.label] = entry
    path.write_text(json.dumps(old, indent=2))
    print(f"claim holds: {claim}; {timings['total_s'] / 60:.1f} min; wrote {path}")


if __name__ == "__main__":
    main()
