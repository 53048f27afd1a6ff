"""The evaluation report: `report.md` for the repository and a self-contained `report.html` to open or mail.

Both are rendered from one small document model (headings, paragraphs, tables, images, videos), so
the two files can never disagree about a number. The HTML inlines its figures as base64 PNGs and its
CSS, with no external CSS or JS, so the single file shows everything but the videos, which stay
separate files next to it (`videos/*.mp4`) because inlining them would make the page huge.

All numbers come from `eval_info.json` (written by `gatosuite evaluate`); nothing is recomputed
here. Normalized scores are printed with 3 decimals, raw returns with 1.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union
from urllib.parse import quote

from gatosuite.errors import ConfigError
from gatosuite.evaluation import figures
from gatosuite.evaluation.aggregate_text import describe_aggregate
from gatosuite.evaluation.figures import ci_pair, num

SCHEMA = 1
"""The `eval_info.json` schema this writer reads."""

ADAPTATION_METHODS = ("prompting", "finetune")
"""Few-shot methods that use the pretrained model; `scratch` is their from-nothing baseline."""


# ---- document model -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Link:
    text: str
    href: str
    """Relative to the output directory."""


Inline = Union[str, Code, Link]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Inline, ...], ...]


@dataclass(frozen=True)
class Image:
    path: Path
    alt: str


@dataclass(frozen=True)
class Video:
    caption: str
    href: str


Block = Union[Heading, Para, Table, Image, Video]


def _p(*parts: Inline) -> Para:
    return Para(tuple(parts))


# ---- formatting -----------------------------------------------------------------------------------

def fmt_norm(x: Any) -> str:
    """A normalized score with 3 decimals (0.873), or an em dash when missing."""
    v = num(x)
    return "—" if v is None else f"{v:.3f}"


def fmt_norm_ci(x: Any, ci: Any) -> str:
    """`0.873 [0.812, 0.901]`; the interval is left out when there is none."""
    pair = ci_pair(ci)
    return fmt_norm(x) + (f" [{pair[0]:.3f}, {pair[1]:.3f}]" if pair else "")


def fmt_raw(x: Any, metric: str = "return", scale: Any = None) -> str:
    """A raw score: returns with 1 decimal, as most returns are in the tens to thousands.

    Success rates, and returns of tasks whose random and expert references are both below 10 in
    magnitude (`scale`, e.g. BabyAI's 0..1 returns), get 3 decimals: 1 would round 0.93 to 0.9.
    """
    v, s = num(x), num(scale)
    if v is None:
        return "—"
    return f"{v:.3f}" if metric == "success" or (s is not None and s < 10) else f"{v:.1f}"


def _scale(entry: Mapping[str, Any]) -> float | None:
    """The larger magnitude of a task's random and expert references, which sets its raw-score precision."""
    refs = [abs(v) for v in (num(entry.get("random")), num(entry.get("expert"))) if v is not None]
    return max(refs) if refs else None


def _fmt_value(v: float) -> str:
    """A logged value: 13,000 rather than 1.3e+04 for big ones, 4 significant digits otherwise."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def seed_range(seeds: Sequence[Any]) -> str:
    """Seeds as compact runs, `1000–1004, 2000–2004`; more than three runs become `min–max (n seeds)`."""
    s = sorted({int(x) for x in seeds})
    if not s:
        return "—"
    runs: list[list[int]] = [[s[0], s[0]]]
    for x in s[1:]:
        if x == runs[-1][1] + 1:
            runs[-1][1] = x
        else:
            runs.append([x, x])
    if len(runs) > 3:
        return f"{s[0]}–{s[-1]} ({len(s)} seeds)"
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs)


def _seeds(task: Mapping[str, Any]) -> list[Any]:
    """A task's evaluation seeds: its `seeds` list, else the seeds recorded on its episodes."""
    return list(task.get("seeds") or [ep["seed"] for ep in task.get("episodes") or [] if "seed" in ep])


def _duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


# ---- few-shot verdict -----------------------------------------------------------------------------

def fewshot_verdict(task: str, entry: Mapping[str, Any]) -> tuple[bool | None, str]:
    """Whether any prompting/finetune result beats BOTH zero-shot and scratch, as (answer, sentence).

    Each entry is compared by its mean normalized score with zero-shot and with scratch at the same k,
    or, where scratch has no such k, with the best scratch result (the stricter bar). Ties do not count
    as beating. The answer is None when a baseline is missing and the question cannot be decided.
    """
    methods: Mapping[str, Mapping[str, Any]] = entry.get("methods") or {}
    zero = num(((methods.get("zero-shot") or {}).get("0") or {}).get("normalized"))
    scratch = {int(k): v for k, r in (methods.get("scratch") or {}).items()
               if (v := num(r.get("normalized"))) is not None}
    candidates = [(m, int(k), v) for m in ADAPTATION_METHODS for k, r in (methods.get(m) or {}).items()
                  if (v := num(r.get("normalized"))) is not None]
    if not candidates:
        return None, f"{task}: no prompting or finetune results, so there is nothing to judge."
    missing = [name for name, ok in (("zero-shot", zero is not None), ("scratch", bool(scratch))) if not ok]
    if missing:
        return None, f"{task}: undecided — there is no {' or '.join(missing)} result to compare against."
    assert zero is not None

    def scratch_bar(k: int) -> tuple[float, str]:
        if k in scratch:
            return scratch[k], f"scratch at k={k}"
        best = max(scratch, key=lambda j: scratch[j])
        return scratch[best], f"the best scratch result (k={best})"

    judged = [(v - max(zero, scratch_bar(k)[0]), m, k, v) for m, k, v in candidates]
    margin, m, k, v = max(judged)
    bar, bar_name = scratch_bar(k)
    wins = sum(1 for j in judged if j[0] > 0)
    if margin > 0:
        return True, (f"{task}: yes — {m} at k={k} ({v:.3f}) beats both zero-shot ({zero:.3f}) and {bar_name} "
                      f"({bar:.3f}); {wins} of {len(judged)} prompting/finetune results beat both.")
    return False, (f"{task}: no — no prompting or finetune result beats both zero-shot ({zero:.3f}) and "
                   f"scratch; the closest, {m} at k={k} ({v:.3f}), is not above "
                   f"{'zero-shot' if zero >= bar else bar_name} ({max(zero, bar):.3f}).")


# ---- sections -------------------------------------------------------------------------------------

def _check_info(info: Any) -> None:
    if not isinstance(info, Mapping):
        raise ConfigError(f"eval info must be the dict read from eval_info.json, got {type(info).__name__}; "
                         "regenerate it with `gatosuite evaluate`")
    if not isinstance(info.get("tasks"), Mapping):
        raise ConfigError("eval_info.json has no 'tasks' mapping, so there is nothing to report; regenerate it "
                         "with `gatosuite evaluate`")
    if info.get("schema") != SCHEMA:
        raise ConfigError(f"eval_info.json has schema {info.get('schema')!r} but this report reads schema {SCHEMA}; "
                         "regenerate it with `gatosuite evaluate` from this version of gatosuite")


def _header(info: Mapping[str, Any]) -> list[Block]:
    tasks = info["tasks"]
    sha = str(info.get("checkpoint_sha256") or "")
    ranges = {t: seed_range(_seeds(e)) for t, e in tasks.items()}
    if len(set(ranges.values())) == 1:
        seeds = f"{next(iter(ranges.values()))} for every task"
    else:
        seeds = "differ per task (see the per-task table)"
    return [Heading(1, "gatosuite evaluation report"),
            _p("Checkpoint: ", Code(str(info.get("checkpoint", "unknown"))),
               " (sha256 ", Code(sha[:12] or "unknown"), ")."),
            _p(f"Created {info.get('created', 'at an unknown time')}; {info.get('episodes_per_task', '?')} "
               f"episodes per task over {len(tasks)} tasks; evaluation seeds: {seeds}."),
            _p("Normalized score = (score − random) / (expert − random): 0 is a uniform random policy, 1 the "
               "expert. A task's interval is a 95% bootstrap CI over its episodes.")]


def _aggregate(info: Mapping[str, Any], profile_png: Path | None) -> list[Block]:
    agg = info.get("aggregate") or {}
    out: list[Block] = [Heading(2, "Aggregate normalized scores")]
    groups = ([("overall", agg["overall"])] if agg.get("overall") else []) + \
        [(d, agg["per_domain"][d]) for d in figures.ordered_tasks(
            {d: {"domain": d} for d in agg.get("per_domain") or {}})]
    if not groups:
        return out + [_p("eval_info.json holds no aggregate scores.")]
    rows = []
    for name, a in groups:
        n, frac = a.get("n_tasks"), num(a.get("frac_ge_50"))
        entries = n * a.get("n_runs", 1) if isinstance(n, int) and isinstance(a.get("n_runs", 1), int) else None
        count = f" ({round(frac * entries)}/{entries})" if frac is not None and entries else ""
        rows.append((name, str(n if n is not None else "—"), fmt_norm(a.get("mean")), fmt_norm(a.get("median")),
                     fmt_norm_ci(a.get("iqm"), a.get("iqm_ci")), fmt_norm(frac) + count))
    out.append(_p(describe_aggregate(groups[0][1])))
    out.append(Table(("group", "tasks", "mean", "median", "IQM [95% CI]", "fraction ≥ 0.5 expert"), tuple(rows)))
    if profile_png:
        out.append(Image(profile_png, "performance profile"))
    return out


def _per_task(info: Mapping[str, Any], out_dir: Path, scores_png: Path | None) -> list[Block]:
    tasks = info["tasks"]
    rows, videos = [], []
    for t in figures.ordered_tasks(tasks):
        e = tasks[t]
        metric = str(e.get("metric", "return"))
        video: Inline = "—"
        if e.get("video"):
            href = str(e["video"])
            if (out_dir / href).is_file():
                video = Link("video", href)
                videos.append(Video(t, href))
            else:
                video = f"missing: {href}"
        scale = _scale(e)
        rows.append((t, str(e.get("domain", "?")), metric, "yes" if e.get("heldout") else "no",
                     str(len(e.get("episodes") or [])), seed_range(_seeds(e)), fmt_raw(e.get("score"), metric, scale),
                     fmt_raw(e.get("random"), metric, scale), fmt_raw(e.get("expert"), metric, scale),
                     fmt_norm_ci(e.get("normalized"), e.get("normalized_ci")), video))
    out: list[Block] = [Heading(2, "Per-task results"),
                        Table(("task", "domain", "metric", "held out", "episodes", "seeds", "mean raw score",
                               "random", "expert", "normalized [95% CI]", "video"), tuple(rows))]
    if scores_png:
        out.append(Image(scores_png, "per-task normalized scores"))
    if videos:
        out += [Heading(3, "Videos (first episode of each task)"), *videos]
    return out


def _fewshot(info: Mapping[str, Any], fewshot_png: Path | None, out_dir: Path) -> list[Block]:
    fs = info.get("fewshot") or {}
    if not fs:
        return []
    rows, verdicts, videos = [], [], []
    for task, entry in fs.items():
        if entry.get("video") and (out_dir / entry["video"]).is_file():  # a goal family's held-out seed
            videos.append(Video(f"{task}: the same held-out seed zero-shot and prompted", str(entry["video"])))
            strip = (out_dir / entry["video"]).with_suffix(".png")
            if strip.is_file():
                videos.append(Image(strip, f"{task}: frames of the same held-out seed, zero-shot and prompted"))
        methods = entry.get("methods") or {}
        metric = str(entry.get("metric", "return"))
        extra = sorted(m for m in methods if m not in ("zero-shot", *ADAPTATION_METHODS, "scratch"))
        for m in ("zero-shot", *ADAPTATION_METHODS, "scratch", *extra):
            for k, r in sorted((methods.get(m) or {}).items(), key=lambda kr: int(kr[0])):
                rows.append((task, m, str(k), fmt_norm_ci(r.get("normalized"), r.get("normalized_ci")),
                             fmt_raw(r.get("score"), metric, _scale(entry))))
        verdicts.append(_p(fewshot_verdict(task, entry)[1]))
    out: list[Block] = [Heading(2, "Few-shot adaptation on held-out tasks"),
                        Table(("task", "method", "k", "normalized [95% CI]", "raw score"), tuple(rows)),
                        _p("Does adapting the pretrained model beat both not adapting (zero-shot) and training "
                           "from scratch on the same demonstrations? Compared by mean normalized score:"),
                        *verdicts]
    if fewshot_png:
        out.append(Image(fewshot_png, "few-shot normalized score vs k"))
    return out + videos


def _training(train_csv: Path | None, curve_png: Path | None) -> list[Block]:
    out: list[Block] = [Heading(2, "Training")]
    if curve_png is None:
        where = "no train.csv was given" if train_csv is None else f"{train_csv} is missing or holds no losses"
        return out + [_p(f"Note: the training-curve figure is omitted because {where}.")]
    log = figures.read_train_log(train_csv)
    first = [k for k in ("loss", "val_loss") if k in log]
    keys = first + sorted(set(log) - set(first))
    rows = tuple((k, f"{log[k][0][-1]:.0f}", _fmt_value(log[k][1][-1])) for k in keys)
    return out + [Table(("key", "last step", "last value"), rows), Image(curve_png, "training curve")]


def _timings(info: Mapping[str, Any]) -> list[Block]:
    timings = {k: v for k, v in (info.get("timings") or {}).items() if num(v) is not None}
    if not timings:
        return []
    rows = [(k.removesuffix("_s"), f"{num(v):.1f}", _duration(num(v) or 0.0)) for k, v in timings.items()]
    total = sum(num(v) or 0.0 for v in timings.values())
    rows.append(("total", f"{total:.1f}", _duration(total)))
    return [Heading(2, "Timings"), Table(("stage", "seconds", "h:mm:ss"), tuple(rows))]


# ---- rendering ------------------------------------------------------------------------------------

def _md_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _md_inline(part: Inline) -> str:
    if isinstance(part, Code):
        fence = "``" if "`" in part.text else "`"  # a path with one backtick still fits in a `` span
        pad = " " if part.text.startswith("`") or part.text.endswith("`") else ""
        return f"{fence}{pad}{part.text}{pad}{fence}"
    if isinstance(part, Link):
        return f"[{_md_text(part.text)}]({quote(part.href)})"
    return _md_text(part)


def render_markdown(blocks: Sequence[Block], out_dir: Path) -> str:
    """The blocks as GitHub-flavoured markdown, with figure paths relative to `out_dir`."""
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + _md_text(b.text), ""]
        elif isinstance(b, Para):
            lines += ["".join(map(_md_inline, b.parts)), ""]
        elif isinstance(b, Table):
            lines.append("| " + " | ".join(map(_md_text, b.headers)) + " |")
            lines.append("|" + "---|" * len(b.headers))
            lines += ["| " + " | ".join(map(_md_inline, row)) + " |" for row in b.rows]
            lines.append("")
        elif isinstance(b, Image):
            lines += [f"![{_md_text(b.alt)}]({quote(b.path.relative_to(out_dir).as_posix())})", ""]
        elif isinstance(b, Video):
            lines += [f"- {_md_text(b.caption)}: [{_md_text(b.href)}]({quote(b.href)})", ""]
    return "\n".join(lines).rstrip() + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}td{font-variant-numeric:tabular-nums}img{max-width:100%}
