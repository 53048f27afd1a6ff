"""`gatosuite compare --continual`: several families through the continual protocol on one sequence, seeds and
budget, and the continual table.

Each family runs the protocol of evaluation/continual_run.py once per training seed (tasks one at a time, the
same steps each, no replay of an earlier task's data), into `<out>/<family>/seed<k>`, as independent jobs
(evaluation/continual_jobs.py: in this process, or `--workers K` at once on Ray); a killed comparison resumes
there, stage by stage. The pseudo-family `gato-multitask` is the reference upper bound: Gato trained on all the
sequence's tasks at once, for the same total steps (steps per task × tasks), scored on every task at the end;
it has no order, so only its performance is defined.

The report (`continual.json`, `continual.md` and one heat map per family, `<family>-success.png`) gives
success on every task after each arrival, then performance, forgetting and forward transfer with 95%
percentile-bootstrap CIs over the training seeds (evaluation/continual.py), the parameters added per task, and
the seed table's entries for the family (modules, year, how it handles an unseen task).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from gatosuite.atomic import write_json
from gatosuite.errors import ConfigError
from gatosuite.evaluation.continual import ContinualRun, seed_ci, summarize
from gatosuite.evaluation.continual_jobs import MULTITASK, family_jobs, run_jobs
from gatosuite.evaluation.continual_run import CW10, ContinualSettings

SEQUENCES: dict[str, tuple[str, ...]] = {
    "cw3": ("mw-reach", "mw-window-close", "mw-drawer-close"),
    "cw10": tuple(f"mw-{t}" for t in CW10),
}
"""Named sequences. cw10 is Continual World's CW10 in its order; cw3, for a CPU, is three short Meta-World
tasks (reach, and two of CW10's and MT10's one-motion tasks) whose scripted experts succeed on every seed."""


def sequence_tasks(sequence: str) -> tuple[str, ...]:
    """A named sequence, or comma-separated task ids in arrival order."""
    if sequence in SEQUENCES:
        return SEQUENCES[sequence]
    tasks = tuple(t for t in sequence.split(",") if t)
    if len(tasks) < 2:
        raise ConfigError(f"--sequence must name a sequence ({', '.join(SEQUENCES)}) or list at least two task "
                          f"ids, got '{sequence}'")
    return tasks


def multitask_row(scores: list[list[float]], tasks: tuple[str, ...]) -> dict[str, Any]:
    """The upper bound's row: final success per task (mean over seeds) and its performance with a seed CI."""
    perf = seed_ci([float(np.mean(s)) for s in scores])
    final = np.mean(np.asarray(scores, dtype=np.float64), axis=0)
    return {"tasks": list(tasks), "seeds": len(scores), "final_success": final.tolist(),
            "performance": {"mean": perf.mean, "ci": perf.ci, "seeds": perf.seeds}, "forgetting": None,
            "forward_transfer": None, "params_added": [], "per_seed_success": scores}


def family_row(name: str, runs: list[ContinualRun]) -> dict[str, Any]:
    """A family's row: summarize's metrics, with the seed table's entries."""
    from gatosuite.agent.families import get_family

    row = summarize(runs)
    fam = get_family(name)
    row["seed_table"] = {"modules": fam.modules, "year": fam.year, "unseen": fam.unseen}
    return row


