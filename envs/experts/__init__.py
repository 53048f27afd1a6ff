"""Experts by name. Each task in the registry names its expert; `make_expert(name, env)` builds it.

Factories take the raw env (before the canonical observation wrapper) so they can read its spaces.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym

from gatosuite.errors import UnknownNameError

from .base import Expert

EXPERTS: dict[str, Callable[[gym.Env], Expert]] = {}
_UNLOADED: dict[str, str] = {}
"""Expert modules whose simulator package is not installed: module -> the missing package."""


def register_expert(name: str) -> Callable[[Callable[[gym.Env], Expert]], Callable[[gym.Env], Expert]]:
    """Decorator: register a factory `env -> Expert` under `name`."""

    def wrap(factory: Callable[[gym.Env], Expert]) -> Callable[[gym.Env], Expert]:
        if name in EXPERTS:
            raise ValueError(f"expert '{name}' is already registered")
        EXPERTS[name] = factory
        return factory

    return wrap


def make_expert(name: str, env: gym.Env) -> Expert:
    if name not in EXPERTS:
        _load_all()
    if name not in EXPERTS:
        missing = "".join(f"; {m} needs '{p}', which is not installed" for m, p in sorted(_UNLOADED.items()))
        raise UnknownNameError(f"unknown expert '{name}'; known: {', '.join(sorted(EXPERTS))}{missing}")
    return EXPERTS[name](env)


def _load_all() -> None:
    """Import every expert module so their @register_expert lines run. A module whose simulator package is
    missing (an install with only some simulators) is skipped and named if one of its experts is asked for."""
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if mod.name not in ("base", "train"):
            try:
                importlib.import_module(f"{__name__}.{mod.name}")
            except ModuleNotFoundError as e:
                if e.name is None or e.name.split(".")[0] == "gatosuite":
                    raise
                _UNLOADED[mod.name] = e.name.split(".")[0]


__all__ = ["EXPERTS", "Expert", "make_expert", "register_expert"]
