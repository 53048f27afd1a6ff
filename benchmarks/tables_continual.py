"""The results tables of the continual and evolutionary families, and of the GPU: transfer after a task
(bench_transfer.py), populations on Ray (bench_population.py), the continual comparison (`gatosuite compare
--continual`, copied to results/continual-*.json) and the GPU check (bench_gpu.py)."""

from __future__ import annotations

import numpy as np
from table_format import ci as _ci
from table_format import load as _load
from table_format import md as _md

DEFAULTS = {"steps": 200, "val_every": 20}
"""bench_transfer.py's defaults, left out of the command a caption shows."""
POPULATION_DEFAULTS = {"generations": 3, "tournaments": 2, "steps": 40}
"""bench_population.py's, likewise."""


def transfer_table(name: str = "transfer.json") -> str:
    """benchmarks/bench_transfer.py (results/transfer.json, or another run's): task B after task A, against B
    from scratch."""
    from gatosuite.agent.families import get_family

    d = _load(name)
    st = d["settings"]
    rows = []
    for name, fam in d["families"].items():
        s = fam["summary"]
        added = s["params_added"] if isinstance(s["params_added"], int) else round(float(np.mean(s["params_added"])))
        shared = get_family(name).continual is None  # plain fine-tuning trains every parameter, A's included
        rows.append([get_family(name).display,
                     f"{s['steps_to_target']['mean']:.0f} [{s['steps_to_target']['ci'][0]:.0f}, "
                     f"{s['steps_to_target']['ci'][1]:.0f}] ({s['reached']} of {s['seeds']} reached)",
                     _ci(s["auc_ratio"]["mean"], s["auc_ratio"]["ci"]),
                     _ci(s["final_transfer"]["mean"], s["final_transfer"]["ci"]),
                     _ci(s["final_scratch"]["mean"], s["final_scratch"]["ci"]),
                     f"{added:,} of {s['separate_model_params']:,}" + (" (all, A's too)" if shared else ""),
                     "yes" if s["a_bitwise"] else f"no ({s['a_nll_change']['mean']:+.3f} nats)"])
    a, b = d["tasks"]
    where = (f"on an {d['machine']} GPU (fp32)" if st.get("device") == "cuda"
             else f"{d['cpus']} CPU threads ({d['machine']})")
    flags = "".join(f" --{k} {st[k]}" for k in ("steps", "val_every") if st[k] != DEFAULTS[k])
    flags += " --device cuda" if st.get("device") == "cuda" else ""
    side = d.get("parts_run_side_by_side")
    how = (f" as {side} processes side by side, one per family, joined with `--merge`" if side else "")
    caption = (f"_{d['date']}, {where}: A = {a}, B = {b}; each run {st['steps']} "
               f"steps (batch {st['batch_size']} x {st['window']} tokens), B's validation NLL every "
               f"{st['val_every']} steps; means over {st['seeds']} training seeds with 95% bootstrap CIs. A seed whose "
               f"transfer run never reached the scratch run's final NLL counts {st['steps']} steps. "
               f"Command `python benchmarks/bench_transfer.py{flags.replace('_', '-')}`{how} "
               f"({d['seconds'] / 60:.1f} min)._")
    return caption + "\n\n" + _md(["family", "steps to scratch's final NLL", "AUC ratio (transfer / scratch)",
                                    "B's final NLL, transfer", "B's final NLL, scratch", "parameters B trains",
                                    "A's NLL bitwise after B"], rows)


def population_speed_table(name: str = "population-ray.json") -> str:
    """benchmarks/bench_population.py (results/population-ray.json, or population-ray-munet.json): an evolution
    on Ray against one worker in-process."""
    d = _load(name)
    k, st, load = d["workers"], d["settings"], d["load_average_1min"]
    rows = [[str(r["workers"]), r["where"], f"{r['median_s']:.2f}", f"{r['jobs_per_s']:.2f}"] for r in d["rows"]]
    runs = len(d["rows"][0]["seconds"])
    if st.get("family", "pathnet") == "pathnet":
        what = (f"{st['generations']} generations of {st['tournaments']} tournaments ({st['jobs']} candidates, each "
                f"{st['steps']} training steps of a PathNet on {st['data']} data)")
    else:
        what = (f"{st['generations']} generations of muNet's search, {st['tournaments']} children a generation after "
                f"the seed route's scoring ({st['jobs']} jobs, each child {st['steps']} training steps on "
                f"{st['data']} data)")
    caption = (f"_{d['date']}, {d['cpus']} CPUs, 1-minute load average {load['before']:.1f} before the run and "
               f"{load['after']:.1f} after (other jobs on the machine count in it); {what}, median of {runs} runs, "
               f"start-up excluded (Ray's took {d['ray_start_s']:.1f} s). Speedup of {k} workers over 1: "
               f"**{d[f'speedup_{k}_over_1']:.2f}x**; same winners: {'yes' if d['same_winners'] else 'NO'}. "
               f"Command `python benchmarks/bench_population.py"
               f"{'' if st.get('family', 'pathnet') == 'pathnet' else ' --family ' + st['family']}"
               f"{''.join(f' --{k} {st[k]}' for k, v in POPULATION_DEFAULTS.items() if st[k] != v)}`._")
    return caption + "\n\n" + _md(["workers", "where", "seconds", "candidates/s"], rows)


