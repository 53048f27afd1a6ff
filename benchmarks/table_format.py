"""The pieces every results table is made of: reading a benchmark's JSON, a value with its CI, a Markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> Any:
    return json.loads((RESULTS / name).read_text())


def ci(value: float, ci: list[float] | tuple[float, float], digits: int = 3) -> str:
    f = f"{{:.{digits}f}}"
    return f"{f.format(value)} [{f.format(ci[0])}, {f.format(ci[1])}]".replace("-", "−")


def md(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
