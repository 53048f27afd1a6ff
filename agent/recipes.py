"""Training recipes: the one definition of what `gatosuite train --recipe NAME` sets.

A recipe is the set of TrainArgs values (how windows are cut, how observations are tokenized) and
model-config overrides (what the model takes as input, what it predicts, how it decodes) that together
make a way of training. Two are defined:

- `gatosuite-2026` (the default of `gatosuite train`, `gatosuite compare`, the demo and the benchmarks):
  the recipe that learns continuous control. Packed 8-timestep segments, per-task observation
  standardization, value input embeddings, masked action inputs, HL-Gauss action targets and mode-mean
  decoding. benchmarks/bench_ablation.py measures each change, one at a time, starting from `gato-2022`.
- `gato-2022`: the Gato paper's plain recipe (Reed et al. 2022): one episode window per row, Gato's
  mu-law tokenization without standardization, token-only inputs, past actions as inputs, one-hot NLL
  targets and argmax decoding. On continuous control it clones a constant action.

The model config classes keep Gato's values as their defaults (agent/models/gato/configuration_gato.py),
and a recipe applies its choices as overrides when the model is built. So a checkpoint's config.json
alone says how its model acts, whatever the recipe, and changing the default recipe never changes how an
existing checkpoint loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gatosuite.errors import ConfigError, UnknownNameError


@dataclass(frozen=True)
class Recipe:
    """One named way of training; every field is a value a TrainArgs field or the model config takes."""

    name: str
    """What `--recipe` takes and the checkpoint's train_args record."""
    summary: str
    """One line for --help and the docs."""
    segment_steps: int
    """TrainArgs.segment_steps: timesteps per packed segment; 0 fills each window with one episode
    stretch (Gato)."""
    obs_norm: bool
    """TrainArgs.obs_norm: standardize continuous observations with the dataset's statistics."""
    overrides: tuple[str, ...]
    """Model config fields as name=value, applied where the model family's config has the field (a
    contrastive family has no action fields)."""

    def fields(self) -> dict[str, Any]:
        """The TrainArgs fields this recipe sets, as keyword arguments (the recipe's name included)."""
        return {"recipe": self.name, "segment_steps": self.segment_steps, "obs_norm": self.obs_norm,
                "overrides": list(self.overrides)}


GATO_2022 = Recipe(
    name="gato-2022",
    summary="the Gato paper's plain recipe: one episode window per row, no observation standardization, "
            "token inputs, past actions as inputs, one-hot NLL targets, argmax decoding",
    segment_steps=0, obs_norm=False,
    overrides=("value_input=token", "action_inputs=tokens", "action_targets=onehot",
               "continuous_decoding=argmax"))

GATOSUITE_2026 = Recipe(
    name="gatosuite-2026",
    summary="the recipe that learns continuous control: packed 8-timestep segments, standardized "
            "observations, value inputs, masked action inputs, HL-Gauss targets, mode-mean decoding",
    segment_steps=8, obs_norm=True,
    overrides=("value_input=token+value", "action_inputs=masked", "action_targets=hl-gauss",
               "continuous_decoding=mode-mean"))

RECIPES: dict[str, Recipe] = {r.name: r for r in (GATOSUITE_2026, GATO_2022)}
"""Every recipe by name; the first is the default."""

DEFAULT_RECIPE = GATOSUITE_2026.name
"""What `gatosuite train`, `compare`, the demo and the benchmarks train when no recipe is named."""

LEGACY_RECIPE = GATO_2022.name
"""What a run recorded before recipes existed started from: TrainArgs' defaults were then Gato's plain
recipe, and every other value it trained with was an explicit flag, recorded in its train_args."""


def get_recipe(name: str) -> Recipe:
    """The recipe of that name; an unknown one lists the known ones."""
    if name not in RECIPES:
        raise UnknownNameError(f"unknown recipe '{name}'; known: {', '.join(RECIPES)}")
    return RECIPES[name]


def merge_overrides(base: list[str] | tuple[str, ...], extra: list[str]) -> list[str]:
    """`base` with each name=value of `extra` replacing the item of the same name (or added after them), so
    `--overrides continuous_decoding=mean` replaces only that one of the recipe's overrides."""
    merged: dict[str, str] = {}
    for item in [*base, *extra]:
        name, sep, _ = item.partition("=")
        if not sep:
            raise ConfigError(f"bad model override '{item}'; use name=value")
        merged[name] = item
    return list(merged.values())


def for_config(overrides: list[str], config: type) -> list[str]:
    """The overrides whose field `config` (a model family's config dataclass) has."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config)}
    return [o for o in overrides if o.partition("=")[0] in names]


def recorded(train_args: dict[str, Any]) -> dict[str, Any]:
    """The recipe fields a checkpoint's train_args record, typed as TrainArgs takes them. The trainer writes
    every value as a string ('8', 'True', "['value_input=token+value']"); a run recorded before recipes has
    no 'recipe' (it started from `LEGACY_RECIPE`) and 'None' for one segment per window."""
    import ast

    def value(name: str, default: Any) -> Any:
        v = train_args.get(name, default)
        if not isinstance(v, str) or name == "recipe":
            return v
        try:
            return ast.literal_eval(v)  # literals only: no code runs
        except (ValueError, SyntaxError):
            raise ConfigError(f"the checkpoint's train_args hold an unreadable {name} {v!r}") from None

    return {"recipe": value("recipe", None) or LEGACY_RECIPE, "segment_steps": int(value("segment_steps", 0) or 0),
            "obs_norm": bool(value("obs_norm", False)), "overrides": list(value("overrides", []))}


def help_text() -> str:
    """--recipe's help: every recipe with what it sets (so --help and this module cannot disagree)."""
    lines = ["Training recipe (agent/recipes.py): sets --segment-steps, --obs-norm and model --overrides; a flag "
             f"given explicitly wins over it. Unset: {DEFAULT_RECIPE}, or with --resume or --init-from the "
             "checkpoint's own recipe and values."]
    for r in RECIPES.values():
        lines.append(f"{r.name}{' (default)' if r.name == DEFAULT_RECIPE else ''}: {r.summary} "
                     f"(segment_steps={r.segment_steps}, obs_norm={r.obs_norm}, overrides {' '.join(r.overrides)}).")
    return " ".join(lines)
