"""Checkpoints: `model.safetensors`, `config.json`, `tokenizer.model`, and `trainer_state.pt`
(optimizer, schedule step, sampler generator) for exact resume. Written atomically (a temp folder
renamed into place) and loaded without pickle (safetensors, and `torch.load(weights_only=True)`).

config.json records the model family as `architecture` (agent/families.py), and loading builds that
family's model; a checkpoint from before the field existed is a Gato one. It also records the sha256 of
model.safetensors and trainer_state.pt (`files_sha256`), checked on every load; a checkpoint from before that
field loads unchecked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gatosuite.errors import RESUME_FIX, DataNotFoundError, GatosuiteError, disk_full_is_an_error
from gatosuite.tokenization import TextModel

from .families import family_of_config, get_family

MODEL_FILE, CONFIG_FILE, STATE_FILE = "model.safetensors", "config.json", "trainer_state.pt"
HASHES = "files_sha256"
"""config.json's field of {file name: sha256} of the weights and trainer state, checked on load."""


class CheckpointMismatchError(GatosuiteError, ValueError):
    """A checkpoint made with another model config or tokenizer."""


class CorruptCheckpointError(GatosuiteError, ValueError):
    """A checkpoint file that is truncated or malformed."""


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (streamed: a few MB of nano weights hash in milliseconds)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


CARRIED_META = ("train_args", "obs_stats", "segment_steps", "modalities")
"""What a starting checkpoint made from another (a continual stage's start) keeps of that one's config.json:
the recipe it trained with and how it tokenized its tasks, so the next stage trains and tokenizes alike."""


def carried_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """The CARRIED_META entries of a checkpoint's config.json."""
    return {k: meta[k] for k in CARRIED_META if k in meta}


def save_checkpoint(directory: Path, model: torch.nn.Module, text_model: TextModel | None,
                    extra: dict[str, Any] | None = None, trainer_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint folder atomically; returns its path. config.json records the sha256 of the
    weights (and trainer state) as written, read back from the temp folder, so that a file changed later
    (a flipped bit, a partial copy) is refused on load instead of silently giving another policy. On a full
    disk the temp folder is removed and the previous checkpoint stays as it was."""
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    kept = f"the previous checkpoint in '{directory}' is intact; " if (directory / CONFIG_FILE).is_file() else ""
    try:
        with disk_full_is_an_error(directory, kept + RESUME_FIX):
            _write(tmp, model, text_model, extra, trainer_state)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = directory.with_name(f".{directory.name}.old.{os.getpid()}")
    if directory.exists():
        os.replace(directory, old)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def _write(tmp: Path, model: torch.nn.Module, text_model: TextModel | None, extra: dict[str, Any] | None,
           trainer_state: dict[str, Any] | None) -> None:
    """The checkpoint's files, into the temp folder `tmp`; config.json last, with the files' hashes."""
    tmp.mkdir(parents=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / MODEL_FILE))
    meta = {"architecture": family_of_config(model.cfg).name, "model": model.cfg.to_dict(), **(extra or {})}
    if text_model is not None:
        text_model.save(tmp)
        meta["text_model_sha256"] = text_model.fingerprint
    if trainer_state is not None:
        torch.save(trainer_state, tmp / STATE_FILE)
    meta[HASHES] = {name: file_sha256(tmp / name) for name in (MODEL_FILE, STATE_FILE) if (tmp / name).is_file()}
    (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))


def verify(directory: Path, name: str, meta: dict[str, Any]) -> None:
    """Refuse a file whose sha256 differs from the one config.json recorded when it was written. A
    checkpoint from before the hashes were recorded has nothing to check."""
    expected = meta.get(HASHES, {}).get(name)
    path = Path(directory) / name
    if expected is not None and file_sha256(path) != expected:
        raise CorruptCheckpointError(f"'{path}' is not the file that was saved (its sha256 differs from the one "
                                     f"in {CONFIG_FILE}: a flipped bit, a partial copy or an edit); "
                                     f"{_fix(directory)}")


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
    verify(directory, MODEL_FILE, meta)  # a file that parses may still hold other weights than were saved
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
    verify(directory, STATE_FILE, read_config(directory))
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except (RuntimeError, OSError, EOFError, ValueError) as e:
        raise CorruptCheckpointError(f"'{path}' cannot be read ({str(e)[:200]}); start a new run with "
                                     f"--init-from {directory} to keep its weights") from None
