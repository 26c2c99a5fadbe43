"""The evaluation's report, the same lines in ``eval`` and on the Eval screen.

:func:`accuracy_rows` and :func:`total_rows` are the accuracy table (per category and
temperature, unguided and guided; then the totals) as typed rows, from a run's live cells or a
saved run's summary (:func:`cells_of`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .records import Cell, totals
from .results import Row


def cells_of(doc: Mapping[str, Any]) -> list[Cell]:
    """A result document's ``summary`` back as cells (a saved run shown like a live one)."""
    out = []
    for c in doc.get("summary") or []:
        out.append(
            Cell(
                str(c["category"]),
                float(c["temperature"]),
                bool(c["guided"]),
                planned=int(c.get("planned") or 0),
                passed=int(c.get("passed") or 0),
                failed=int(c.get("failed") or 0),
                errors=int(c.get("errors") or 0),
                skipped=int(c.get("skipped") or 0),
            )
        )
    return out


def pct(cell: Cell | None) -> str:
    """``83.3% (5/6)``; ``n/a`` when nothing was scored yet, ``-`` for no such cell."""
    if cell is None:
        return "-"
    acc = cell.accuracy
    return "n/a" if acc is None else f"{acc:.1%} ({cell.passed}/{cell.scored})"


@dataclass(frozen=True)
class AccuracyRow:
    """One category at one temperature: its unguided cell and, when run, its guided one."""

    category: str
    temperature: float
    unguided: Cell | None
    guided: Cell | None

    @property
    def key(self) -> str:
        return f"{self.category}@{self.temperature:g}"

    @property
    def cells(self) -> list[Cell]:
        return [c for c in (self.unguided, self.guided) if c is not None]

    @property
    def planned(self) -> int:
        return sum(c.planned for c in self.cells)

    @property
    def done(self) -> int:
        return sum(c.scored + c.skipped for c in self.cells)

    @property
    def skipped(self) -> int:
        return sum(c.skipped for c in self.cells)

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.cells)


def accuracy_rows(cells: Sequence[Cell]) -> list[AccuracyRow]:
    """Per category and temperature, in the run's order."""
    by_key = {(c.category, c.temperature, c.guided): c for c in cells}
    return [
        AccuracyRow(cat, t, by_key.get((cat, t, False)), by_key.get((cat, t, True)))
        for cat, t in dict.fromkeys((c.category, c.temperature) for c in cells)
    ]


@dataclass(frozen=True)
class TotalRow:
    """Per temperature, unguided and guided: pooled accuracy and the mean of the categories'."""

    label: str
    """``all (pooled)`` or ``mean of categories``."""
    temperature: float
    unguided: str
    guided: str

    @property
    def key(self) -> str:
        return f"{self.label}@{self.temperature:g}"


def total_rows(cells: Sequence[Cell]) -> list[TotalRow]:
    """The leaderboard's two ways of summing categories up, as ``eval`` prints them."""
    by_key = {(x["temperature"], x["guided"]): x for x in totals(list(cells))}
    temps = list(dict.fromkeys(k[0] for k in by_key))
    out = []
    for label in ("all (pooled)", "mean of categories"):
        for t in temps:
            texts = []
            for g in (False, True):
                x = by_key.get((t, g))
                if x is None:
                    texts.append("-")
                elif label == "all (pooled)":
                    acc = x["accuracy"]
                    texts.append(
                        "n/a" if acc is None else f"{acc:.1%} ({x['passed']}/{x['scored']})"
                    )
                else:
                    m = x["mean_category_accuracy"]
                    texts.append("n/a" if m is None else f"{m:.1%}")
            out.append(TotalRow(label, t, texts[0], texts[1]))
    return out


def compare_cells(row: Row) -> list[str]:
    """One row of ``eval compare``'s table, as text."""

    def p(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    return [
        row.category,
        f"{row.temperature:g}",
        "guided" if row.guided else "unguided",
        f"{p(row.a)} ({row.a_scored})",
        f"{p(row.b)} ({row.b_scored})",
        "-" if row.diff is None else f"{row.diff * 100:+.1f} pt",
        str(row.fixed),
        str(row.broken),
    ]


COMPARE_HEADER = ("CATEGORY", "T", "PASS", "A", "B", "B-A", "FIXED IN B", "BROKEN IN B")
