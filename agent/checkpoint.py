"""Checkpoints: `model.safetensors`, `config.json`, `tokenizer.model`, and `trainer_state.pt`
(optimizer, schedule step, sampler generator) for exact resume. Written atomically (a temp folder
renamed into place) and loaded without pickle (safetensors, and `torch.load(weights_only=True)`).

config.json records the model family as `architecture` (agent/families.py), and loading builds that
family's model; a checkpoint from before the field existed is a Gato one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gatosuite.errors import DataNotFoundError, GatosuiteError
from gatosuite.tokenization import TextModel

from .families import family_of_config, get_family

MODEL_FILE, CONFIG_FILE, STATE_FILE = "model.safetensors", "config.json", "trainer_state.pt"


class CheckpointMismatchError(GatosuiteError, ValueError):
    """A checkpoint made with another model config or tokenizer."""


class CorruptCheckpointError(GatosuiteError, ValueError):
    """A checkpoint file that is truncated or malformed."""


def save_checkpoint(directory: Path, model: torch.nn.Module, text_model: TextModel | None,
                    extra: dict[str, Any] | None = None, trainer_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint folder atomically; returns its path."""
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / MODEL_FILE))
    meta = {"architecture": family_of_config(model.cfg).name, "model": model.cfg.to_dict(), **(extra or {})}
    if text_model is not None:
        text_model.save(tmp)
        meta["text_model_sha256"] = text_model.fingerprint
    (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    if trainer_state is not None:
        torch.save(trainer_state, tmp / STATE_FILE)
    old = directory.with_name(f".{directory.name}.old.{os.getpid()}")
    if directory.exists():
        os.replace(directory, old)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def _fix(directory: Path) -> str:
    return (f"copy the checkpoint again from where it was made, or retrain; a training run's last good "
            f"checkpoint is rewritten at every --ckpt-every, so `gatosuite train --resume` on its run folder "
            f"starts from the previous one if '{directory}' was its checkpoint")


def read_config(directory: Path) -> dict[str, Any]:
    """A checkpoint's config.json; a missing or malformed file is an error naming it and the fix."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise DataNotFoundError(f"no checkpoint at '{directory}' ({CONFIG_FILE} missing); pass the folder that "
                                f"holds {MODEL_FILE} and {CONFIG_FILE}, e.g. runs/<run>/checkpoint")
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
            raise ValueError("it has no 'model' object")
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptCheckpointError(f"'{path}' is not a valid checkpoint config ({e}); {_fix(directory)}") from None
    return meta


def config_of(directory: Path, meta: dict[str, Any] | None = None) -> Any:
    """The model config recorded in a checkpoint, of its family's config class."""
    meta = meta if meta is not None else read_config(directory)
    family = get_family(meta.get("architecture", "gato"))  # checkpoints before the field are Gato's
    try:
        return family.config.from_dict(meta["model"])
    except (TypeError, ValueError) as e:
        raise CorruptCheckpointError(f"'{Path(directory) / CONFIG_FILE}' holds a model config this version cannot "
                                     f"build ({e}); {_fix(directory)}") from None


RENAMED_TRAIN_ARGS = {"family_start_prob": "goal_start_prob"}
"""TrainArgs fields renamed since checkpoints began recording them: old name -> current name."""


def train_args_of(meta: dict[str, Any]) -> dict[str, Any]:
    """The TrainArgs a checkpoint recorded (as strings) under today's field names, so that a checkpoint
    written before a rename (e.g. `family_start_prob`, now `goal_start_prob`) still reports its values."""
    recorded = dict(meta.get("train_args") or {})
    for old, new in RENAMED_TRAIN_ARGS.items():
        if old in recorded:
            recorded.setdefault(new, recorded.pop(old))
    return recorded


def load_model(directory: Path, expected: Any | None = None,
               device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model of a checkpoint, on `device` (weights are read to the CPU first, so a checkpoint written
    on any device loads on any other). With `expected`, a different config is a CheckpointMismatchError
    that lists every differing field."""
    meta = read_config(directory)
    cfg = config_of(directory, meta)
    if expected is not None and type(cfg) is not type(expected):
        raise CheckpointMismatchError(f"checkpoint '{directory}' holds a '{type(cfg).architecture}' model, not "
                                      f"'{type(expected).architecture}'; pass --model "
                                      f"{type(cfg).architecture}, or start a new run in another --out folder")
    if expected is not None and cfg != expected:
        diff = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in cfg.diff(expected).items())
        raise CheckpointMismatchError(f"checkpoint '{directory}' was made with another model config ({diff}); "
                                      "use its config, or start a new run in another --out folder")
    path = Path(directory) / MODEL_FILE
    if not path.is_file():
        raise DataNotFoundError(f"'{directory}' has {CONFIG_FILE} but no {MODEL_FILE}; {_fix(directory)}")
    try:
        weights = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CorruptCheckpointError(f"'{path}' is truncated or not a safetensors file ({e}); "
                                     f"{_fix(directory)}") from None
    model = family_of_config(cfg).model(cfg)
    missing, unexpected = set(model.state_dict()) - set(weights), set(weights) - set(model.state_dict())
    if missing or unexpected:
        raise CheckpointMismatchError(f"'{path}' does not match the config next to it (missing: "
                                      f"{sorted(missing)[:5]}, unexpected: {sorted(unexpected)[:5]}); "
                                      f"{_fix(directory)}")
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:  # shapes differ from the config
        raise CheckpointMismatchError(f"'{path}' does not match the config next to it ({str(e)[:300]}); "
                                      f"{_fix(directory)}") from None
    return model.to(device), meta


def load_trainer_state(directory: Path) -> dict[str, Any]:
    """Optimizer, schedule and RNG state for an exact resume, read to the CPU without pickle."""
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise DataNotFoundError(f"'{directory}' has no {STATE_FILE}; it cannot be resumed exactly. Start a new "
                                f"run with --init-from {directory} to keep its weights")
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except (RuntimeError, OSError, EOFError, ValueError) as e:
        raise CorruptCheckpointError(f"'{path}' cannot be read ({str(e)[:200]}); start a new run with "
                                     f"--init-from {directory} to keep its weights") from None
