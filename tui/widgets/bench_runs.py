"""Saved load-test runs (``run_summaries``): Enter shows one, space marks A and B, c compares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

COLUMNS = ("RUN", "MODEL", "WORKLOAD", "OK/FAIL", "REQ/S", "TTFT ms", "TPOT ms", "")
"""As ``bench list``, narrower: TTFT and TPOT are medians; A or B before a marked run."""


def _num(value: Any, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


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
        self.marked: list[str] = []
        """The runs marked for compare, A first (at most two)."""

    def on_mount(self) -> None:
        for i, label in enumerate(COLUMNS):
            self.add_column(label, key=f"c{i}")

    def set_runs(self, runs: list[dict[str, Any]]) -> None:
        names = [str(r["name"]) for r in runs]
        self.marked = [m for m in self.marked if m in names]
        self.clear()
        for r in runs:
            self.add_row(
                self._run(r["name"]),
                str(r["model"]),
                str(r["workload"]) + (" sweep" if r["sweep"] else ""),
                f"{r['completed']}/{r['failed']}",
                _num(r["request_throughput"], ".2f"),
                _num(r["median_ttft_ms"], ".0f"),
                _num(r["median_tpot_ms"], ".1f"),
                Text("stopped", "yellow") if r["cancelled"] else "",
                key=r["name"],
            )
        if names:
            self.move_cursor(row=len(names) - 1)  # the newest

    def _run(self, name: str) -> Text:
        if name not in self.marked:
            return Text(f"  {name}")
        return Text.assemble(("AB"[self.marked.index(name)], "bold reverse"), f" {name}")

    def _current(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.ShowRun(str(event.row_key.value)))

    def action_mark(self) -> None:
        name = self._current()
        if name is None:
            return
        if name in self.marked:
            self.marked.remove(name)
        else:
            self.marked = [*self.marked, name][-2:]
        for row in self.rows:
            if row.value is not None:
                self.update_cell(row, "c0", self._run(str(row.value)))

    def action_compare(self) -> None:
        if len(self.marked) != 2:
            self.notify("mark two runs with space (A, then B) to compare them", severity="warning")
            return
        self.post_message(self.CompareRuns(*self.marked))
