"""Saved runs, one row each (a feature's ``run_summaries``): Enter shows one, space marks A
and B, c compares them. The Bench and Eval screens each hold one, with their own columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from naptha_tui.tui.widgets.run_marks import RunMarks

Cells = Callable[[dict[str, Any]], Sequence[str | Text]]
"""A run's summary as its row, after the name (which the table shows with its mark)."""


class SavedRunsTable(DataTable[str | Text]):
    """One row per saved run, oldest first (as the feature's ``list`` command)."""

    BINDINGS = [
        Binding("space", "mark", "Mark A/B", id="runs.mark"),
        Binding("c", "compare", "Compare A/B", id="runs.compare"),
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

    def __init__(self, columns: Sequence[str], cells: Cells, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.columns_shown = tuple(columns)
        self.cells = cells
        self.marks = RunMarks(self)

    @property
    def marked(self) -> list[str]:
        """The runs marked for compare, A first (at most two)."""
        return self.marks.names

    def on_mount(self) -> None:
        for i, label in enumerate(self.columns_shown):
            self.add_column(label, key=f"c{i}")

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        names = [str(r["name"]) for r in runs]
        self.marks.keep(names)
        self.clear()
        for r in runs:
            self.add_row(self.marks.label(r["name"]), *self.cells(r), key=r["name"])
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


def stopped(run: dict[str, Any]) -> Text | str:
    """The last cell of a run stopped early."""
    return Text("stopped", "yellow") if run.get("cancelled") else ""
