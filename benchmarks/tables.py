"""Every results table in README.md and docs/, generated from the JSON the benchmarks wrote.

A table lives in a Markdown file between two markers, and nothing but this script writes between them:

    <!-- table:demo -->
    ...generated...
    <!-- /table -->

    python benchmarks/tables.py            # rewrite every table from benchmarks/results/*.json
    python benchmarks/tables.py --check    # exit 1 naming each table that differs from its JSON

The test suite runs the check, so a table cannot drift from the data it claims to show. The sources are
benchmarks/results/*.json, envs/reference_scores.json (through the task registry) and the model-family
registry; no number is typed into a table by hand.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling table modules, however this is loaded
from table_format import ci as _ci  # noqa: E402
from table_format import load as _load  # noqa: E402
from table_format import md as _md  # noqa: E402
from tables_continual import CONTINUAL_TABLES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
MARKER = re.compile(r"(<!-- table:([\w-]+) -->\n)(.*?)(<!-- /table -->)", re.S)

DEMO_LABEL = "headline"
"""The entry of benchmarks/results/demo.json that README and docs show (benchmarks/record_demo.py)."""

GOAL_CLAIMS = [("main", "reacher-goal", "prompts cut at a demonstration's end"),
               ("reacher-whole", "reacher-goal", "prompts from a demonstration's start"),
               ("mw-obj", "mw-reach-goal", ""),
               ("mw-obj-seed1", "mw-reach-goal", "second training seed"),
               ("mw-obj-whole", "mw-reach-goal", "prompts from a demonstration's start"),
               ("babyai", "babyai-goto-goal", ""),
               ("pm-goal", "dmc-point_mass-goal", ""),
               ("dmc-reacher", "dmc-reacher-goal", ""),
               ("mw-push", "mw-push-goal", "")]
"""The runs of benchmarks/results/fewshot.json that the few-shot table shows: the latest of each goal family
and setting (earlier runs, such as mw-reach-goal before its object was drawn per episode, stay in the lab
notebook)."""


def demo_table() -> str:
    """The demo's generalist, task by task, with the aggregate over tasks (benchmarks/results/demo.json)."""
    run = _load("demo.json")[DEMO_LABEL]
    tasks, agg = run["tasks"], run["aggregate"]
    rows = [[t, _ci(v["normalized"], v["normalized_ci"])] for t, v in tasks.items()]
    rows.append(["**mean** [95% CI]", f"**{_ci(agg['mean'], agg['mean_ci'])}**"])
    rows.append(["IQM over tasks [95% CI]", _ci(agg["iqm"], agg["iqm_ci"])])
    rows.append(["tasks ≥ 0.5", f"{round(agg['frac_ge_50'] * agg['n_tasks'])} of {agg['n_tasks']}"])
    rows.append(["training steps", f"{run['train_steps']:,}"])
    rows.append(["minutes, whole demo", f"{run['minutes']:.1f}"])
    caption = (f"_Run `{run['label']}` on {run['date']}: {run['machine']}, precision {run['precision']}; "
               f"{run['episodes']} evaluation episodes per task (seeds {run['seeds'][0]}–{run['seeds'][1]}); "
               f"expert-normalized score "
               f"[95% bootstrap CI]. {run['aggregate_over']} Command: `{run['command']}`._")
    return caption + "\n\n" + _md(["task", "normalized score"], rows)


