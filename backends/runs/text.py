"""Plain text tables: what a run's report, the command line and the panel print alike.

The standard library only (the command line's tables use it too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Left-aligned columns two spaces apart, the header first; no trailing blanks."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def maybe(value: Any, spec: str, none: str = "—") -> str:
    """``value`` formatted by ``spec``; ``none`` when there is none."""
    return none if value is None else format(value, spec)
