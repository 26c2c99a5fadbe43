"""The evaluation's report, the same lines in ``eval`` and on the Eval screen.

:func:`accuracy_rows` and :func:`total_rows` are the accuracy table (per category and
temperature, unguided and guided; then the totals) as typed rows, from a run's live cells or a
saved run's summary (:func:`cells_of`); :func:`summary_lines` prints them, with the run's
:func:`notes_lines` (what it measured, stopped early, skipped cases) that the screen shows
under its table. :func:`failed_lines` is one failed case whole, :func:`progress_line` a
running run's line, :func:`compare_lines` two runs side by side.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from naptha_tui.backends.runs.store import RunKind
from naptha_tui.backends.runs.text import came_back_lines, table

from .records import Cell, Progress, Record, totals
from .results import RUNS, Row, compare, describe, summary


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


def progress_line(p: Progress) -> str:
    """A running run's line (headless, every few seconds and at the last sample)."""
    acc = "-" if p.accuracy is None else f"{p.accuracy:.1%}"
    return (
        f"[{p.elapsed_s:6.1f} s] {p.done}/{p.planned} done: {p.passed} passed ({acc}), "
        f"{p.failed} failed ({p.errors} request errors), {p.skipped} skipped, "
        f"{p.in_flight} in flight"
    )


def notes_lines(doc: Mapping[str, Any]) -> list[str]:
    """What the run measured; then whether it stopped early, and each case skipped."""
    lines = [f"{describe(doc)} via {doc.get('proxy_url')}"]
    if doc.get("cancelled"):
        lines.append(f"stopped early: {doc.get('done')} of {doc.get('planned')} samples ran")
    for s in doc.get("skipped") or []:
        lines.append(
            f"skipped {s['case_id']}: function {s['function']!r}"
            + (f", parameter {s['parameter']!r}" if s.get("parameter") else "")
            + f": {s['message']}"
        )
    return lines


def summary_lines(doc: Mapping[str, Any]) -> list[str]:
    """Accuracy per category and temperature (unguided and, when run, guided), then totals."""
    guided = bool((doc.get("config") or {}).get("guided"))
    cells = cells_of(doc)
    rows: list[list[Any]] = []
    for r in accuracy_rows(cells):
        row: list[Any] = [r.category, f"{r.temperature:g}", pct(r.unguided)]
        if guided:
            row.append(pct(r.guided))
        rows.append([*row, r.skipped, r.errors])
    for t in total_rows(cells):
        rows.append([t.label, f"{t.temperature:g}", t.unguided, *([t.guided] if guided else []),
                     "", ""])  # fmt: skip
    header = ["CATEGORY", "T", "UNGUIDED", *(["GUIDED"] if guided else []), "SKIPPED", "ERRORS"]
    first, *notes = notes_lines(doc)
    return [first, "", *table(rows, header).splitlines(), *notes]


def _calls(r: Record) -> str:
    parts = []
    for c in r.tool_calls:
        args = c.get("arguments")
        if isinstance(args, str):
            with contextlib.suppress(ValueError):
                args = json.dumps(json.loads(args), ensure_ascii=False)
        parts.append(f"{c.get('name')}({args})")
    return ", ".join(parts) or "none"


def failed_lines(r: Record) -> list[str]:
    """One failed case: what was asked, what a right answer is, what came back, and why not."""
    mode = "guided" if r.guided else "unguided"
    out = [f"FAIL {r.case_id} ({r.category}, t={r.temperature:g}, {mode}): {r.verdict.error_type}"]
    for m in r.question or []:
        out.append(f"  {m.get('role')}: {str(m.get('content'))[:400]}")
    if r.functions is not None:
        out.append(f"  functions: {', '.join(r.functions) or 'none'}")
    if r.expected is not None:
        out.append(f"  expected: {json.dumps(r.expected, ensure_ascii=False)[:600]}")
    out.append(f"  tool_calls: {_calls(r)}")
    if r.decoded is not None:
        out.append(f"  decoded: {json.dumps(r.decoded, ensure_ascii=False)[:600]}")
    out += came_back_lines(r.content, r.raw, r.raw_source, r.raw_note, 400, ascii_only=False)
    out += [f"  mismatch: {m}" for m in r.mismatches]
    out.append(f"  reason: {r.verdict.reason}")
    if r.layer is not None:
        out.append(f"  layer: {r.layer}: {r.layer_reason}")
    return out


def accuracy_text(accuracy: Mapping[str, float | None]) -> str:
    """A saved run's pooled accuracies: ``t=0 83.3%  t=0 guided 75.0%``."""
    return "  ".join(f"{k} {'n/a' if v is None else format(v, '.1%')}" for k, v in accuracy.items())


def list_cells(run: Mapping[str, Any]) -> list[str]:
    """A saved run's row (``results.summary``), as ``LIST_HEADER`` names its columns."""
    return [
        str(run["name"]),
        str(run["model"]),
        run["preset"] or "-",
        ",".join(run["categories"] or []),
        f"{run['done']}/{run['planned']}" + (" stopped" if run["cancelled"] else ""),
        accuracy_text(run["accuracy"]),
    ]


LIST_HEADER = ("RUN", "MODEL", "PRESET", "CATEGORIES", "DONE", "ACCURACY")


def about_lines(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """What A and B each measured."""
    return [f"A: {a.get('name')}: {describe(a)}", f"B: {b.get('name')}: {describe(b)}"]


def compare_lines(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Accuracy per category, temperature and pass in A and B, the cases that flipped."""
    rows = [compare_cells(r) for r in compare(a, b)]
    return [*table(rows, COMPARE_HEADER).splitlines(), *about_lines(a, b)]


SHOW = "eval show {name} --failed"
EVAL_RUNS = RunKind(
    RUNS, summary, LIST_HEADER, list_cells, compare, compare_lines, summary_lines, SHOW
)
"""Saved evaluations: ``eval list``, ``eval compare`` and the Eval screen's Saved runs."""