def gpu_table() -> str:
    """benchmarks/bench_gpu.py (results/gpu.json): training throughput and MFU, the batched rollout, the CPU load."""
    d = _load("gpu.json")
    rt, roll = d["runtime"], d["rollout"]
    tasks = ",".join(f"{t}:{n}" for t, n in d["tasks"].items())
    rows = [["training tokens/s (wall, 60 steps after a 2-step warm-up)", f"{d['tokens_per_s']:,.0f}"],
            ["training tokens/s (the trainer's own, last log)", f"{d['trainer_tokens_per_s']:,.0f}"],
            [f"measured {rt['precision']} matmul peak (8192³)",
             f"{d['peak_' + rt['precision'] + '_flops'] / 1e12:,.0f} TFLOP/s"],
            ["MFU (6N + attention FLOPs per token)", f"{d['mfu']:.3f}"],
            [f"batched rollout, {roll['task']}, {roll['envs']} envs", f"{roll['env_steps_per_s']:.0f} env steps/s"],
            ["GPU-written checkpoint loads on the CPU, equal weights", "yes" if d["checkpoint_loads_on_cpu"] else "NO"]]
    caption = (f"_{d['device']}, torch {rt['torch']}, precision {rt['precision']}; `{d['preset']}` "
               f"({d['non_embedding_params'] / 1e6:.1f}M non-embedding parameters), batch {d['batch'][0]} x "
               f"{d['batch'][1]} tokens, {d['steps']} steps on {tasks} episodes. Command `python "
               f"benchmarks/bench_gpu.py --tasks {tasks} --rollout-task {roll['task']}`._")
    return caption + "\n\n" + _md(["measure", "value"], rows)


def _metric(m: dict | None) -> str:
    if m is None:
        return "n/a"
    if m["mean"] is None or not np.isfinite(m["mean"]):
        return "undefined"
    return _ci(m["mean"], m["ci"]) if m.get("ci") else f"{m['mean']:.3f} (1 seed)"


def continual_table(name: str = "continual-cw3.json") -> str:
    """`gatosuite compare --continual` (its continual.json, copied to results/): performance, forgetting,
    forward transfer and parameters added per family, with the minutes each family took."""
    d = _load(name)
    s = d["settings"]
    rows = []
    for fam, row in d["families"].items():
        params = ", ".join(f"{p:,.0f}" for p in row["params_added"]) or "0"
        minutes = f"{row['wall_seconds'] / 60:.1f}" if "wall_seconds" in row else "n/a"
        rows.append([fam, _metric(row["performance"]), _metric(row["forgetting"]), _metric(row["forward_transfer"]),
                     params, minutes + (" (resumed)" if row.get("resumed") else ""), str(row.get("workers", 1))])
    caption = (f"_{d.get('date', '')}, {d.get('machine', '')}: tasks {', '.join(s['tasks'])} in that order, "
               f"{s['steps']} training steps each (preset `{s['preset']}`), success over {s['episodes']} episodes "
               f"from seed {s['seed']}, {s['train_seeds']} training seeds; 95% percentile-bootstrap CIs over "
               f"training seeds. Minutes: wall-clock of each family's whole protocol (its stages, the from-scratch "
               f"reference runs and every evaluation) with its runs on the workers shown (1: one after another in "
               f"one process; 2: two Ray workers of one thread each)._")
    left = "".join(f"\n\n_Not reported: {fam}, {why}._" for fam, why in d.get("left_out", {}).items())
    return caption + "\n\n" + _md(["family", "performance", "forgetting", "forward transfer",
                                    "parameters added per task", "minutes", "workers"], rows) + left


def continual_search_table(name: str = "continual-cw3-search.json", plain: str = "continual-cw3.json") -> str:
    """PathNet and muNet with a search at each later task's start (`compare --continual --search G`) beside
    the same families' rows without one (same sequence, seeds, budget and evaluation seeds; separate runs).
    The search record names its baseline (`"baseline"`: a results file of the same machine) where it has one."""
    d = _load(name)
    p = _load(d.get("baseline", plain))
    s = d["settings"]
    rows = []
    for fam, row in d["families"].items():
        for label, r in ((f"{s['search']} generations", row), ("none (one seeded draw)", p["families"].get(fam))):
            if r is None:
                continue
            steps = ", ".join(f"{v:.0f}" for v in r.get("search_steps", {}).values()) or "0"
            rows.append([fam, label, _metric(r["performance"]), _metric(r["forgetting"]),
                         _metric(r["forward_transfer"]), ", ".join(f"{x:,.0f}" for x in r["params_added"]), steps,
                         f"{r['wall_seconds'] / 60:.1f}", str(r.get("workers", 1))])
    caption = (f"_{d.get('date', '')}, {d.get('machine', '')}: tasks {', '.join(s['tasks'])}, {s['steps']} "
               f"training steps each, {s['train_seeds']} training seeds, success over {s['episodes']} episodes "
               f"from seed {s['seed']}; 95% percentile-bootstrap CIs over training seeds. Search: "
               f"{s['search']} generations at each later task's start, PathNet's population "
               f"{s['search_size']} paths, every candidate trained {s['search_steps']} steps (batch 4); "
               f"candidate steps per later task are the mean over seeds, on top of the {s['steps']}. The rows "
               f"without a search are a separate run: {p.get('date', '')}, {p.get('machine', '')}._")
    return caption + "\n\n" + _md(["family", "search", "performance", "forgetting", "forward transfer",
                                    "parameters added per task", "candidate steps per later task", "minutes",
                                    "workers"], rows)


CONTINUAL_TABLES = {
    "transfer": transfer_table, "transfer-1000": lambda: transfer_table("transfer-1000.json"),
    "population-speed": population_speed_table,
    "population-speed-munet": lambda: population_speed_table("population-ray-munet.json"),
    "gpu": gpu_table, "continual-cw3": continual_table, "continual-cw3-search": continual_search_table,
}
"""Table name -> builder, joined into tables.py's registry."""
