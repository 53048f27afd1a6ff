"""Task-level aggregates for result files written while the IQM was taken over episodes.

Until this version, `scores.aggregate` took the IQM over every (episode, task) score pooled, and the
performance profile counted episodes. This tool rewrites a stored result file in place. It keeps every
episode-level number under a `*_episode_level` key, and puts the task-level aggregates from
`scores.py` beside them, computed only from what the file stores:

* `eval_info.json` (`gatosuite evaluate`, `gatosuite demo`) stores per-episode scores, so everything is
  recomputed, CIs included. The old `aggregate` and `profile` blocks become `aggregate_episode_level`
  and `profile_episode_level`.
* `compare.json` (`gatosuite compare`, e.g. benchmarks/results/compare-nano.json) stores each task's
  mean but not its episodes. Each `score` group (overall and per domain) keeps its old `iqm` and `iqm_ci`
  as `iqm_episode_level` and `iqm_ci_episode_level`. It gets the task-level `iqm`, `median`, `mean` and
  `frac_ge_50` over its (1 x tasks) task means, and the IQM and median get no CI, since no episodes are
  stored to resample. The old `mean_ci` is kept: it was already the new definition, a stratified
  bootstrap over episodes of the mean of task means. The stored mean and median were already over
  tasks, and the tool checks that the stored task means reproduce them.
* Files whose entries hold `scores: {task: mean normalized score}` (benchmarks/results/demo_mix.json)
  held no IQM. Each entry gets an `aggregate` block (overall and per domain) over those means, without
  CIs. An entry that also stores `episodes: {task: [normalized, ...]}` gets CIs as well; one whose
  `aggregate` the benchmark already wrote over tasks is left as it is.

Running it twice leaves the file as the first run wrote it.

    python -m gatosuite.evaluation.recompute benchmarks/results/compare-nano.json benchmarks/results/demo_mix.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gatosuite.errors import ConfigError, GatosuiteError

from .scores import RunTaskScores, by_domain

NOTE = "task-level aggregates recomputed by `python -m gatosuite.evaluation.recompute` from the stored {what}"


def _relabel(group: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Move an episode-level group's `keys` to `<key>_episode_level`; a task-level group is left as it is."""
    if group.get("unit") != "task":
        for k in keys:
            if k in group:
                group[f"{k}_episode_level"] = group.pop(k)