code{background:#f3f3f3;padding:0 3px}figure{display:inline-block;margin:0.5em}"""


def _html_inline(part: Inline) -> str:
    if isinstance(part, Code):
        return f"<code>{html.escape(part.text)}</code>"
    if isinstance(part, Link):
        return f'<a href="{html.escape(quote(part.href))}">{html.escape(part.text)}</a>'
    return html.escape(part)


def render_html(blocks: Sequence[Block], title: str) -> str:
    """The blocks as one HTML page: inline CSS, figures as base64 data URIs, videos as relative files."""
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append("<p>" + "".join(map(_html_inline, b.parts)) + "</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.headers)
            rows = "".join("<tr>" + "".join(f"<td>{_html_inline(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode(b.path.read_bytes()).decode("ascii")
            body.append(f'<p><img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}"></p>')
        elif isinstance(b, Video):
            body.append(f'<figure><video controls width="360" src="{html.escape(quote(b.href))}"></video>'
                        f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}'
            f"</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


# ---- entry point ----------------------------------------------------------------------------------

def write_report(info: dict[str, Any], out_dir: Path, train_csv: Path | None = None) -> dict[str, Path]:
    """Write `out_dir/figures/*.png`, `out_dir/report.md` and `out_dir/report.html`.

    Returns what was written, keyed "markdown", "html" and one key per figure drawn ("task_scores",
    "performance_profile", "training_curve", "fewshot"); a figure with nothing to draw is left out
    and the report says so where it would have been.
    """
    _check_info(info)
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    drawn = {
        "task_scores": figures.task_scores(info, fig_dir / "task_scores.png"),
        "performance_profile": figures.performance_profile(info.get("profile"),
                                                           fig_dir / "performance_profile.png"),
        "training_curve": figures.training_curve(train_csv, fig_dir / "training_curve.png"),
        "fewshot": figures.fewshot(info.get("fewshot"), fig_dir / "fewshot.png"),
    }
    blocks = [*_header(info), *_aggregate(info, drawn["performance_profile"]),
              *_per_task(info, out_dir, drawn["task_scores"]), *_fewshot(info, drawn["fewshot"], out_dir),
              *_training(train_csv, drawn["training_curve"]), *_timings(info)]
    written: dict[str, Path] = {k: p for k, p in drawn.items() if p is not None}
    written["markdown"] = out_dir / "report.md"
    written["markdown"].write_text(render_markdown(blocks, out_dir), encoding="utf-8")
    written["html"] = out_dir / "report.html"
    written["html"].write_text(render_html(blocks, "gatosuite evaluation report"), encoding="utf-8")
    return written
