"""The continual comparison's runs as independent jobs, one after another in this process or at once on Ray.

A family's runs over its training seeds split into parts that share nothing while they run:
- per seed, the sequence itself (`continual_run.run_stages`: its stages one after another, each from the last);
- per seed and later task, that task's reference run alone from scratch (`continual_run.run_reference`);
- for the pseudo-family gato-multitask, one run per seed (`multitask_success`).

Each part writes its own record under <out>/<family>/seed<k>, so the parts can run in any order and at the same
time, and the family's row is assembled from the records once all are done. `workers=1` runs them one after
another in this process (torch on every core); `workers=K` runs them as Ray tasks of one CPU and one torch thread
each, K at a time (raytools.job_runner), on a local Ray kept on loopback or on the cluster at `address`, whose
nodes must then see the output folder and the data root at the same paths (a shared filesystem). The sequences
are submitted first: they are the longest jobs, and the reference runs fill the gaps. A killed comparison
resumes: every job skips what its records hold.

On one CPU the parts are small (a nano model, batches of 16 windows, 5 envs of rollouts), and two one-thread
processes do more work together than one process on both cores: the docs' continual page measures it.

What changes with the number of workers is only the torch threads a job runs on: the precision is resolved once,
in the caller (`auto` is measured there, not by each worker on a busy machine), and written into the settings.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from gatosuite.atomic import write_json
from gatosuite.evaluation.continual_run import ContinualSettings
from gatosuite.raytools import job_runner

MULTITASK = "gato-multitask"
"""The upper-bound baseline: Gato trained on the whole sequence at once."""

TEXT_MODEL = "text-model"
"""Folder under the comparison's output where the text model is written once, for every job to load."""


def family_jobs(name: str, base: ContinualSettings, train_seeds: int, root: Path, out: Path) -> list[dict[str, Any]]:
    """Every job of one family's runs, as plain data: the sequences of all seeds first, then the rest."""
    settings = {**base.__dict__, "tasks": list(base.tasks), "model": "gato" if name == MULTITASK else name}

    def job(kind: str, seed: int, task: str | None = None) -> dict[str, Any]:
        return {"kind": kind, "family": name, "task": task, "settings": {**settings, "train_seed": seed},
                "root": str(root), "work": str(out / name / f"seed{seed}")}

    if name == MULTITASK:
        return [job("multitask", k) for k in range(train_seeds)]
    return ([job("stages", k) for k in range(train_seeds)]
            + [job("reference", k, t) for k in range(train_seeds) for t in base.tasks[1:]])


def multitask_success(s: ContinualSettings, root: Path, work: Path, text_model: Any) -> list[float]:
    """Gato trained on all of `s.tasks` at once for `s.steps` per task; its success on each task at the end.
    Resumable: a finished run's scores are read back from `work`/multitask.json."""
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.evaluation.continual_run import success

    record = work / "multitask.json"
    if record.is_file():
        return list(json.loads(record.read_text())["success"])
    work.mkdir(parents=True, exist_ok=True)
    steps = s.steps * len(s.tasks)
    args = TrainArgs(tasks=",".join(s.tasks), root=root, out=work / "train", model="gato", preset=s.preset,
                     steps=steps, batch_size=s.batch_size, window=s.window, warmup=max(1, steps // 10),
                     val_every=0, log_every=max(1, steps // 10), ckpt_every=10**9, seed=s.train_seed,
                     device=s.device, precision=s.precision, resume=(work / "train" / "checkpoint").exists())
    train(args, text_model, progress=False)
    scores = [success(work / "train" / "checkpoint", t, s) for t in s.tasks]
    write_json(record, {"tasks": list(s.tasks), "success": scores}, "free space on that disk, then rerun (it resumes)")
    return scores


def run_job(job: dict[str, Any], text_model: Any = None) -> dict[str, Any]:
    """One job (a top-level function: a Ray worker imports it by name); returns what it measured. The text
    model is `text_model` in this process, or loaded from job["text_model"] in a Ray worker."""
    import torch

    from gatosuite.evaluation import continual_run as cr
    from gatosuite.tokenization.text import TextModel

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    s = ContinualSettings(**{**job["settings"], "tasks": tuple(job["settings"]["tasks"])})
    root, work = Path(job["root"]), Path(job["work"])
    text = TextModel.load(job["text_model"]) if job.get("text_model") else text_model
    if job["kind"] == "multitask":
        return {"success": multitask_success(s, root, work, text)}
    resume = True  # every part skips what its records hold (a comparison always goes on from where it stopped)
    if job["kind"] == "stages":
        cr.run_stages(s, root, work, text, resume)
        return {}
    return {"curve": cr.run_reference(s, job["task"], root, work, text, resume)}


def run_jobs(jobs: list[dict[str, Any]], text_model: Any, out: Path, workers: int = 1,
             address: str | None = None, label: str = "") -> list[dict[str, Any]]:
    """Run `jobs` (from `family_jobs`) in this process or on Ray; their results, in job order."""
    if workers > 1 or address:  # one CPU and one torch thread a job; the workers load the text model from disk
        path = str(text_model.save(out / TEXT_MODEL))
        jobs = [{**j, "threads": 1, "text_model": path} for j in jobs]
        run = job_runner(run_job, workers, address)
    else:
        run = job_runner(functools.partial(run_job, text_model=text_model))
    with tqdm(total=len(jobs), desc=f"continual {label}".strip(), unit="job") as bar:
        def done(finished: int) -> None:
            bar.n = finished
            bar.set_postfix_str(f"{finished}/{len(jobs)} jobs, {workers} worker{'s' * (workers != 1)}")
            bar.refresh()

        return run(jobs, done)
