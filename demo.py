"""`gatosuite demo` (what `make demo` runs): the whole mission on embedded defaults, on a CPU.

1. collect expert episodes for a mix of 8 tasks in 5 domains (classic control, MuJoCo, dm_control,
   Meta-World, and BabyAI with text missions and images), plus the text and caption data;
2. train one `nano` generalist on all of it for a bounded time;
3. evaluate every trained task, with a video of each;
4. run the few-shot protocol on 2 held-out tasks (zero-shot, k-shot prompting, fine-tuning, scratch);
5. write eval_info.json and the report, and print where they are.

Data and token caches live under --root and are reused by later runs when unchanged; each run writes
its own --out folder. `--quick` shrinks everything to a smoke run of a few minutes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

MIX = ["cartpole", "acrobot", "mountaincar-continuous", "inverted-pendulum", "dmc-cartpole-balance",
       "dmc-point_mass-easy", "mw-reach", "babyai-gotoredball"]
"""The default training mix of environment tasks (the text-lm and babyai-captions data join them)."""

NOISE = {"cartpole": 0.2, "inverted-pendulum": 0.2, "dmc-cartpole-balance": 0.2}
"""DART-style action noise while collecting balance tasks, whose experts otherwise never leave the
equilibrium (see README, "Learning CartPole"). Other tasks' demonstrations are the plain expert's."""

FEWSHOT = ["dmc-cartpole-swingup", "babyai-pickupdist"]
"""Held-out tasks for the few-shot protocol; each shares its observation format with a trained task."""


@dataclass
class DemoArgs:
    """Collect, train, evaluate, few-shot and report, end to end on embedded defaults."""

    out: Path | None = None
    """Output folder; default runs/demo-<timestamp>."""
    root: Path | None = None
    """Datasets and token caches, reused across runs; default data/demo (quick: data/demo-quick)."""
    quick: bool = False
    """A smoke run in about 2-3 minutes (for tests): 3 tasks, a few episodes, a few training steps."""
    minutes: float = 12.0
    """Training budget in minutes (quick: 0.3)."""
    episodes: int = 20
    """Expert episodes collected per training task (quick: 4)."""
    eval_episodes: int = 5
    """Evaluation episodes per task, seeds 1000 onward (quick: 2)."""
    ks: list[int] = field(default_factory=lambda: [1, 4])
    """Numbers of demonstrations for the few-shot protocol (quick: [1])."""
    fewshot_steps: int = 150
    """Training steps of few-shot fine-tuning and of the from-scratch baseline (quick: 5)."""
    preset: str = "nano"
    """Model preset."""
    window: int = 240
    """Tokens per training window and rollout context."""

    def __post_init__(self) -> None:
        if self.quick:
            self.minutes, self.episodes, self.eval_episodes = min(self.minutes, 0.3), 4, 2
            self.ks, self.fewshot_steps = [1], 5
        if self.root is None:
            self.root = Path("data/demo-quick" if self.quick else "data/demo")
        if self.out is None:
            self.out = Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if self.quick else ''}"


def demo(args: DemoArgs, progress: bool = True) -> Path:
    """Run the demo; returns the report's path."""
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.datasets.captions import build_caption_cache
    from gatosuite.datasets.collect import collect
    from gatosuite.datasets.text_data import build_text_cache
    from gatosuite.evaluation.evaluate import EvalSettings, build_info, evaluate_tasks, write_outputs
    from gatosuite.evaluation.fewshot import fewshot_task
    from gatosuite.tokenization import default_text_model

    mix = MIX[:1] + MIX[-2:] if args.quick else MIX
    fewshot = FEWSHOT[:1] if args.quick else FEWSHOT
    out = Path(args.out)
    est = 0.5 + args.minutes + (1.0 if args.quick else 9.0)  # measured: 21.4 min in all for 12 min of training
    print(f"gatosuite demo: {len(mix)} tasks + text and captions, {args.preset} for {args.minutes:g} min, "
          f"few-shot on {', '.join(fewshot)}; expect about {est:.0f} minutes in all on 2 CPU cores.\n"
          f"output: {out}", flush=True)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    text = default_text_model(4096)
    for task_id in tqdm(mix, desc="collect", unit="task", disable=not progress):
        collect(task_id, args.episodes, args.root, noise=NOISE.get(task_id, 0.0), progress=False)
    build_text_cache(args.root, text)
    build_caption_cache(args.root, text)
    timings["collect_s"] = time.perf_counter() - t

    t = time.perf_counter()
    steps = 40 if args.quick else 100_000  # the time budget ends the run; the schedule spans the budget
    est_steps = max(20, int(args.minutes * 60 * 4.0))  # nano at 16 x 240 on this mix: ~4 steps/s on 2 cores
    targs = TrainArgs(tasks=",".join(mix + ["text-lm", "babyai-captions"]), root=args.root, out=out / "train",
                      preset=args.preset, window=args.window, steps=min(steps, est_steps), minutes=args.minutes,
                      warmup=min(100, est_steps // 10), log_every=max(5, est_steps // 100),
                      val_every=max(20, est_steps // 10), ckpt_every=max(50, est_steps // 5))
    summary = train(targs, text, progress=progress)
    timings["train_s"] = time.perf_counter() - t
    ckpt = out / "train" / "checkpoint"

    t = time.perf_counter()
    s = EvalSettings(episodes=args.eval_episodes, envs=min(5, args.eval_episodes),
                     reps=300 if args.quick else 2000,
                     extra={"demo": {"mix": mix, "noise": NOISE, "train": {k: v for k, v in summary.items()
                                                                          if isinstance(v, (int, float))}}})
    tasks = evaluate_tasks(ckpt, mix, out, s, progress=progress)
    timings["evaluate_s"] = time.perf_counter() - t

    t = time.perf_counter()
    few = {}
    for task_id in fewshot:
        few[task_id] = fewshot_task(ckpt, task_id, args.root, out / "fewshot", args.ks, s,
                                    steps=args.fewshot_steps, progress=progress)
    timings["fewshot_s"] = time.perf_counter() - t

    info = build_info(ckpt, tasks, s, few, timings)
    paths = write_outputs(info, out, out / "train" / "train.csv")
    agg = info.get("aggregate", {}).get("overall", {})
    print("\nphase timings: " + ", ".join(f"{k[:-2]} {v / 60:.1f} min" for k, v in timings.items()))
    if agg:
        print(f"trained tasks: mean normalized {agg['mean']:.3f}, IQM {agg['iqm']:.3f} "
              f"[{agg['iqm_ci'][0]:.3f}, {agg['iqm_ci'][1]:.3f}], {agg['frac_ge_50']:.0%} of tasks >= 0.5")
    print(f"report: {paths['markdown']}\n        {paths['html']}")
    return paths["markdown"]
