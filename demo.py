"""`gatosuite demo` (what `make demo` runs): the whole mission on embedded defaults, on a CPU.

1. collect expert episodes for a mix of 8 tasks in 5 domains (classic control, MuJoCo, dm_control,
   Meta-World, and BabyAI with text missions and images), plus the text and caption data;
2. train one `nano` generalist on all of it for a bounded time, and a second `nano` on a goal family
   (hidden-goal tasks, envs/hidden.py). Each schedule's length is fitted to its budget from the step rate
   measured in the first steps, so it ends inside the budget on any machine;
3. evaluate every trained task, with a video of each;
4. run the few-shot protocol on a held-out task (zero-shot, k-shot prompting, fine-tuning, scratch) and
   on the goal family's held-out goals (zero-shot against prompted, with a side-by-side video of one seed);
5. write eval_info.json and the report, and print where they are.

The time the rest of the demo will take is printed once training has measured its step rate, from that
rate and a measured decoding step, never from constants. Data and token caches live under --root and
are reused by later runs when unchanged; each run writes its own --out folder. `--quick` is a smoke run
bounded by steps, not minutes, so it does the same work on a fast or a slow machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from gatosuite.agent.defaults import default_device, default_precision
from gatosuite.agent.recipes import DEFAULT_RECIPE, get_recipe

if TYPE_CHECKING:  # torch loads only when the demo runs: `gatosuite --help` imports this module
    import torch

MIX = ["cartpole", "acrobot", "mountaincar-continuous", "inverted-pendulum", "dmc-cartpole-balance",
       "dmc-point_mass-easy", "mw-reach", "babyai-gotoredball"]
"""The default training mix of environment tasks (the text-lm and babyai-captions data join them)."""

NOISE = {"cartpole": 0.2, "inverted-pendulum": 0.2, "dmc-cartpole-balance": 0.2, "mountaincar-continuous": 0.2,
         "dmc-point_mass-easy": 0.2, "mw-reach": 0.2, "reacher-goal": 0.2}
"""DART-style action noise while collecting: the env plays a random action with this probability, and
every state is labelled with the expert's action. Experts of balance and reaching tasks otherwise never
leave their equilibrium, and a clone never sees the states it must recover from (README, "Learning the
demo mix"). Discrete-action and BabyAI demonstrations are the plain expert's. Noise alone was not enough for
inverted-pendulum and dmc-point_mass-easy: tasks with perturbed starts (envs/perturb.py) are also collected
from them, the cart anywhere in 80% of its rail and the point mass moving (see the demo's collection)."""

TRAINING = get_recipe(DEFAULT_RECIPE).fields()
"""How the demo trains: the default recipe, `gatosuite-2026` (agent/recipes.py), whose changes from Gato's
plain recipe are each measured in the README's ablation table (benchmarks/bench_ablation.py): packed
8-timestep segments, per-task observation standardization, value input embeddings, masked action inputs,
HL-Gauss action targets, and acting with the mean of the predicted bins near their mode ('mode-mean': the
plain mean falls between a bang-bang expert's two actions)."""

MIX_WEIGHTS = {"inverted-pendulum": 2.0, "dmc-point_mass-easy": 2.0, "babyai-gotoredball": 2.0, "mw-reach": 2.0,
               "text-lm": 0.5, "babyai-captions": 0.5}
"""Sampling weights in the demo's mix (others weigh 1). The ladder's third rung lost dmc-point_mass-easy
to the mix: 1.01 trained alone for 600 steps, 0.55 after 600 steps shared with dmc-cartpole-balance alone
(whose timesteps are as long), and 0.18-0.31 in the demo's uniform mix. BabyAI needs the most steps of
the MLP ceiling's tasks; mw-reach scored 0.35-0.46 over 30-50 episodes at weight 1 in four runs; the text
and caption data only keep the text modality alive. inverted-pendulum at weight 1 needs the steps of a fast
CPU: at 2,286 steps (the schedule of a 2-core AVX2 CPU) it scored 0.138 over 30 episodes, and 1.000 at
weight 2, with dmc-point_mass-easy (now with perturbed starts) down from 3 to 2 (0.886 to 0.804; mean of
the mix 0.816 to 0.926; that A/B had the goal family in the mix, the demo runs after it did not; README, "The
demo")."""

GOAL_FAMILY = "reacher-goal"
"""A goal family (hidden-goal tasks, envs/hidden.py), trained apart from the mix by a second `nano` on its 50 training
goals, half its windows opening with the end of a demonstration of the same goal; its 10 held-out goals are
the few-shot phase's last task, zero-shot against prompted with demonstrations of the episode's own goal,
with a side-by-side video. Trained in the mix (Gato's prompt probability, its share of the steps), it did
not learn to use a prompt (0.80 prompted against 0.83 zero-shot) and every such run lost inverted-pendulum
(0.17-0.35, against 0.86-1.00 without it; README, "The demo"). Its per-goal fine-tuning and scratch runs
and the oracle are left to benchmarks/bench_fewshot.py: they would not fit the demo's 25 minutes."""

GOAL_TRAINING = dict(prompt_prob=0.5, prompt_mode="end")
"""How the goal family's model is trained beyond TRAINING (also benchmarks/bench_fewshot.py's defaults)."""

EPISODES = {"babyai-gotoredball": 1000, GOAL_FAMILY: 1000, "mw-reach": 100, "inverted-pendulum": 100,
            "dmc-point_mass-easy": 100}
"""Episodes collected for tasks that need more than --episodes. A BabyAI GoToRedBall episode is about 6
steps: an MLP-and-CNN behaviour clone scored -0.05 on 20 of them and 0.87 on 1000
(benchmarks/bench_learning.py), which take about 10 s to collect. mw-reach episodes are 100 steps
(envs/suite.py): 100 of them hold as many timesteps as 20 did at Meta-World's 500, and 100 goals.
inverted-pendulum and dmc-point_mass-easy get 100 perturbed starts each: a Gato policy lost each of them by
drifting into states its 20 demonstrations never reached (the cart at the end of its rail; the mass pinned
against a wall, where it output a zero action and the expert a full push; README, "The demo")."""

FEWSHOT = ["dmc-cartpole-swingup"]
"""Held-out tasks for the few-shot protocol; each shares its observation format with a trained task.
babyai-pickupdist was dropped to make room for the goal family's model: it scored -0.087 zero-shot, prompted and
fine-tuned with k = 1 (no success in 10 episodes), and 4 of its demonstrations do not fit the context."""

QUICK_STEPS = 40
"""Training steps of `--quick` (a smoke run: the same work on every machine)."""


@dataclass
class DemoArgs:
    """Collect, train, evaluate, few-shot and report, end to end on embedded defaults."""

    out: Path | None = None
    """Output folder; default runs/demo-<timestamp>."""
    root: Path | None = None
    """Datasets and token caches, reused across runs; default data/demo (quick: data/demo-quick)."""
    quick: bool = False
    """A smoke run (for tests): 3 tasks, a few episodes, 40 training steps, whatever the machine's speed."""
    minutes: float = 12.5
    """Training budget of the generalist in minutes; the schedule is fitted to it (quick: 40 steps instead)."""
    goal_minutes: float = 2.5
    """Training budget of the goal family's model in minutes (quick: 40 steps instead)."""
    episodes: int = 20
    """Expert episodes collected per training task (quick: 4)."""
    eval_seed: int = 5000
    """First evaluation seed (episode i plays seed eval_seed + i, in evaluation and few-shot alike). The
    recipe, the sampling weights and the demo's settings were tuned on seeds 1000-1099, so the default
    scores on seeds none of them saw; pass 1000 to compare with runs recorded before 2026-12-02."""
    eval_episodes: int = 20
    """Evaluation episodes per trained task, seeds eval_seed onward, all played at once in one vector env (quick:
    3). Ten were too few to tell a task at 0.5 from one at 0.75: run w2's babyai-gotoredball scored 0.474 on
    seeds 1000-1009 and 0.724 on seeds 1000-1099 (README, "The demo")."""
    fewshot_episodes: int = 10
    """Evaluation episodes of each few-shot method and task (one per held-out goal of the goal family; quick: 2)."""
    ks: list[int] = field(default_factory=lambda: [1, 4])
    """Numbers of demonstrations for the few-shot protocol (quick: [1])."""
    fewshot_steps: int = 150
    """Training steps of few-shot fine-tuning and of the from-scratch baseline (quick: 5)."""
    preset: str = "nano"
    """Model preset."""
    window: int = 240
    """Tokens per training window and rollout context."""
    batch_size: int = 16
    """Windows per training step (also of few-shot fine-tuning)."""
    seed: int = 0
    """Seed of the model's initial weights and of the training sampler (the data and evaluation seeds stay
    fixed, so two runs with different seeds show the run-to-run spread)."""
    device: str = field(default_factory=default_device)
    """auto, cpu or cuda."""
    precision: str = field(default_factory=default_precision)
    """auto, fp32 or bf16 (auto: bf16 only where it is measured faster than fp32)."""

    def __post_init__(self) -> None:
        if self.quick:
            self.episodes, self.eval_episodes, self.fewshot_episodes = 4, 3, 2
            self.ks, self.fewshot_steps = [1], 5
        if self.root is None:
            self.root = Path("data/demo-quick" if self.quick else "data/demo")
        if self.out is None:
            self.out = Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if self.quick else ''}"


def step_seconds(model: torch.nn.Module, text, task_id: str, envs: int, rt) -> tuple[float, int]:
    """Measured seconds of one batched policy step (all model passes of one action for `envs` envs, and
    the envs' own step) on the real task, with the model as it is now; and the task's episode cap. The
    model's train/eval mode is restored, and no global random stream is drawn from."""
    import torch

    with torch.no_grad():
        return _step_seconds(model, text, task_id, envs, rt)


def _step_seconds(model: torch.nn.Module, text, task_id: str, envs: int, rt) -> tuple[float, int]:
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    from gatosuite.agent.factory import policy_from_model
    from gatosuite.envs import make_task_env

    was_training = model.training
    vec = SyncVectorEnv([lambda: make_task_env(task_id)] * envs, autoreset_mode=AutoresetMode.DISABLED)
    try:
        policy = policy_from_model(model, text, task_id, rt)
        obs, _ = vec.reset(seed=list(range(envs)))
        policy.reset(envs)
        times = []
        for _ in range(4):
            t0 = time.perf_counter()
            obs, _, term, trunc, _ = vec.step(policy.act(obs))
            times.append(time.perf_counter() - t0)
            if (term | trunc).any():
                break
        spec = vec.envs[0].spec
        cap = (spec.max_episode_steps if spec else None) or getattr(vec.envs[0].unwrapped, "max_steps", 1000)
    finally:
        vec.close()
        model.train(was_training)
    return min(times[1:] or times), int(cap)


class Estimate:
    """The demo's printed time estimate: the trainer's measured step rate for every training phase, and a
    measured policy step on each task for every rollout. Rollouts are counted at full episode length, so
    the estimate is an upper bound where a policy fails early."""

    def __init__(self, args: DemoArgs, mix: list[str], fewshot: list[str], text) -> None:
        self.args, self.mix, self.fewshot, self.text = args, mix, fewshot, text
        self.train_start = time.perf_counter()

    def _rollouts(self, model: torch.nn.Module, tasks: list[str], rt, episodes: int) -> float:
        total = 0.0
        for t in tasks:  # all episodes of a task run at once in one vector env
            per_step, cap = step_seconds(model, self.text, t, episodes, rt)
            total += cap * per_step
        return total

    def on_fit(self, model: torch.nn.Module, steps_per_s: float, schedule_steps: int, rt,
               training_left: float | None = None) -> None:
        """Called once the trainer has measured its step rate: prints what the rest of the demo will take."""
        a = self.args
        evaluate = self._rollouts(model, self.mix, rt, a.eval_episodes)
        methods = 1 + 3 * len(a.ks)  # zero-shot; prompting, fine-tuning and scratch per k
        goals = (1 + len(a.ks)) * self._rollouts(model, [f"{GOAL_FAMILY}-heldout"], rt,
                                                 a.fewshot_episodes)  # zero-shot and prompted
        fewshot = (len(self.fewshot) * len(a.ks) * 2 * a.fewshot_steps / steps_per_s
                   + methods * self._rollouts(model, self.fewshot, rt, a.fewshot_episodes) + goals)
        if training_left is None:
            training_left = (a.minutes + a.goal_minutes) * 60 - (time.perf_counter() - self.train_start)
        total = training_left + evaluate + fewshot
        end = time.strftime("%H:%M", time.localtime(time.time() + total))
        tqdm.write(f"measured {steps_per_s:.2f} training steps/s: the schedule spans {schedule_steps:,} steps. From "
                   f"that rate and a measured policy step per task, evaluation takes at most ~{evaluate / 60:.1f} "
                   f"min and few-shot ~{fewshot / 60:.1f} min: expect the demo to end within about "
                   f"{total / 60:.0f} minutes (by {end}).")


def demo(args: DemoArgs, progress: bool = True) -> Path:
    """Run the demo; returns the report's path."""
    from gatosuite.agent.runtime import resolve
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.datasets.captions import build_caption_cache
    from gatosuite.datasets.collect import collect
    from gatosuite.datasets.text_data import build_text_cache
    from gatosuite.envs import SUITE
    from gatosuite.evaluation.evaluate import EvalSettings, build_info, evaluate_tasks, write_outputs
    from gatosuite.evaluation.fewshot import fewshot_task
    from gatosuite.tokenization import default_text_model

    mix = MIX[:1] + MIX[-2:] if args.quick else MIX
    fewshot = FEWSHOT[:1] if args.quick else FEWSHOT
    out = Path(args.out)
    rt = resolve(args.device, args.precision)
    budget = f"{QUICK_STEPS} steps" if args.quick else f"{args.minutes:g} min"
    fewshot_ids = ", ".join(fewshot + [f"{GOAL_FAMILY}-heldout"])
    budget += "" if args.quick else f" + {args.goal_minutes:g} min for the {GOAL_FAMILY} goal family"
    print(f"gatosuite demo: {len(mix)} tasks + text and captions, {args.preset} for {budget} "
          f"on {rt.device} in {rt.precision}, few-shot on {fewshot_ids}. The time the rest takes is printed once "
          f"training has measured its step rate.\noutput: {out}", flush=True)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    text = default_text_model(4096)
    for task_id in tqdm(mix + [GOAL_FAMILY], desc="collect", unit="task", disable=not progress):
        # the demo owns its data folder: data from another version of the demo is replaced, and a killed
        # collection resumes from its staged chunks
        n = args.episodes if args.quick else EPISODES.get(task_id, args.episodes)
        collect(task_id, n, args.root, noise=NOISE.get(task_id, 0.0), progress=False,
                replace_mismatched=True, resume=True, perturb_start=bool(SUITE[task_id].start_spread))
    build_text_cache(args.root, text)
    build_caption_cache(args.root, text)
    timings["collect_s"] = time.perf_counter() - t

    t = time.perf_counter()
    est = Estimate(args, mix, fewshot, text)
    train_tasks = mix + ["text-lm", "babyai-captions"]
    weights = [f"{t}={w}" for t, w in MIX_WEIGHTS.items() if t in train_tasks]
    common = dict(tasks=",".join(train_tasks), root=args.root, out=out / "train", preset=args.preset,
                  window=args.window, batch_size=args.batch_size, device=args.device, precision=args.precision,
                  seed=args.seed, task_weights=weights, **TRAINING)
    goal = dict(common, tasks=GOAL_FAMILY, out=out / "goal-family", task_weights=[], **GOAL_TRAINING)
    if args.quick:
        smoke = dict(steps=QUICK_STEPS, warmup=4, log_every=5, val_every=20, ckpt_every=20)
        targs, gargs = TrainArgs(**common, **smoke), TrainArgs(**goal, **smoke)
    else:  # the schedule's length is fitted to the budget; logging intervals are in steps of a typical run
        targs = TrainArgs(**common, steps=100_000, minutes=args.minutes, fit_schedule=True, warmup=100,
                          log_every=25, val_every=250, ckpt_every=250)
        gargs = TrainArgs(**goal, steps=100_000, minutes=args.goal_minutes, fit_schedule=True, warmup=50,
                          log_every=25, val_every=100, ckpt_every=250)
    summary = train(targs, text, progress=progress,
                    on_fit=None if args.quick else lambda model, rate, total: est.on_fit(model, rate, total, rt))
    timings["train_s"] = time.perf_counter() - t
    t = time.perf_counter()
    gsummary = train(gargs, text, progress=progress)
    timings["train_goal_s"] = time.perf_counter() - t
    ckpt = out / "train" / "checkpoint"
    if args.quick:  # no schedule to fit: estimate the rest from the rate of the steps just run
        from gatosuite.agent.checkpoint import load_model

        est.on_fit(load_model(ckpt, device=rt.device)[0], summary["step"] / summary["seconds"], summary["step"], rt,
                   training_left=0.0)
    print(f"trained {summary['step']:,} steps (schedule {summary['schedule_steps']:,}) in "
          f"{timings['train_s'] / 60:.1f} min, and the {GOAL_FAMILY} model {gsummary['step']:,} steps in "
          f"{timings['train_goal_s'] / 60:.1f} min", flush=True)

    t = time.perf_counter()
    s = EvalSettings(episodes=args.eval_episodes, envs=args.eval_episodes, seed=args.eval_seed,
                     reps=300 if args.quick else 2000, device=args.device, precision=args.precision,
                     extra={"demo": {"mix": mix, "noise": NOISE, "seed": args.seed, "training": TRAINING,
                                     "weights": weights, "goal_family": {"task": GOAL_FAMILY, **GOAL_TRAINING},
                                     "train": {k: v for k, v in summary.items() if isinstance(v, (int, float))},
                                     "train_goal": {k: v for k, v in gsummary.items()
                                                    if isinstance(v, (int, float))}}})
    tasks = evaluate_tasks(ckpt, mix, out, s, progress=progress)
    timings["evaluate_s"] = time.perf_counter() - t
    fs = replace(s, episodes=args.fewshot_episodes, envs=args.fewshot_episodes)

    t = time.perf_counter()
    few = {}
    for task_id in fewshot:
        few[task_id] = fewshot_task(ckpt, task_id, args.root, out / "fewshot", args.ks, fs,
                                    steps=args.fewshot_steps, progress=progress)
    few[f"{GOAL_FAMILY}-heldout"] = fewshot_task(out / "goal-family" / "checkpoint", f"{GOAL_FAMILY}-heldout",
                                                 args.root, out / "fewshot", args.ks, fs, progress=progress,
                                                 adapt=False, video_dir=out / "fewshot")
    timings["fewshot_s"] = time.perf_counter() - t

    info = build_info(ckpt, tasks, s, few, timings)
    paths = write_outputs(info, out, out / "train" / "train.csv")
    agg = info.get("aggregate", {}).get("overall", {})
    print("\nphase timings: " + ", ".join(f"{k[:-2]} {v / 60:.1f} min" for k, v in timings.items()))
    if agg:
        from gatosuite.evaluation.aggregate_text import describe_aggregate

        print(f"trained tasks: mean normalized {agg['mean']:.3f}, IQM {agg['iqm']:.3f} "
              f"[{agg['iqm_ci'][0]:.3f}, {agg['iqm_ci'][1]:.3f}], {agg['frac_ge_50']:.0%} of tasks >= 0.5\n"
              f"  {describe_aggregate(agg)}")
    print(f"report: {paths['markdown']}\n        {paths['html']}")
    return paths["markdown"]
