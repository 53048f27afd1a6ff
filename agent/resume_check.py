"""What `train --resume` may change, and the check of everything else.

A resumed run continues the run in its --out folder exactly: the same data, tokenizer, model and
schedule. Resuming with other run-defining arguments is refused, listing each difference (the run's
value vs the requested one), instead of quietly training one run under another's name. The check is
generic: every TrainArgs field is compared with the value the checkpoint's config.json recorded
(`train_args`, as strings), except the fields of RESUMABLE, which only say how long, where, or how visibly
this session trains. A field the checkpoint did not record (one added to TrainArgs since) is not compared,
so older checkpoints keep resuming. The text model is compared by its sha256.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import recipes
from .checkpoint import CONFIG_FILE, CheckpointMismatchError, read_config, train_args_of

RESUMABLE: dict[str, str] = {
    "resume": "continuing is what --resume asks for",
    "minutes": "this session's time budget",
    "stop_at": "where this session stops (train in slices)",
    "log_every": "how often this session logs",
    "val_every": "how often this session validates",
    "val_batches": "how many batches a validation takes",
    "ckpt_every": "how often this session checkpoints",
    "device": "where this session runs",
    "precision": "the arithmetic this session runs in",
    "compile": "whether this session compiles the model",
    "root": "where the data lives (a moved data folder is the same data)",
    "out": "the run folder itself (it may have been moved)",
    "init_from": "the starting weights, which the run's checkpoint replaces on resume",
    "fit_schedule": "the schedule is fitted once, when a run starts; a resumed run keeps the recorded length",
}
"""TrainArgs fields that may differ on --resume, with the reason each one may."""


class ResumeMismatchError(CheckpointMismatchError):
    """`train --resume` asked for another run than the one in --out."""


def _tasks(selector: str) -> str:
    """A task selector as the sorted ids it selects ('cartpole,acrobot' == 'acrobot,cartpole')."""
    from gatosuite.envs import SUITE

    try:
        return ",".join(sorted(t.id for t in SUITE.select(selector)))
    except KeyError:  # a task renamed since: compare the text
        return selector


def _as_resolved(recorded: dict[str, str]) -> dict[str, str]:
    """The recorded recipe fields as TrainArgs holds them once resolved: a run from before recipes recorded
    one segment per window as 'None', which is 0 now (agent/recipes.py:recorded reads both)."""
    if "segment_steps" not in recorded:
        return recorded
    values = recipes.recorded(recorded)
    return {**recorded, **{k: str(v) for k, v in values.items() if k in recorded}}


def differences(recorded: dict[str, str], requested: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{field: (run's value, requested value)} of the run-defining fields that differ."""
    recorded = _as_resolved(recorded)
    out = {}
    for name, value in requested.items():
        if name in RESUMABLE or name not in recorded:
            continue
        old, new = recorded[name], str(value)
        if name == "tasks" and old != new and _tasks(old) == _tasks(new):
            continue
        if old != new:
            out[name] = (old, new)
    return out


def check_resume(args: Any, text_fingerprint: str | None) -> None:
    """Refuse to resume the run in args.out with other run-defining arguments or another text model.
    A folder without a checkpoint is left to the loader, which says so."""
    from dataclasses import asdict

    ckpt = Path(args.out) / "checkpoint"
    if not (ckpt / CONFIG_FILE).is_file():
        return
    meta = read_config(ckpt)
    diff = differences(train_args_of(meta), asdict(args))
    parts = [f"{k}: run {a!r} vs requested {b!r}" for k, (a, b) in sorted(diff.items())]
    if "steps" in diff:
        length = meta.get("schedule_steps", diff["steps"][0])
        fitted = " (fitted to its --minutes)" if str(length) != diff["steps"][0] else ""
        parts[sorted(diff).index("steps")] += (f" (the run's cosine schedule is {length} steps long{fitted}; "
                                               f"resume with --steps {diff['steps'][0]}, and --stop-at to stop "
                                               "earlier)")
    recorded_text = meta.get("text_model_sha256")
    if recorded_text and text_fingerprint and recorded_text != text_fingerprint:
        parts.append(f"text model: run sha256 {recorded_text[:12]} vs requested {text_fingerprint[:12]} (pass the "
                     "--text-vocab, or text model, the run was trained with)")
    if parts:
        raise ResumeMismatchError(f"cannot resume the run in '{args.out}' with other settings than it was started "
                                  f"with: {'; '.join(parts)}. Resume with the run's values, or start a new run in "
                                  f"another --out (with --init-from {ckpt} to start from its weights)")
