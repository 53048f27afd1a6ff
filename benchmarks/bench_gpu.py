"""One prepared GPU check: train `gato-79m` on the GPU through the real trainer, report tokens/s and MFU
against a bf16 matmul peak measured in the same run, roll the checkpoint out as a batched KV-cache
policy in vector envs on the GPU, and load the GPU-written checkpoint on the CPU.

Run it once on a machine with an NVIDIA GPU:

    python benchmarks/bench_gpu.py                 # writes benchmarks/results/gpu.json

Where torch sees no CUDA device it says so and exits without measuring anything. `--smoke` runs the
same code path on the CPU with `nano` for a few steps (the test suite uses it, so the script cannot rot
on machines without a GPU); its numbers mean nothing and are not written to results/.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from gatosuite.agent.checkpoint import load_model
from gatosuite.agent.factory import make_policy
from gatosuite.agent.runtime import resolve
from gatosuite.agent.train import TrainArgs, train
from gatosuite.datasets.collect import collect
from gatosuite.evaluation.rollout import rollout
from gatosuite.tokenization import default_text_model


def matmul_peak(dtype: torch.dtype, device: torch.device, n: int = 8192, reps: int = 20) -> float:
    """Measured dense matmul FLOP/s at `dtype` on `device` (the MFU denominator)."""
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize(device) if device.type == "cuda" else None
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize(device) if device.type == "cuda" else None
    return 2 * n**3 * reps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="training steps of gato-79m")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--window", type=int, default=1024)
    ap.add_argument("--envs", type=int, default=32, help="vector envs in the batched rollout")
    ap.add_argument("--tasks", default="cartpole:40,dmc-cartpole-balance:10,mw-reach:10",
                    help="task:episodes to collect and train on (a machine without dm_control or Meta-World can pass "
                         "Gymnasium tasks only, e.g. cartpole:40,pendulum:10,reacher:10)")
    ap.add_argument("--rollout-task", default="mw-reach", help="task of the batched rollout (one of --tasks)")
    ap.add_argument("--smoke", action="store_true", help="CPU, nano, 3 steps: checks the script, measures nothing")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    a = ap.parse_args()
    if not a.smoke and not torch.cuda.is_available():
        print("bench_gpu: torch sees no CUDA GPU here (a CPU-only build or no driver), so there is nothing to "
              "measure; run this script on a machine with an NVIDIA GPU. Skipped.")
        return
    device = "cpu" if a.smoke else "cuda"
    preset_name, steps, batch, window, envs = (("nano", 3, 4, 120, 4) if a.smoke else
                                               ("gato-79m", a.steps, a.batch_size, a.window, a.envs))
    rt = resolve(device, "auto")
    work = a.work or Path(tempfile.mkdtemp(prefix="gatosuite-gpu-"))
    text = default_text_model(4096)
    plan = [(t, int(n)) for t, n in (item.rsplit(":", 1) for item in a.tasks.split(","))]
    if a.rollout_task not in [t for t, _ in plan]:
        sys.exit(f"error: --rollout-task '{a.rollout_task}' is not among --tasks; add it there")
    for task, n in plan:
        collect(task, 4 if a.smoke else n, work / "data", progress=False, noise=0.2 if task == "cartpole" else 0.0)

    # 1. training throughput through the real trainer (device, autocast, checkpoints)
    args = TrainArgs(tasks=",".join(t for t, _ in plan), root=work / "data", out=work / "run",
                     preset=preset_name, window=window, batch_size=batch, steps=steps, warmup=max(1, steps // 10),
                     log_every=max(1, steps // 3), val_every=0, ckpt_every=10**9, device=device)
    warm = train(TrainArgs(**{**args.__dict__, "out": work / "warm", "steps": 2}), text, progress=False)
    t0 = time.perf_counter()
    summary = train(args, text, progress=not a.smoke)
    seconds = time.perf_counter() - t0
    ckpt = work / "run" / "checkpoint"
    model, _ = load_model(ckpt, device=rt.device)
    tokens = steps * batch * window
    cfg = model.cfg
    flops_per_token = (6 * model.num_parameters() + 6 * cfg.n_layer * cfg.n_embd * window
                       + 6 * cfg.n_embd * cfg.vocab_size * 0.25)  # head at the ~25% of target positions
    peak = matmul_peak(torch.bfloat16 if rt.bf16 else torch.float32, rt.device, n=512 if a.smoke else 8192)
    train_tps = tokens / seconds

    # 2. batched KV-cache rollout on the device
    policy = make_policy(ckpt, a.rollout_task, device=device, precision=rt.precision)
    t0 = time.perf_counter()
    results = rollout(policy, a.rollout_task, list(range(1000, 1000 + envs)), num_envs=envs, progress=False)
    roll_s = time.perf_counter() - t0
    env_steps = sum(r.length for r in results)

    # 3. a checkpoint written on this device loads on the CPU
    cpu_model, _ = load_model(ckpt, device="cpu")
    same = all(torch.equal(p.detach().cpu(), q) for p, q in zip(model.parameters(), cpu_model.parameters()))

    result = {
        "device": torch.cuda.get_device_name(0) if not a.smoke else "cpu (smoke)", "machine": platform.machine(),
        "runtime": rt.to_dict(), "preset": preset_name, "non_embedding_params": model.num_parameters(),
        "batch": [batch, window], "steps": steps, "train_seconds": seconds, "tokens_per_s": train_tps,
        "trainer_tokens_per_s": summary.get("tokens_per_s"), "warmup_steps": warm["step"],
        "flops_per_token": flops_per_token, f"peak_{rt.precision}_flops": peak,
        "mfu": train_tps * flops_per_token / peak,
        "tasks": dict(plan),
        "rollout": {"task": a.rollout_task, "envs": envs, "episodes": len(results), "env_steps": env_steps,
                    "seconds": roll_s, "env_steps_per_s": env_steps / roll_s},
        "checkpoint_loads_on_cpu": same,
    }
    print(json.dumps(result, indent=2))
    if not same:
        sys.exit("bench_gpu: the checkpoint read back on the CPU differs from the GPU weights")
    if not a.smoke:
        out = Path(__file__).parent / "results" / "gpu.json"
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