def zoo_table(name: str = "compare-nano.json") -> str:
    """`gatosuite compare` of the model families (benchmarks/results/compare-nano.json, or `name`)."""
    data = _load(name)
    models = data["models"]

    def row(name: str, fn: Callable[[dict[str, Any]], str]) -> list[str]:
        return [name] + [fn(m) for m in models.values()]

    def nll(m: dict[str, Any]) -> str:
        v = m["val_nll"]["modality"]
        return " / ".join(f"{v[k]:.3f}" for k in ("action_continuous", "action_discrete", "text"))

    def score(m: dict[str, Any]) -> str:
        o = m["score"]["overall"]
        return _ci(o["mean"], o["mean_ci"], 2)

    def fewshot(m: dict[str, Any]) -> str:
        f = m["fewshot"]
        return " / ".join(f"{f[k]['normalized']:.2f}".replace("-", "−") for k in ("zero-shot", "finetune", "scratch"))
    rows = [row("parameters: all / non-embedding / active per token", lambda m: f"{m['parameters']:,} / "
                f"{m['parameters_non_embedding']:,} / {m['active_parameters']:,}"),
            row("training: steps, tokens/s, tokens seen", lambda m: f"{m['train']['step']:,}, "
                f"{m['train']['tokens_per_s']:,.0f}, {m['tokens_seen'] / 1e6:.2f} M"),
            row("validation NLL: continuous actions / discrete actions / text", nll),
            row(f"expert-normalized score, mean over {next(iter(models.values()))['score']['overall']['n_tasks']} "
                f"tasks [95% CI], {data['settings']['eval_episodes']} episodes each", score),
            row("IQM over tasks", lambda m: f"{m['score']['overall']['iqm']:.2f}"),
            row(f"few-shot {data['settings']['fewshot']} k=1: zero-shot / fine-tune / scratch", fewshot)]
    if all("phase_seconds" in m for m in models.values()):  # comparisons since the phases were timed
        rows.append(row("cost: training MFLOPs per token, estimated energy (Wh)", lambda m: (
            f"{m['flops_per_token'] / 1e6:.2f}, {m['energy_wh_estimate']:.2f}")))
        rows.append(row("wall-clock s: training / validation / evaluation / few-shot = total", lambda m: (
            " / ".join(f"{m['phase_seconds'][k]:.0f}" if k in m["phase_seconds"] else "—"
                       for k in ("train", "validation", "evaluation", "fewshot"))
            + f" = {m['seconds']:.0f}")))
    rec = data.get("recorded", {})
    st = data["settings"]
    budget = (f"{st['tokens']:,} training tokens" if st.get("tokens") else f"{st['minutes']:g} minutes of training")
    caption = (f"_{rec['date']}: {rec['machine']}. {budget} per family on the demo's data, one training run "
               f"each. Command: `{rec['command']}`._")
    return caption + "\n\n" + _md([""] + [m["model"] for m in models.values()], rows)


def zoo_part2_table() -> str:
    """`gatosuite compare` of six families at equal tokens (benchmarks/results/compare-zoo2.json)."""
    return zoo_table("compare-zoo2.json")


def zoo_time_table() -> str:
    """`gatosuite compare` of six families at its default wall-clock budget (compare-zoo2-time.json)."""
    return zoo_table("compare-zoo2-time.json")


def act_latency_table() -> str:
    """Per-step action latency at 8 envs, as a ratio to Gato's (benchmarks/results/act_latency.json)."""
    d = _load("act_latency.json")["default"]
    tasks = list(d["tasks"])
    families = list(d["tasks"][tasks[0]])
    rows = [[f"`{n}`"] + [f"{d['tasks'][t][n]['ms_per_step']:.1f} ms ({d['tasks'][t][n]['ratio_to_gato']:.2f}×)"
                          for t in tasks] for n in families]
    return _md(["family"] + [f"{t}: ms per step (ratio to gato)" for t in tasks], rows)


def goal_claims_table() -> str:
    """k = 1 prompting against zero-shot on each goal family's held-out goals (benchmarks/results/fewshot.json)."""
    data = _load("fewshot.json")
    rows = []
    for label, goal_family, note in GOAL_CLAIMS:
        e = data[label][goal_family]
        m = e["fewshot"]["methods"]
        zero, k1, oracle = m["zero-shot"]["0"], m["prompting"]["1"], m["oracle"]["0"]
        claim = e["claim"]
        ratio = claim["k1_over_oracle"] if oracle["normalized"] > 0.2 else None
        holds = "yes" if claim["holds"] else ("no: the oracle fails" if ratio is None else "no")
        rows.append([goal_family + (f", {note}" if note else ""), f"`{label}`", e["date"],
                     _ci(zero["normalized"], zero["normalized_ci"], 2), _ci(k1["normalized"], k1["normalized_ci"], 2),
                     f"{oracle['normalized']:.2f}", "—" if ratio is None else f"{ratio:.2f}", holds])
    return _md(["goal family", "label", "date", "zero-shot", "prompt k=1", "oracle", "k=1 / oracle", "holds"], rows)


def reference_scores_table() -> str:
    """Expert and random scores of every env task (envs/reference_scores.json)."""
    from gatosuite.envs import SUITE
    from gatosuite.envs.reference import markdown_table

    return markdown_table(SUITE.select("all"))


