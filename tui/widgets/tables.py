"""What the panel's tables share: rows keyed by what they show (a server, a model, a run)."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable


def cursor_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor (None in an empty table)."""
    if table.row_count == 0:
        return None
    key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    return str(key) if key is not None else None