def _check_same(where: str, old: dict[str, Any], new: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Stored values that the old and new definitions share must come out the same from the stored data."""
    for k in keys:
        if k in old and not np.isclose(old[k], new[k], rtol=0, atol=1e-9):
            raise ConfigError(f"{where}: the stored task means give {k} {new[k]!r}, but the file holds {old[k]!r}; "
                              "the file's per-task data and its aggregates disagree, so nothing was rewritten")


def recompute_eval_info(info: dict[str, Any], reps: int = 2000) -> None:
    """An eval_info.json: every aggregate from its per-episode scores, the old blocks kept beside them."""
    from .evaluate import aggregates, scored_episodes, trained_tasks

    try:
        trained = set(trained_tasks(Path(info.get("checkpoint", ""))))
    except (GatosuiteError, OSError):
        trained = set()  # the checkpoint has moved: every non-held-out task, checked against the old count
    scored = scored_episodes(info["tasks"], trained)
    old = info.get("aggregate_episode_level") or info.get("aggregate") or {}
    n_old = (old.get("overall") or {}).get("n_tasks")
    if n_old is not None and n_old != len(scored):
        raise ConfigError(f"the old aggregate was over {n_old} tasks but {len(scored)} are scored now ("
                          f"{', '.join(scored)}); pass the file with its checkpoint in place")
    if (info.get("aggregate") or {}).get("overall", {}).get("unit") != "task":
        for key in ("aggregate", "profile"):
            if key in info:
                info[f"{key}_episode_level"] = info.pop(key)
    info.update(aggregates(scored, reps))


def _compare_groups(name: str, row: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, stored group, task-level group from the row's task means) for overall and each domain,
    after checking that the stored task means reproduce what both definitions share."""
    tasks = list(row["tasks"])
    means = RunTaskScores.from_means([[row["tasks"][t]["normalized"] for t in tasks]], tasks)
    new, score = by_domain(means), row["score"]
    if set(new["per_domain"]) != set(score.get("per_domain") or {}):
        raise ConfigError(f"compare.json, {name}: the stored tasks span domains {sorted(new['per_domain'])} but "
                          f"its score holds {sorted(score.get('per_domain') or {})}; nothing was rewritten")
    groups = [("overall", score["overall"], new["overall"])] + \
        [(d, score["per_domain"][d], new["per_domain"][d]) for d in sorted(new["per_domain"])]
    for label, old, fresh in groups:
        _check_same(f"compare.json, {name}, {label}", old, fresh, ("mean", "median", "frac_ge_50"))
    return groups


def recompute_compare(store: dict[str, Any]) -> None:
    """A compare.json: each family's `score` groups over its stored per-task means. A row that `compare`
    already scored over tasks (from its episodes, CIs included) is left as it is."""
    from gatosuite.envs import SUITE

    episodes = (store.get("settings") or {}).get("eval_episodes")
    rows = {n: r for n, r in (store.get("models") or {}).items() if r.get("score") and r.get("tasks") and not (
        r["score"].get("overall", {}).get("unit") == "task" and "recomputed" not in r["score"])}
    checked = {n: _compare_groups(n, r) for n, r in rows.items()}  # every row checked before any is changed
    for name, row in rows.items():
        domain = {t: SUITE[t].domain for t in row["tasks"]}
        for label, old, fresh in checked[name]:
            _relabel(old, ("iqm", "iqm_ci"))
            mean_ci = old.get("mean_ci")  # the same statistic under both definitions: kept
            old.update(fresh)
            if episodes is not None:  # compare plays `eval_episodes` episodes of every task
                old["episodes_per_task"] = {t: int(episodes) for t in domain if label in ("overall", domain[t])}
            if mean_ci:
                old["mean_ci"], old["ci"] = mean_ci, "episodes"
        row["score"]["recomputed"] = NOTE.format(what="per-task means (models.<family>.tasks)")


def recompute_task_means(store: dict[str, Any]) -> None:
    """Entries holding `scores: {task: mean}` (and maybe `episodes: {task: [...]}`) get an `aggregate`."""
    for label, entry in store.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("scores"), dict):
            continue
        written = entry.get("aggregate") or {}
        if written.get("overall", {}).get("unit") == "task" and "recomputed" not in written:
            continue  # written over tasks by the benchmark itself
        tasks = list(entry["scores"])
        if isinstance(entry.get("episodes"), dict):
            scores: Any = {t: np.asarray(entry["episodes"][t], dtype=np.float64) for t in tasks}
            what = "per-episode scores (episodes)"
        else:
            scores = RunTaskScores.from_means([[entry["scores"][t] for t in tasks]], tasks)
            what = "per-task means (scores)"
        agg = by_domain(scores)
        _check_same(f"entry '{label}'", {k: v for k, v in entry.items() if k == "mean"}, agg["overall"], ("mean",))
        entry["aggregate"] = {**agg, "recomputed": NOTE.format(what=what)}


def recompute(data: dict[str, Any]) -> str:
    """Rewrite `data` in place by its kind; returns the kind ("eval_info", "compare" or "task_means")."""
    if isinstance(data.get("tasks"), dict) and any("episodes" in v for v in data["tasks"].values()):
        recompute_eval_info(data)
        return "eval_info"
    if isinstance(data.get("models"), dict):
        recompute_compare(data)
        return "compare"
    if any(isinstance(v, dict) and isinstance(v.get("scores"), dict) for v in data.values()):
        recompute_task_means(data)
        return "task_means"
    raise ConfigError("this file holds none of the results this tool knows (an eval_info.json, a compare.json, or "
                      "entries with 'scores': {task: mean}); nothing to recompute")


def _overall_groups(data: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any], float | None]]:
    """(where, the task-level overall group, the episode-level IQM it replaces or None) for the summary."""
    if kind == "eval_info":
        old = (data.get("aggregate_episode_level") or {}).get("overall", {}).get("iqm")
        return [("aggregate", data["aggregate"]["overall"], old)]
    if kind == "compare":
        return [(f"models.{n}.score", r["score"]["overall"], r["score"]["overall"].get("iqm_episode_level"))
                for n, r in data["models"].items() if r.get("score")]
    return [(f"{k}.aggregate", v["aggregate"]["overall"], None) for k, v in data.items()
            if isinstance(v, dict) and "aggregate" in v]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gatosuite.evaluation.recompute", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path, help="result JSON files, rewritten in place")
    a = ap.parse_args(argv)
    for path in a.files:
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ConfigError(f"'{path}' holds a JSON {type(data).__name__}, not an object")
            kind = recompute(data)
        except (GatosuiteError, OSError, json.JSONDecodeError) as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            return 1
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1 if kind == "compare" else 2))  # as compare.py and the benches write
        tmp.replace(path)
        for where, g, old in _overall_groups(data, kind):
            was = f"episode-level IQM {old:.3f} -> " if old is not None else ""
            print(f"{path}: {where}.overall: {was}task-level IQM {g['iqm']:.3f}, median {g['median']:.3f}, "
                  f"mean {g['mean']:.3f}, fraction >= 0.5 {g['frac_ge_50']:.3f} over {g['n_tasks']} tasks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