def suite_generalist_table() -> str:
    """The generalist at suite scale (benchmarks/bench_suite.py -> results/suite-nano.json): per-domain and overall
    aggregates over tasks, with the 8-task demo's for scale."""
    from gatosuite.envs import SUITE

    d = _load("suite-nano.json")
    agg, demo = d["aggregate"], _load("demo.json")[DEMO_LABEL]["aggregate"]
    rows = []
    for name, a in [*agg["per_domain"].items(), ("**all tasks**", agg["overall"])]:
        rows.append([name, str(a["n_tasks"]), _ci(a["iqm"], a["iqm_ci"]) if a["iqm_ci"] else f"{a['iqm']:.3f}",
                     f"{a['median']:.3f}", f"{a['mean']:.3f}", f"{round(a['frac_ge_50'] * a['n_tasks'])}"])
    rows.append(["8-task demo (for scale)", str(demo["n_tasks"]), _ci(demo["iqm"], demo["iqm_ci"]),
                 f"{demo['median']:.3f}", f"{demo['mean']:.3f}", f"{round(demo['frac_ge_50'] * demo['n_tasks'])}"])
    sec = d["seconds"]
    domains = {t: SUITE[t].domain for t in d["per_task_normalized"]}
    assert set(domains.values()) == set(agg["per_domain"]), "per-domain rows and tasks disagree"
    caption = (f"_{d['recorded']}, {d['cpus']} CPU threads ({d['machine']}), {d['device']}: `{d['preset']}` trained "
               f"{d['train_minutes']:.0f} minutes ({sec['train'] / 60:.1f} measured, {d['steps']:,} steps, "
               f"{d['tokens_per_s']:,.0f} tokens/s) on {d['tasks']} tasks, {d['episodes_per_task']} expert episodes "
               f"each (collected in {sec['collect'] / 60:.0f} min); scored on {d['eval_episodes']} episodes per task, "
               f"seeds 1000 on. Expert-normalized scores; aggregates over tasks of one training run, CIs resampling "
               f"{agg['overall']['ci']}. Command `python benchmarks/bench_suite.py`._")
    return caption + "\n\n" + _md(["domain", "tasks", "IQM [95% CI]", "median", "mean", "tasks >= 0.5"], rows)


def suite_per_task_table() -> str:
    """Every task's mean normalized score in the suite-scale run (results/suite-nano.json)."""
    from gatosuite.envs import SUITE

    d = _load("suite-nano.json")
    rows = sorted([SUITE[t].domain, t, f"{v:.3f}"] for t, v in d["per_task_normalized"].items())
    return _md(["domain", "task", "normalized score"], rows)


def expert_training_table() -> str:
    """The SAC experts' trainings (envs/weights/<task>.train.csv, as benchmarks/expert_curves.py plots them),
    with the committed actor's 50-seed return (envs/reference_scores.json)."""
    import csv

    from gatosuite.envs import SUITE

    rows = []
    for f in sorted((REPO / "envs" / "weights").glob("*.train.csv")):
        task = SUITE[f.name.removesuffix(".train.csv")]
        with f.open() as fh:
            pts = [(int(r[0]), float(r[1]), float(r[2])) for r in csv.reader(fh)]
        best = max(pts, key=lambda p: p[2])
        ref = task.reference()
        rows.append([task.id, f"{pts[-1][0] // 1000}k", f"{pts[-1][1] / 3600:.1f}", f"{pts[-1][0] / pts[-1][1]:.0f}",
                     f"{best[2]:,.1f} at {best[0] // 1000}k", f"{ref['expert']:,.1f}", f"{task.bar:,g}",
                     "yes" if ref["bar_met"] else "no"])
    return _md(["task", "steps", "wall time (h)", "steps/s", "best 5-episode evaluation",
                "committed actor, 50 seeds", "bar", "met"], rows)


def model_families_table() -> str:
    """The model families, from their registry (agent/families.py): the built ones, then the planned ones
    (families.PLANNED)."""
    from gatosuite.agent.families import PLANNED, family_names, get_family

    rows = []
    for name in family_names():
        f = get_family(name)
        rows.append([f"`{name}`", f.paper, f.modules, "yes" if f.can_act else "no"])
    rows += [[f"{p.title} (planned)", p.paper, p.modules, "—"] for p in PLANNED]
    return _md(["`--model`", "paper", "what it is", "acts in envs"], rows)


