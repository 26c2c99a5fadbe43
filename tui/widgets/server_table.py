"""The table of model servers."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from naptha_tui.backends.servers.supervisor import ServerStatus
from naptha_tui.tui.format import age

STATUS_STYLE = {
    "ready": "bold green",
    "starting": "yellow",
    "unhealthy": "bold red",
    "crashed": "bold red",
    "stopped": "dim",
}
COLUMNS = ("name", "model", "runtime", "port", "status", "uptime", "reason")


class ServerTable(DataTable[str | Text]):
    """One row per server; the cursor selects the server that keys act on."""

    DEFAULT_CSS = """
    ServerTable { height: 1fr; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for column in COLUMNS:
            self.add_column(column.upper(), key=column)

    @property
    def selected(self) -> str | None:
        """The name of the server under the cursor."""
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def show(self, servers: list[ServerStatus]) -> None:
        """Replace the rows, keeping the cursor on the same server."""
        keep = self.selected
        self.clear()
        for s in servers:
            reason = (s.reason or "") if s.status != "ready" else ""
            self.add_row(
                s.name,
                s.served_model_name or s.model or "-",
                s.runtime or "-",
                str(s.port),
                Text(s.status, style=STATUS_STYLE.get(s.status, "")),
                age(s.uptime_s),
                Text(reason[:80], style="red" if s.status in ("crashed", "unhealthy") else "dim"),
                key=s.name,
            )
        names = [s.name for s in servers]
        if keep in names:
            self.move_cursor(row=names.index(keep), scroll=False)
