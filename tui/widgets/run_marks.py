"""Marking two saved runs A and B in a runs table, to compare them (Bench and Eval screens).

A plain helper each table holds (composition: a shared ``DataTable`` subclass would run its
``on_mount`` twice). The table's rows are keyed by run name; column ``c0`` shows the name,
with A or B before a marked run.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from naptha_tui.tui.widgets.tables import cursor_key


class RunMarks:
    def __init__(self, table: DataTable[Any]) -> None:
        self.table = table
        self.names: list[str] = []
        """The runs marked for compare, A first (at most two)."""

    def keep(self, names: list[str]) -> None:
        """Forget the marks on runs no longer listed."""
        self.names = [m for m in self.names if m in names]

    def label(self, name: str) -> Text:
        if name not in self.names:
            return Text(f"  {name}")
        return Text.assemble(("AB"[self.names.index(name)], "bold reverse"), f" {name}")

    def current(self) -> str | None:
        """The run under the cursor."""
        return cursor_key(self.table)

    def toggle(self) -> None:
        """Mark the run under the cursor (the oldest mark goes past two), or unmark it."""
        name = self.current()
        if name is None:
            return
        if name in self.names:
            self.names.remove(name)
        else:
            self.names = [*self.names, name][-2:]
        for row in self.table.rows:
            if row.value is not None:
                self.table.update_cell(row, "c0", self.label(str(row.value)))

    def pair(self) -> tuple[str, str] | None:
        """A and B, or None (and a warning) unless two are marked."""
        if len(self.names) != 2:
            self.table.notify(
                "mark two runs with space (A, then B) to compare them", severity="warning"
            )
            return None
        return self.names[0], self.names[1]
