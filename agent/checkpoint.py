"""Checkpoints: `model.safetensors`, `config.json`, `tokenizer.model`, and `trainer_state.pt`
(optimizer, schedule step, sampler generator) for exact resume. Written atomically (a temp folder
renamed into place) and loaded without pickle (safetensors, and `torch.load(weights_only=True)`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gatosuite.tokenization import TextModel

from .configuration_gato import GatoConfig
from .modeling_gato import GatoModel

MODEL_FILE, CONFIG_FILE, STATE_FILE = "model.safetensors", "config.json", "trainer_state.pt"


class CheckpointMismatchError(ValueError):
    """A checkpoint made with another model config or tokenizer."""


def save_checkpoint(directory: Path, model: GatoModel, text_model: TextModel | None,
                    extra: dict[str, Any] | None = None, trainer_state: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint folder atomically; returns its path."""
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(tmp / MODEL_FILE))
    meta = {"model": model.cfg.to_dict(), **(extra or {})}
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


def read_config(directory: Path) -> dict[str, Any]:
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at '{directory}' ({CONFIG_FILE} missing)")
    return json.loads(path.read_text())


def load_model(directory: Path, expected: GatoConfig | None = None) -> tuple[GatoModel, dict[str, Any]]:
    """The model of a checkpoint. With `expected`, a different config is a CheckpointMismatchError that
    lists every differing field."""
    meta = read_config(directory)
    cfg = GatoConfig(**meta["model"])
    if expected is not None and cfg != expected:
        diff = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in cfg.diff(expected).items())
        raise CheckpointMismatchError(f"checkpoint '{directory}' was made with another model config ({diff}); "
                                      "use its config, or start a new run in another --out folder")
    model = GatoModel(cfg)
    model.load_state_dict(load_file(str(Path(directory) / MODEL_FILE)))
    return model, meta


def load_trainer_state(directory: Path) -> dict[str, Any]:
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"'{directory}' has no {STATE_FILE}; it cannot be resumed exactly")
    return torch.load(path, weights_only=True)