def heat_map(row: dict[str, Any], name: str, path: Path) -> Path:
    """Success on each task (columns) after each arrival (rows), mean over seeds; tasks not yet seen blank."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.array([[np.nan if v is None else v for v in r] for r in row["success_matrix"]], dtype=np.float64)
    tasks = row["tasks"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(tasks), 1.0 + 0.7 * len(tasks)))
    im = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if np.isfinite(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", color="w" if m[i, j] < 0.6 else "k")
    short = [t.removeprefix("mw-") for t in tasks]
    ax.set_xticks(range(len(tasks)), short, rotation=45, ha="right")
    ax.set_yticks(range(len(tasks)), [f"after {t}" for t in short])
    ax.set_title(f"{name}\nsuccess after each arrival ({row['seeds']} seed{'s' * (row['seeds'] != 1)})", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def search_row(works: list[Path]) -> dict[str, Any]:
    """What the family's searches did, over its seeds' runs: the candidate steps at each later task's start
    (mean over seeds; on top of the stage's steps) and, per task, each seed's search record. Empty with none."""
    per_task: dict[str, list[dict[str, Any]]] = {}
    for work in works:
        for stage in json.loads((work / "continual.json").read_text())["stages"]:
            if stage.get("search"):
                per_task.setdefault(stage["task"], []).append(stage["search"])
    if not per_task:
        return {}
    return {"search_steps": {t: float(np.mean([r["candidate_steps"] for r in rs])) for t, rs in per_task.items()},
            "searches": per_task}


def _fmt(metric: dict[str, Any] | None) -> str:
    if metric is None:
        return "n/a"
    if metric["mean"] is None or not np.isfinite(metric["mean"]):
        return "undefined"
    ci = metric.get("ci")
    return f"{metric['mean']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else " (1 seed)")


def _minutes(row: dict[str, Any]) -> str:
    if "wall_seconds" not in row:
        return "n/a"
    return f"{row['wall_seconds'] / 60:.1f}" + (" (resumed)" if row.get("resumed") else "")


def continual_markdown(store: dict[str, Any]) -> str:
    """The continual table, then each family's success matrix."""
    s = store["settings"]
    lines = [f"# Continual comparison: {', '.join(s['tasks'])}", "",
             f"{s['steps']} training steps per task, seeds {s['train_seeds']}, success over {s['episodes']} "
             f"episodes from seed {s['seed']}; 95% percentile-bootstrap CIs over training seeds.", "",
             "| family | modules | year | unseen tasks | performance | forgetting | forward transfer | "
             "params added per task | minutes |", "|---|---|---|---|---|---|---|---|---|"]
    for name, row in store["families"].items():
        st = row.get("seed_table", {"modules": "Gato, all tasks at once", "year": 2022, "unseen": "n/a"})
        params = ", ".join(f"{p:,.0f}" for p in row["params_added"]) or "0"
        lines.append(f"| {name} | {st['modules']} | {st['year']} | {st['unseen']} | {_fmt(row['performance'])} | "
                     f"{_fmt(row['forgetting'])} | {_fmt(row['forward_transfer'])} | {params} | {_minutes(row)} |")
    searched = {name: row["search_steps"] for name, row in store["families"].items() if row.get("search_steps")}
    if searched:
        lines += ["", f"Searches ({s['search']} generations at each later task's start; candidates of "
                      f"{s['search_steps']} steps, on top of the {s['steps']} per task): " + "; ".join(
                          f"{name} {', '.join(f'{v:.0f}' for v in steps.values())} candidate steps"
                          for name, steps in searched.items()) + "."]
    for name, row in store["families"].items():
        lines += ["", f"## {name}", ""]
        tasks = [t.removeprefix("mw-") for t in row["tasks"]]
        if "success_matrix" not in row:
            lines += ["Final success: " + ", ".join(f"{t} {v:.2f}" for t, v in zip(tasks, row["final_success"]))]
            continue
        lines += [f"![{name}]({name}-success.png)", "", "| after \\ on | " + " | ".join(tasks) + " |",
                  "|---|" + "---|" * len(tasks)]
        for t, r in zip(tasks, row["success_matrix"]):
            lines.append(f"| {t} | " + " | ".join("" if v is None else f"{v:.2f}" for v in r) + " |")
    return "\n".join(lines) + "\n"


def compare_continual(models: list[str], tasks: tuple[str, ...], root: Path, out: Path, train_seeds: int,
                      base: ContinualSettings, text_model: Any, workers: int = 1,
                      address: str | None = None) -> Path:
    """Run (or resume) every family over `tasks` for `train_seeds` seeds; returns the path of continual.md.
    The runs of a family go as independent jobs (evaluation/continual_jobs.py): one after another here with
    `workers=1`, else on Ray, `workers` at a time (or on the cluster at `address`)."""
    import dataclasses

    from tqdm.auto import tqdm

    from gatosuite.agent.families import get_family
    from gatosuite.agent.runtime import resolve
    from gatosuite.evaluation.continual_run import assemble

    for name in models:
        if name != MULTITASK:
            get_family(name)  # an unknown family fails before any training
    # `auto` is measured once, here, so every job and worker of the run trains and acts in one precision
    base = dataclasses.replace(base, tasks=tasks, precision=resolve(base.device, base.precision).precision)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "continual.json"
    settings = {"tasks": list(tasks), "steps": base.steps, "points": base.points, "episodes": base.episodes,
                "seed": base.seed, "train_seeds": train_seeds, "preset": base.preset, "precision": base.precision}
    if base.search:  # recorded only when on, so a comparison stored before searches existed still resumes
        settings.update(search=base.search, search_size=base.search_size, search_steps=base.search_steps)
    store = json.loads(path.read_text()) if path.is_file() else {"settings": settings, "families": {}}
    if store["settings"] != settings:
        raise ConfigError(f"'{path}' holds a continual comparison with other settings; pass the same ones to "
                          "resume it, or another --out")
    for name in tqdm(models, desc="continual compare", unit="family"):
        if name in store["families"]:
            continue
        started, resumed = time.perf_counter(), (out / name).exists()
        jobs = family_jobs(name, base, train_seeds, root, out)
        results = run_jobs(jobs, text_model, out, workers, address, label=name)
        if name == MULTITASK:
            row = multitask_row([r["success"] for r in results], tasks)
        else:
            seeds = [dataclasses.replace(base, train_seed=k, model=name) for k in range(train_seeds)]
            row = family_row(name, [assemble(s, out / name / f"seed{s.train_seed}") for s in seeds])
            row.update(search_row([out / name / f"seed{s.train_seed}" for s in seeds]))
        row["wall_seconds"] = time.perf_counter() - started
        row["resumed"] = resumed  # a resumed family's seconds cover only the part run in this call
        row["workers"] = workers if not address else f"cluster {address}"
        if name != MULTITASK:
            heat_map(row, name, out / f"{name}-success.png")
        store["families"][name] = row
        write_json(path, store, "free space on that disk, then rerun the same command (it resumes)")
    md = out / "continual.md"
    md.write_text(continual_markdown(store))
    return md
