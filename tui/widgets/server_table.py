"""The table of model servers: state, memory and vLLM's /metrics over the last window."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from naptha_tui.backends.servers.supervisor import ServerStatus
from naptha_tui.backends.telemetry.vllm_metrics import level
from naptha_tui.tui.format import age, held

STATUS_STYLE = {
    "ready": "bold green",
    "starting": "yellow",
    "sleeping": "cyan",
    "unhealthy": "bold red",
    "crashed": "bold red",
    "stopped": "dim",
}
LEVEL_STYLE = {"ok": "", "warn": "yellow", "bad": "bold red"}
"""How a metric reads at each threshold level (``vllm_metrics.THRESHOLDS``)."""
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

Cell = str | Text


def styled(metric: str, value: float | None, text: str) -> Text:
    """``text`` in the colour of ``value``'s level for ``metric``."""
    found = level(metric, value)
    return Text(text, style=LEVEL_STYLE[found] if found else "")


def _whole(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "-"


def metric_cells(metrics: dict[str, float | None] | None) -> list[Cell]:
    """RUN, WAIT, KV, TOK/S and TTFT p50/p95; "-" for what the window does not know."""
    m = metrics or {}
    running, waiting, kv = m.get("running"), m.get("waiting"), m.get("kv_cache_usage")
    tok_s, p50, p95 = m.get("generation_tokens_per_s"), m.get("ttft_p50_ms"), m.get("ttft_p95_ms")
    ttft = Text.assemble(
        styled("ttft_p50_ms", p50, _whole(p50)), "/", styled("ttft_p95_ms", p95, _whole(p95))
    )
    return [
        _whole(running),
        styled("waiting", waiting, _whole(waiting)),
        styled("kv_cache_usage", kv, f"{kv:.0%}" if kv is not None else "-"),
        f"{tok_s:.1f}" if tok_s is not None else "-",
        ttft if (p50, p95) != (None, None) else "-",
    ]


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
        age(s.uptime_s),
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
        self.servers: dict[str, ServerStatus] = {}
        """The servers last shown, by name."""
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._explain(event.row_key.value)

    def _explain(self, name: str | None) -> None:
        """The highlighted server's reason in full under the table (the column is cut)."""
        s = self.servers.get(name) if name is not None else None
        why = f"{s.name} {s.status}: {s.reason}" if s and s.reason and s.status != "ready" else ""
        if why != self.border_subtitle:
            self.border_subtitle = why

    @property
    def selected(self) -> str | None:
        """The name of the server under the cursor."""
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def show(self, servers: Sequence[ServerStatus]) -> None:
        """Show ``servers``, keeping the cursor on the same server."""
        self.servers = {s.name: s for s in servers}
        rows = {s.name: row_cells(s) for s in servers}
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
