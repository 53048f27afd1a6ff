"""Per-step action latency of every family that acts, at a batch of 8 envs, as a ratio to Gato's, in one run.

Each family's nano preset (built through the registry, untrained: latency does not depend on the weights)
acts through `make_policy` in its own policy: the decoder-only families through the shared KV-cache
`DecoderPolicy`, the encoder-decoder families through `Seq2SeqPolicy`, which re-encodes each env's window
every step. Every family plays the same observations (a fixed stream of recorded observations of the task,
the same for all), for --steps steps after --warmup, interleaved family by family in --rounds rounds so that
drift of a shared machine hits every family alike; the median over rounds is reported. A step is one
`policy.act(obs)` for all 8 envs: every action field of the task decoded, windows sliding as they fill.

    python benchmarks/bench_act.py                        # cartpole and dmc-cartpole-balance
    python benchmarks/bench_act.py --tasks cartpole --steps 40 --label quick
    python benchmarks/bench_act.py --tasks mw-drawer-close --families gato,pathnet,munet --envs 5 \
        --precision fp32,bf16 --label precision      # both precisions side by side, interleaved

With several precisions, every (family, precision) policy is timed in the same rounds; a family's row keeps
the first precision's time (and its ratio to Gato's) and adds `by_precision` and `ratio_to_first`.

Writes benchmarks/results/act_latency.json (merged by label).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def observations(task: str, envs: int, steps: int, seed: int = 0) -> list:
    """A fixed stream of batched observations of `task`, played by random actions."""
    import gymnasium as gym

    from gatosuite.envs import make_task_env

    vec = gym.vector.SyncVectorEnv([lambda: make_task_env(task) for _ in range(envs)],
                                   autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    vec.action_space.seed(seed)
    obs, _ = vec.reset(seed=seed)
    stream = []
    for _ in range(steps):
        stream.append(obs)
        obs, *_ = vec.step(vec.action_space.sample())
    vec.close()
    return stream


def policies(task: str, families: list[str], folder: Path, precision: str) -> dict:
    """Each family's nano policy for `task`, from a checkpoint of untrained weights."""
    import torch

    from gatosuite.agent.checkpoint import save_checkpoint
    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.families import get_family
    from gatosuite.tokenization import default_text_model
    from gatosuite.tokenization.task import task_tokenizer

    text = default_text_model(4096)
    vocab = task_tokenizer(task, text).vocab.size
    out = {}
    for name in families:
        torch.manual_seed(0)
        family = get_family(name)
        model = family.model(family.prepare(family.build("nano", vocab, context=240), [task], text))
        save_checkpoint(folder / name, model, text, {"tasks": [task], "segment_steps": 8})
        out[name] = make_policy(folder / name, task, precision=precision)
    return out


def timed_rounds(pols: dict, stream: list, envs: int, warmup: int, steps: int, rounds: int) -> dict:
    """Seconds per step of each policy, per round; every round times every policy once, in turn."""
    times: dict = {k: [] for k in pols}
    for _ in range(rounds):
        for key, pol in pols.items():
            pol.reset(envs)
            for obs in stream[:warmup]:
                pol.act(obs)
            t0 = time.perf_counter()
            for obs in stream[warmup:]:
                pol.act(obs)
            times[key].append((time.perf_counter() - t0) / steps)
    return times


def main() -> None:
    import torch

    from gatosuite.agent.families import family_names, get_family
    from gatosuite.agent.runtime import resolve

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="cartpole,dmc-cartpole-balance")
    p.add_argument("--families", default=",".join(n for n in family_names() if get_family(n).can_act))
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--steps", type=int, default=60, help="timed steps per round")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--label", default="default")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    families = a.families.split(",")
    if "gato" not in families:
        raise SystemExit("error: --families must include gato, the reference of the ratio")
    precisions = a.precision.split(",")
    rt = resolve("cpu", precisions[0], workload="act")
    result = {"envs": a.envs, "steps": a.steps, "rounds": a.rounds, "threads": a.threads,
              "runtime": rt.to_dict(), "precisions": precisions, "tasks": {}}
    for task in a.tasks.split(","):
        stream = observations(task, a.envs, a.warmup + a.steps)
        with tempfile.TemporaryDirectory() as tmp:
            pols = {(name, prec): pol for prec in precisions
                    for name, pol in policies(task, families, Path(tmp) / prec, prec).items()}
            times = timed_rounds(pols, stream, a.envs, a.warmup, a.steps, a.rounds)
        med = {k: statistics.median(v) for k, v in times.items()}
        first, ref = precisions[0], med[("gato", precisions[0])]
        result["tasks"][task] = {n: {"ms_per_step": round(1e3 * med[(n, first)], 3),
                                     "ratio_to_gato": round(med[(n, first)] / ref, 3),
                                     "rounds_ms": [round(1e3 * x, 3) for x in times[(n, first)]]} for n in families}
        if len(precisions) > 1:
            for n in families:
                result["tasks"][task][n]["by_precision"] = {p: round(1e3 * med[(n, p)], 3) for p in precisions}
                result["tasks"][task][n]["ratio_to_first"] = {p: round(med[(n, p)] / med[(n, first)], 3)
                                                              for p in precisions}
        print(f"{task}: ms per step at {a.envs} envs (median of {a.rounds} rounds of {a.steps} steps), ratio to gato")
        for n in families:
            r = result["tasks"][task][n]
            rest = "".join(f"   {p} {r['by_precision'][p]:.2f} ms ({r['ratio_to_first'][p]:.2f}x)"
                           for p in precisions[1:])
            print(f"  {n:12s} {r['ms_per_step']:8.2f} ms   {r['ratio_to_gato']:5.2f}x{rest}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "act_latency.json"
    store = json.loads(path.read_text()) if path.is_file() else {}
    store[a.label] = result
    path.write_text(json.dumps(store, indent=1))
    print(f"wrote {path} (label {a.label})")


if __name__ == "__main__":
    main()
