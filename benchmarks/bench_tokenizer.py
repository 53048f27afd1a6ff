"""Tokenizer throughput: timesteps/s and tokens/s, vectorized episode encoding vs a per-timestep loop.

Cases:
  * continuous-17: a 17-dim float observation and a 6-dim Box action (HalfCheetah's shapes);
  * image-text-discrete: a 64x64 RGB frame, a mission string and a direction, Discrete(7) action
    (a BabyAI timestep).

The reference, measured in the same run, encodes the same episode one timestep at a time (what a naive
rollout-time tokenizer does). The target in issue 2 is 20x the token rate training consumes, and that
rate is measured in the same run too: `nano` training steps at the demo's shape (16 windows of 240
tokens), in the precision `auto` chooses on this machine (`--precision` to force one).

Writes benchmarks/results/tokenizer.json.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
from gymnasium import spaces

from gatosuite.tokenization import Tokenizer, default_text_model

TARGET_MULTIPLE = 20


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def case_continuous(rng):
    obs_sp = spaces.Box(-np.inf, np.inf, (17,), np.float64)
    act_sp = spaces.Box(-1.0, 1.0, (6,), np.float32)
    t = 1000
    return (Tokenizer.from_spaces(obs_sp, act_sp), rng.normal(size=(t + 1, 17)) * 3,
            rng.uniform(-1, 1, (t, 6)).astype(np.float32))


def case_image(rng):
    obs_sp = spaces.Dict({"mission": spaces.Text(64), "image": spaces.Box(0, 255, (64, 64, 3), np.uint8),
                          "direction": spaces.Discrete(4)})
    tok = Tokenizer.from_spaces(obs_sp, spaces.Discrete(7), text_model=default_text_model(4096),
                                max_text_tokens=16)
    t = 256
    obs = {"mission": ["pick up the blue key"] * (t + 1),
           "image": rng.integers(0, 256, (t + 1, 64, 64, 3), dtype=np.uint8),
           "direction": rng.integers(0, 4, t + 1)}
    return tok, obs, rng.integers(0, 7, t)


def _step(obs, i):
    if isinstance(obs, dict):
        return {k: _step(v, i) for k, v in obs.items()}
    return obs[i: i + 1]


def training_tokens_per_s(precision: str) -> tuple[float, str]:
    """Tokens/s of `nano` training steps at 16 x 240 on this machine, and the precision used."""
    import torch
    from bench_train import make_batch, tokens_per_s

    from gatosuite.agent.families import get_family
    from gatosuite.agent.runtime import resolve

    rt = resolve("cpu", precision)
    gato = get_family("gato")
    model = gato.model(gato.build("nano", 4096 + 2048 + 4, context=240))
    batch = make_batch(torch.Generator().manual_seed(0), 16, 240)
    return tokens_per_s(lambda: model(batch)[1], model.parameters(), rt, tokens=16 * 240), rt.precision


def measure(name, tok, obs, act, training_rate: float):
    t = len(act)
    n_tokens = len(tok.encode_episode(obs, act))
    vec = best_of(lambda: tok.encode_episode(obs, act))
    loop_steps = min(t, 200)
    loop = best_of(lambda: [tok.encode_episode(_step(obs, i), _step(act, i)) for i in range(loop_steps)], 3)
    row = {
        "case": name, "timesteps": t, "tokens_per_timestep": tok.spec.tokens_per_timestep,
        "timesteps_per_s": t / vec, "tokens_per_s": n_tokens / vec,
        "per_timestep_loop_timesteps_per_s": loop_steps / loop,
    }
    row["speedup_vs_loop"] = row["timesteps_per_s"] / row["per_timestep_loop_timesteps_per_s"]
    row["x_training_rate"] = row["tokens_per_s"] / training_rate
    row["meets_target"] = row["x_training_rate"] >= TARGET_MULTIPLE
    return row


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    rate, precision = training_tokens_per_s(ap.parse_args().precision)
    print(f"training consumes {rate:,.0f} tokens/s here (nano, 16 x 240, {precision}, measured now)")
    rng = np.random.default_rng(0)
    rows = [measure("continuous-17", *case_continuous(rng), rate),
            measure("image-text-discrete", *case_image(rng), rate)]
    print(f"{'case':<22}{'tok/step':>9}{'steps/s':>12}{'tokens/s':>13}{'loop steps/s':>14}"
          f"{'vs loop':>9}{'x train':>9}")
    for r in rows:
        print(f"{r['case']:<22}{r['tokens_per_timestep']:>9}{r['timesteps_per_s']:>12,.0f}{r['tokens_per_s']:>13,.0f}"
              f"{r['per_timestep_loop_timesteps_per_s']:>14,.0f}{r['speedup_vs_loop']:>8.1f}x"
              f"{r['x_training_rate']:>8.0f}x")
    print(f"target: tokens/s >= {TARGET_MULTIPLE}x the {rate:,.0f} tokens/s training consumes: "
          + ("met" if all(r["meets_target"] for r in rows) else "NOT met"))
    out = Path(__file__).parent / "results" / "tokenizer.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                               "training_tokens_per_s": rate, "training_precision": precision,
                               "cases": {r["case"]: r for r in rows}}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