def training_speed_table() -> str:
    """benchmarks/bench_train.py: ours against the nanoGPT-style reference (benchmarks/results/train.json)."""
    d = _load("train.json")
    rt = d["runtime"]
    rows = [["reference (nanoGPT: SDPA, logits at every position)", f"{d['tokens_per_s']['reference']:,.0f} tokens/s"],
            ["ours (logits only at targets)", f"{d['tokens_per_s']['ours']:,.0f} tokens/s"],
            ["ratio", f"{d['ratio']:.2f}×"],
            ["MFU against the matmul peak measured in the run",
             f"{d['mfu']:.1%} of {d['peak_fp32_flops'] / 1e9:,.0f} GFLOP/s"],
            ["one action: full recompute vs one cached step",
             f"{d['full_recompute_s'] * 1e3:.1f} ms vs {d['cached_step_s'] * 1e3:.2f} ms ({d['kv_speedup']:.0f}×)"]]
    rows += [[f"`{p}` ({v['non_embedding_params'] / 1e6:.2f}M non-embedding parameters)",
              f"{v['tokens_per_s']:,.0f} tokens/s"] for p, v in d["presets"].items()]
    caption = (f"_`{d['preset']}` preset, batch {d['batch'][0]}×{d['batch'][1]}, {d['threads']} threads, "
               f"{rt['cpu_capability']} CPU, {rt['precision']} ({rt['reason']}); command `python "
               f"benchmarks/bench_train.py`._")
    return caption + "\n\n" + _md(["measurement", "value"], rows)


def tokenizer_speed_table() -> str:
    """benchmarks/bench_tokenizer.py (benchmarks/results/tokenizer.json)."""
    d = _load("tokenizer.json")
    rows = [[c["case"], str(c["tokens_per_timestep"]), f"{c['timesteps_per_s']:,.0f}", f"{c['tokens_per_s']:,.0f}",
             f"{c['speedup_vs_loop']:.0f}×", f"{c['x_training_rate']:,.0f}×"] for c in d["cases"].values()]
    caption = (f"_Against a per-timestep loop and a `nano` training step measured in the same run "
               f"({d['training_tokens_per_s']:,.0f} tokens/s, {d['training_precision']}); command `python "
               f"benchmarks/bench_tokenizer.py`._")
    return caption + "\n\n" + _md(["case", "tokens/timestep", "timesteps/s", "tokens/s", "vs per-timestep loop",
                                   "vs training"], rows)


def collection_speed_table() -> str:
    """benchmarks/bench_collect.py (benchmarks/results/collect.json), in steps/s."""
    d = _load("collect.json")
    if "workers" not in d:  # measured before collection ran on Ray: 1 worker against a 2-env vector env
        rows = [[r["task"], f"{r['raw_random']:,.0f}", f"{r['raw_expert']:,.0f}", f"{r['collect_1']:,.0f}",
                 f"{r['collect_2']:,.0f}", f"{r['overhead_1_worker']:.0%}"] for r in d["rows"]]
        caption = f"_{d['episodes']} seeded episodes per task; command `python benchmarks/bench_collect.py`._"
        return caption + "\n\n" + _md(["task", "raw env, random", "raw env + expert", "collect, 1 worker",
                                       "collect, 2 workers", "overhead vs raw + expert"], rows)
    k = d["workers"]
    rows = [[r["task"], f"{r['episodes']:,}", f"{r['raw_random']:,.0f}", f"{r['raw_expert']:,.0f}",
             f"{r['collect_1']:,.0f}", f"{r[f'vector_{k}']:,.0f}", f"{r[f'ray_{k}']:,.0f}",
             f"{r[f'ray_{k}_over_1']:.2f}x", f"{r[f'ray_{k}_over_1_with_start']:.2f}x", f"{r['overhead_1_worker']:.0%}"]
            for r in d["rows"]]
    caption = (f"_{d['date']}, {d['cpus']} CPUs; seeded episodes per task as listed; Ray's start-up took "
               f"{d['ray_start_s']:.1f} s. Command `python benchmarks/bench_collect.py --tasks "
               f"{','.join(str(r['task']) + '=' + str(r['episodes']) for r in d['rows'])}`._")
    return caption + "\n\n" + _md(["task", "episodes", "raw env, random", "raw env + expert", "collect, 1 worker",
                                   f"{k} envs in one vector env", f"Ray, {k} actors", f"Ray {k} / 1",
                                   f"Ray {k} / 1, start-up included", "overhead vs raw + expert"], rows)


