"""What every family's config dataclass shares: to and from config.json, and the diff a mismatched
checkpoint error lists."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, ClassVar


class ConfigBase:
    """Mixin for a frozen config dataclass of a model family."""

    legacy: ClassVar[dict[str, Any]] = {}
    """What a checkpoint written before a field existed was trained with: filled in when the field is missing
    from its config.json, so an old checkpoint keeps its behaviour when a default changes."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """A config from a checkpoint's config.json: fields a checkpoint predates take their legacy value,
        unknown fields are an error."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}")
        return cls(**{**{k: v for k, v in cls.legacy.items() if k in names}, **{k: _tuples(v) for k, v in d.items()}})

    def diff(self, other: Any) -> dict[str, tuple[Any, Any]]:
        """Fields that differ, as {name: (self, other)}."""
        a, b = asdict(self), asdict(other)  # type: ignore[call-overload]
        return {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}


def _tuples(v: Any) -> Any:
    """JSON's lists back to the tuples a frozen config holds (a task vocabulary, instruction ids)."""
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
