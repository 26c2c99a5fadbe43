"""Plain text tables: what a run's report, the command line and the panel print alike.

The standard library only (the command line's tables use it too).
"""

from __future__ import annotations

import json
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


def came_back_lines(
    content: str | None,
    raw: str | None,
    raw_source: str | None,
    raw_note: str | None,
    limit: int,
    ascii_only: bool = True,
) -> list[str]:
    """What came back besides the calls: content, raw text, why there is none.

    The same lines for a playground sample and a failed eval case; the raw text is shown when
    it is not the content.
    """

    def shown(text: str) -> str:
        return json.dumps(text, ensure_ascii=ascii_only)[:limit]

    out = []
    if content:
        out.append(f"  content: {shown(content)}")
    if raw is not None and raw != content:
        out.append(f"  raw ({raw_source}): {shown(raw)}")
    if raw_note:
        out.append(f"  raw: {raw_note}")
    return out