def recipes_table() -> str:
    """The training recipes and what each sets (agent/recipes.py)."""
    from gatosuite.agent.recipes import DEFAULT_RECIPE, RECIPES

    rows = [[f"`{r.name}`" + (" (default)" if r.name == DEFAULT_RECIPE else ""), r.summary,
             f"`--segment-steps {r.segment_steps}`" + (" `--obs-norm`" if r.obs_norm else "") + "; "
             + ", ".join(f"`{o}`" for o in r.overrides)] for r in RECIPES.values()]
    return _md(["`--recipe`", "what it is", "what it sets"], rows)


def recipe_comparison_table() -> str:
    """`gatosuite train` with each recipe on one task over training seeds (benchmarks/results/recipes.json)."""
    d = _load("recipes.json")["ip-300"]
    st = d["settings"]
    rows = [[f"`{name}`", ", ".join(f"{r['mean']:.3f}" for r in runs.values()),
             f"{sum(r['mean'] for r in runs.values()) / len(runs):.3f}", str(len(runs))]
            for name, runs in d["runs"].items()]
    caption = (f"_{st['date']}, {st['task']} alone: {st['episodes']} episodes (noise {st['noise']}, perturbed "
               f"starts), {st['steps']} steps of {st['window']}-token windows, warmup {st['warmup']}, "
               f"{st['threads']} thread, {st['cpu_capability']} CPU; mean normalized score on evaluation seeds "
               f"{st['eval_seeds'][0]}–{st['eval_seeds'][-1]} per training seed. Command: `python "
               f"benchmarks/bench_recipes.py --steps {st['steps']} --seeds 0,1,2 --label ip-300`, then `--seeds 3,4,5 "
               f"--recipes gatosuite-2026`._")
    return caption + "\n\n" + _md(["recipe", "per training seed", "mean", "training seeds"], rows)


def cli_commands_table() -> str:
    """The `gatosuite` subcommands and the first line of each one's docstring (cli.py)."""
    from gatosuite.cli import COMMANDS

    rows = [[f"`gatosuite {name}`", (cmd.__doc__ or "").strip().splitlines()[0]] for name, cmd in COMMANDS.items()]
    return _md(["command", "what it does"], rows)


TABLES: dict[str, Callable[[], str]] = {
    "demo": demo_table, "zoo": zoo_table, "goal-claims": goal_claims_table,
    "reference-scores": reference_scores_table, "model-families": model_families_table,
    "training-speed": training_speed_table, "tokenizer-speed": tokenizer_speed_table,
    "collection-speed": collection_speed_table, "cli-commands": cli_commands_table,
    "recipes": recipes_table, "recipe-comparison": recipe_comparison_table, "act-latency": act_latency_table,
    "zoo-part2": zoo_part2_table, "zoo-time": zoo_time_table, 
    "expert-training": expert_training_table, "suite-generalist": suite_generalist_table,
    "suite-per-task": suite_per_task_table, **CONTINUAL_TABLES,
}


def render(text: str, cache: dict[str, str]) -> str:
    """`text` with every marked table regenerated (each table built once, through `cache`)."""
    def fill(m: re.Match[str]) -> str:
        name = m.group(2)
        if name not in TABLES:
            raise KeyError(f"unknown table '{name}'; known: {', '.join(TABLES)}")
        if name not in cache:
            cache[name] = TABLES[name]().rstrip("\n") + "\n"
        return m.group(1) + cache[name] + m.group(4)

    return MARKER.sub(fill, text)


def stale(pages: list[Path] = PAGES) -> list[str]:
    """'page: table' for every marked table that differs from what its JSON gives."""
    cache: dict[str, str] = {}
    out = []
    for page in pages:
        text = page.read_text()
        for m in MARKER.finditer(text):
            if render(m.group(0), cache) != m.group(0):
                out.append(f"{page.relative_to(REPO) if page.is_relative_to(REPO) else page}: {m.group(2)}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a table is stale")
    a = ap.parse_args(argv)
    if a.check:
        bad = stale()
        for b in bad:
            print(f"stale table: {b}; run python benchmarks/tables.py")
        return 1 if bad else 0
    cache: dict[str, str] = {}
    for page in PAGES:
        text = page.read_text()
        new = render(text, cache)
        if new != text:
            page.write_text(new)
            print(f"wrote {page.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
