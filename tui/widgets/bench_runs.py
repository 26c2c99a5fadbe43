"""Saved load-test runs (``run_summaries``): Enter shows one, space marks A and B, c compares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from naptha_tui.backends.loadgen.report import list_cells
from naptha_tui.tui.widgets.run_marks import RunMarks

COLUMNS = ("RUN", "MODEL", "WORKLOAD", "OK/FAIL", "REQ/S", "TTFT ms", "TPOT ms", "")
"""As ``bench list``, narrower: TTFT and TPOT are medians; A or B before a marked run."""


class RunsTable(DataTable[str | Text]):
    """One row per saved run, oldest first (as ``bench list``)."""

    BINDINGS = [
        Binding("space", "mark", "Mark A/B", id="bench.mark"),
        Binding("c", "compare", "Compare A/B", id="bench.compare"),
    ]

    @dataclass
    class ShowRun(Message):
        """Show this saved run's report."""

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
            _, *cells, stopped = list_cells(r)
            mark = Text(stopped, "yellow") if stopped else ""
            self.add_row(self.marks.label(r["name"]), *cells, mark, key=r["name"])
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
