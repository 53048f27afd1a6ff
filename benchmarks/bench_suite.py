"""The generalist at suite scale: collect every training task whose expert meets its bar, train one model on
all of them for a fixed wall-clock budget, and score it in the envs with per-domain IQMs and 95% CIs.

    python benchmarks/bench_suite.py                          # CPU: nano, 60 minutes -> results/suite-nano.json
    python benchmarks/bench_suite.py --device cuda --preset gato-79m --batch-size 32 --window 1024
                                                              # a GPU: the same job at gato-79m

Collection is resumable and shared between runs (--root); a killed run collects only what is missing. The
aggregates are over tasks (each task's score is its mean over --eval-episodes seeded episodes, seeds 1000 on,
which no recipe was tuned on), as everywhere in evaluation/. `--smoke` runs the whole path with two tasks,
a few steps and one episode each (the test suite uses it); its numbers mean nothing and are not written.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from gatosuite.agent.train import TrainArgs, train
from gatosuite.envs import SUITE
from gatosuite.evaluation.evaluate import EvalSettings, evaluate_tasks
from gatosuite.evaluation.scores import by_domain
from gatosuite.raytools import init_ray
from gatosuite.tokenization import default_text_model


def suite_training_tasks() -> list[str]:
    """Env tasks of the default training split whose expert has a reference row that meets its bar (or that has
    no bar, as finger-spin once had): the set a user would train a generalist on."""
    out = []
    for t in SUITE.training_tasks():
        if not t.is_env or t.expert is None or t.goal_family:
            continue
        ref = t.reference()
        if ref and ref.get("bar_met") is not False:
            out.append(t.id)
    return out


def collect_all(tasks: list[str], episodes: int, root: Path, workers: int) -> float:
    """Collect (or finish collecting) `episodes` per task; returns the seconds spent."""
    t0 = time.perf_counter()
    if workers > 1:
        from gatosuite.datasets.collect_ray import collect_tasks

        collect_tasks(tasks, episodes, root, workers, resume=True)
    else:
        from gatosuite.datasets.collect import collect

        for t in tasks:
            collect(t, episodes, root, resume=True, progress=False)
    return time.perf_counter() - t0


STATE = "bench_state.json"
"""In the run folder: the training seconds spent so far and every task evaluated so far, so a killed run
resumes where it stopped (training from its checkpoint with the budget left, evaluation task by task)."""


def _load_state(run: Path) -> dict:
    path = run / STATE
    return json.loads(path.read_text()) if path.is_file() else {"train_seconds": 0.0, "trained": False, "eval": {}}


def _save_state(run: Path, state: dict) -> None:
    tmp = run / f".{STATE}.tmp"
    tmp.write_text(json.dumps(state, indent=1, default=float))
    tmp.replace(run / STATE)


def train_phase(a: argparse.Namespace, tasks: list[str], run: Path, state: dict) -> dict:
    """Train for what is left of the budget: a killed slice counts up to its last checkpoint's time."""
    if state["trained"]:
        return state["train_summary"]
    resume = (run / "checkpoint").is_dir()
    if resume and "slice_start" in state:  # the killed slice's time, up to its last checkpoint
        state["train_seconds"] += max(0.0, (run / "checkpoint").stat().st_mtime - state["slice_start"])
    left = a.minutes - state["train_seconds"] / 60
    state["slice_start"] = time.time()
    _save_state(run, state)
    args = TrainArgs(tasks=",".join(tasks), root=a.root, out=run, preset=a.preset, batch_size=a.batch_size,
                     window=a.window, device=a.device, val_every=0, resume=resume,
                     **({"steps": 4, "warmup": 1, "log_every": 2} if a.smoke else
                        {"steps": 10**7, "minutes": max(left, 0.01), "fit_schedule": True, "ckpt_every": 500}))
    t0 = time.perf_counter()
    summary = train(args, default_text_model(4096), progress=not a.smoke)
    state["train_seconds"] += time.perf_counter() - t0
    state.pop("slice_start")
    state.update(trained=True, train_summary={k: summary.get(k) for k in ("step", "tokens_per_s", "loss")})
    _save_state(run, state)
    return state["train_summary"]


def _evaluate_task(checkpoint: str, task: str, settings: EvalSettings, out: str) -> dict:
    """One task's evaluation entry (also a Ray task: Ray ships this function to its workers by value)."""
    return evaluate_tasks(Path(checkpoint), [task], Path(out), settings, progress=False)[task]


