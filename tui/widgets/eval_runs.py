"""Saved evaluation runs (``run_summaries``) and two of them compared (``results.compare``).

The saved-runs table works as the Bench screen's (Enter shows one, space marks A and B, c
compares), with ``eval list``'s columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from naptha_tui.backends.evals.report import COMPARE_HEADER, accuracy_text, compare_cells
from naptha_tui.backends.evals.results import Row
from naptha_tui.tui.widgets.run_marks import RunMarks

COLUMNS = ("RUN", "MODEL", "CATEGORIES", "DONE", "ACCURACY", "")
"""As ``eval list``; the accuracy is pooled per temperature and pass."""
CATEGORIES_WIDTH = 24


class EvalRunsTable(DataTable[str | Text]):
    """One row per saved evaluation, oldest first (as ``eval list``)."""

    BINDINGS = [
        Binding("space", "mark", "Mark A/B", id="eval.mark"),
        Binding("c", "compare", "Compare A/B", id="eval.compare"),
    ]

    @dataclass
    class ShowRun(Message):
        """Show this saved run."""

        name: str

    @dataclass
    class CompareRuns(Message):
        """Compare two saved runs, A then B."""

        a: str
        b: str

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.marks = RunMarks(self)

    @property
    def marked(self) -> list[str]:
        """The runs marked for compare, A first (at most two)."""
        return self.marks.names

    def on_mount(self) -> None:
        for i, label in enumerate(COLUMNS):
            self.add_column(label, key=f"c{i}")

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        names = [str(r["name"]) for r in runs]
        self.marks.keep(names)
        self.clear()
        for r in runs:
            cats = ",".join(r.get("categories") or [])
            if len(cats) > CATEGORIES_WIDTH:
                cats = cats[: CATEGORIES_WIDTH - 1] + "…"
            self.add_row(
                self.marks.label(r["name"]),
                str(r["model"]),
                cats,
                f"{r['done']}/{r['planned']}",
                accuracy_text(r.get("accuracy") or {}),
                Text("stopped", "yellow") if r.get("cancelled") else "",
                key=r["name"],
            )
        if names:
            self.move_cursor(row=len(names) - 1)  # the newest

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.ShowRun(str(event.row_key.value)))

    def action_mark(self) -> None:
        self.marks.toggle()

    def action_compare(self) -> None:
        pair = self.marks.pair()
        if pair is not None:
            self.post_message(self.CompareRuns(*pair))


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
