"""The table of model servers: state, memory and vLLM's /metrics over the last window."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.tui.format import Cell, age, held, metric_cells
from naptha_tui.tui.widgets.tables import cursor_key

STATUS_STYLE = {
    "ready": "bold green",
    "starting": "yellow",
    "sleeping": "cyan",
    "unhealthy": "bold red",
    "crashed": "bold red",
    "stopped": "dim",
}
COLUMNS = (
    ("name", "NAME"),
    ("model", "MODEL"),
    ("runtime", "RUNTIME"),
    ("port", "PORT"),
    ("status", "STATUS"),
    ("uptime", "UPTIME"),
    ("mem", "MEMORY"),
    ("run", "RUN"),
    ("wait", "WAIT"),
    ("kv", "KV"),
    ("tok_s", "TOK/S"),
    ("ttft", "TTFT P50/P95"),
    ("reason", "REASON"),
)
KEYS = tuple(key for key, _ in COLUMNS)
MODEL_WIDTH = 15
REASON_WIDTH = 80


def same(a: Cell, b: Cell) -> bool:
    """Whether two cells look alike (``Text.__eq__`` ignores the base style)."""
    if isinstance(a, Text) and isinstance(b, Text):
        return a.plain == b.plain and a.style == b.style and a.spans == b.spans
    return a == b


def row_cells(s: ServerStatus) -> list[Cell]:
    """One server as the table shows it, in ``COLUMNS`` order."""
    reason = (s.reason or "") if s.status != "ready" else ""
    model = Text(s.served_model_name or s.model or "-")
    model.truncate(MODEL_WIDTH, overflow="ellipsis")
    return [
        s.name,
        model,
        s.runtime or "-",
        str(s.port),
        Text(s.status, style=STATUS_STYLE.get(s.status, "")),
        age(s.uptime_s, coarse=True),
        held(s.gpu_memory_bytes, s.rss_bytes),
        *metric_cells(s.metrics),
        Text(
            reason[:REASON_WIDTH],
            style="red" if s.status in ("crashed", "unhealthy") else "dim",
        ),
    ]


class ServerTable(DataTable[Cell]):
    """One row per server; the cursor selects the server that keys act on.

    A poll that brings the same servers in the same order updates only the cells whose value
    changed (the uptime, the metrics), so an idle panel re-lays out nothing.
    """

    DEFAULT_CSS = """
    ServerTable { height: 1fr; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._shown: dict[str, list[Cell]] = {}
        self._why = ""
        self.servers: dict[str, ServerStatus] = {}
        """The servers last shown, by name (those the filter hides included)."""
        self.filter = ""
        """``/``'s text: only servers whose name, model, runtime or status hold it (any case)."""
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._explain(event.row_key.value)

    def _explain(self, name: str | None) -> None:
        """The highlighted server's reason in full under the table (the column is cut); for a
        server that runs, the dtype it runs in and why (``auto`` follows the CPU). A reason
        quotes the log, so it is shown as plain text, never read as markup."""
        s = self.servers.get(name) if name is not None else None
        why = ""
        if s and s.reason and s.status != "ready":
            why = f"{s.name} {s.status}: {s.reason}"
        elif s and s.dtype_reason:
            why = f"{s.name}: {s.dtype or 'vLLM default dtype'} ({s.dtype_reason})"
        if why != self._why:
            self._why = why
            self.border_subtitle = Text(why) if why else None

    @property
    def selected(self) -> str | None:
        """The name of the server under the cursor."""
        return cursor_key(self)

    def matches(self, s: ServerStatus) -> bool:
        """Whether the filter lets ``s`` through."""
        words = (s.name, s.served_model_name or "", s.model or "", s.runtime or "", s.status)
        return self.filter.lower() in " ".join(words).lower()

    def set_filter(self, text: str) -> None:
        """Show only the servers that match ``text`` (empty: all of them)."""
        self.filter = text.strip()
        self.show(list(self.servers.values()))

    def show(self, servers: Sequence[ServerStatus]) -> None:
        """Show ``servers`` (those the filter lets through), keeping the cursor on the same
        server."""
        self.servers = {s.name: s for s in servers}
        rows = {s.name: row_cells(s) for s in servers if self.matches(s)}
        if list(rows) == list(self._shown):
            for name, cells in rows.items():
                old = self._shown[name]
                for key, new, was in zip(KEYS, cells, old, strict=True):
                    if not same(new, was):
                        # re-measuring columns costs a layout: only when the cell outgrows it
                        wider = cell_len(str(new)) > self.columns[ColumnKey(key)].content_width
                        self.update_cell(name, key, new, update_width=wider)
            self._shown = rows
            self._explain(self.selected)
            return
        keep = self.selected
        self.clear()
        for name, cells in rows.items():
            self.add_row(*cells, key=name)
        self._shown = rows
        names = list(rows)
        if keep in names:
            self.move_cursor(row=names.index(keep), scroll=False)
        self._explain(self.selected)