def evaluate_phase(a: argparse.Namespace, tasks: list[str], run: Path, state: dict, episodes: int) -> float:
    """Score every task not scored yet, saving after each; the seconds this call spent. With --eval-workers K > 1
    the tasks run as Ray tasks of one CPU each, K at a time (a task's episodes are seeded, so where it runs
    changes nothing in its scores)."""
    settings = EvalSettings(episodes=episodes, envs=episodes, video=False, device=a.device,
                            reps=200 if a.smoke else 2000)
    todo = [t for t in tasks if t not in state["eval"]]
    t0 = time.perf_counter()
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="evaluate", unit="task", disable=a.smoke)
    args = (str(run / "checkpoint"), settings, str(run / "eval"))
    if a.eval_workers <= 1:
        for t in todo:
            state["eval"][t] = _evaluate_task(args[0], t, *args[1:])
            _save_state(run, state)
            bar.update()
    else:
        init_ray(a.eval_workers)
        import ray

        remote = ray.remote(num_cpus=1, max_retries=2)(_evaluate_task)
        pending: dict = {}
        while todo or pending:
            while todo and len(pending) < a.eval_workers:
                t = todo.pop(0)
                pending[remote.remote(args[0], t, *args[1:])] = t
            [ref], _ = ray.wait(list(pending), num_returns=1)
            state["eval"][pending.pop(ref)] = ray.get(ref)
            _save_state(run, state)
            bar.update()
    bar.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="nano")
    ap.add_argument("--minutes", type=float, default=60.0, help="training budget (wall clock, over resumes)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--episodes", type=int, default=20, help="expert episodes collected per task")
    ap.add_argument("--eval-episodes", type=int, default=10, help="episodes per task in the evaluation")
    ap.add_argument("--workers", type=int, default=2, help="Ray actors for collection (1: in this process)")
    ap.add_argument("--eval-workers", type=int, default=2, help="Ray tasks evaluating at once (1: in this process)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--root", type=Path, default=Path("data/suite"), help="collected datasets (shared, resumable)")
    ap.add_argument("--work", type=Path, default=Path("runs/suite"), help="run folder (rerun to resume it)")
    ap.add_argument("--smoke", action="store_true", help="two tasks, 4 steps: checks the script only")
    a = ap.parse_args()

    tasks = suite_training_tasks()
    if a.smoke:  # two short-episode tasks of two domains (an untrained policy drops the pole within ~10 steps)
        tasks = [t for t in ("cartpole", "mw-reach") if t in tasks]
    episodes, eval_episodes = (2, 1) if a.smoke else (a.episodes, a.eval_episodes)
    collect_s = collect_all(tasks, episodes, a.root, 1 if a.smoke else a.workers)
    run = a.work / a.preset
    run.mkdir(parents=True, exist_ok=True)
    state = _load_state(run)
    summary = train_phase(a, tasks, run, state)
    eval_s = evaluate_phase(a, tasks, run, state, eval_episodes)
    scored = {t: np.array([e["normalized"] for e in state["eval"][t]["episodes"]]) for t in tasks}
    agg = by_domain(scored, reps=200 if a.smoke else 2000)

    result = {
        "recorded": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": platform.processor()
        or platform.machine(), "cpus": torch.get_num_threads(), "device": a.device, "preset": a.preset,
        "tasks": len(tasks), "tasks_per_domain": {d: sum(SUITE[t].domain == d for t in tasks)
                                                 for d in sorted({SUITE[t].domain for t in tasks})},
        "episodes_per_task": episodes, "eval_episodes": eval_episodes, "train_minutes": a.minutes,
        "steps": summary.get("step"), "tokens_per_s": summary.get("tokens_per_s"),
        "seconds": {"collect": collect_s, "train": state["train_seconds"], "evaluate_last_call": eval_s},
        "aggregate": agg, "per_task_normalized": {t: float(v.mean()) for t, v in scored.items()},
    }
    print(json.dumps({k: result[k] for k in ("tasks", "tasks_per_domain", "steps", "seconds")}, indent=2))
    for d, v in agg["per_domain"].items():
        ci = "" if v["iqm_ci"] is None else f"  [{v['iqm_ci'][0]:.3f}, {v['iqm_ci'][1]:.3f}]"
        print(f"{d:<10} IQM {v['iqm']:.3f}{ci}  ({v['n_tasks']} tasks)")
    if not a.smoke:
        out = Path(__file__).parent / "results" / f"suite-{a.preset}.json"
        out.write_text(json.dumps(result, indent=2, default=float))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
