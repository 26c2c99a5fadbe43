"""Saved evaluation runs as rows of the Saved runs table, and two of them compared
(``results.compare``)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from naptha_tui.backends.evals.report import COMPARE_HEADER, accuracy_text, compare_cells
from naptha_tui.backends.evals.results import Row
from naptha_tui.tui.widgets.saved_runs import stopped

RUNS_COLUMNS = ("RUN", "MODEL", "CATEGORIES", "DONE", "ACCURACY", "")
"""As ``eval list``; the accuracy is pooled per temperature and pass."""
CATEGORIES_WIDTH = 24


def run_cells(run: dict[str, Any]) -> list[str | Text]:
    """A saved run's row after its name (as ``eval list``, the categories cut to fit)."""
    cats = ",".join(run.get("categories") or [])
    if len(cats) > CATEGORIES_WIDTH:
        cats = cats[: CATEGORIES_WIDTH - 1] + "…"
    return [
        str(run["model"]),
        cats,
        f"{run['done']}/{run['planned']}",
        accuracy_text(run.get("accuracy") or {}),
        stopped(run),
    ]


class CompareTable(DataTable[str | Text]):
    """Two runs side by side: accuracy per category, temperature and pass; the cases flipped."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        for label in COMPARE_HEADER:
            self.add_column(label, key=label.lower())

    def set_rows(self, rows: list[Row]) -> None:
        self.clear()
        for row in rows:
            texts = compare_cells(row)
            cells: list[str | Text] = list(texts)
            if row.diff:
                cells[5] = Text(texts[5], style="green" if row.diff > 0 else "red")
            self.add_row(*cells)
