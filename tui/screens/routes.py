"""Where proxy requests went: the routing feed, live (like `naptha-tui routes -f`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.proxy.litellm.routes import DeploymentRow, RouteEvent, RoutingStats, load_feed
from naptha_tui.tui.format import ROUTE_HEADER, ms, route_cells, short_error
from naptha_tui.tui.messages import ActionFailed, NodeSampled
from naptha_tui.tui.screens.base import NapthaScreen
from naptha_tui.tui.widgets.server_table import STATUS_STYLE

HEALTH_STYLE = {**STATUS_STYLE, "down": "bold red", "cloud": "cyan"}
DEPLOYMENT_COLUMNS = (
    ("DEPLOYMENT", "deployment"),
    ("MODEL GROUP", "model_group"),
    ("HEALTH", "health"),
    ("REQS", "requests"),
    ("ERRORS", "errors"),
    ("IN FLIGHT", "in_flight"),
    ("P50 MS", "p50"),
    ("P95 MS", "p95"),
    ("LAST ERROR", "last_error"),
)
RECENT_COLUMNS = tuple(
    (label, label.lower().replace(" ", "-").replace("/", "-")) for label in (*ROUTE_HEADER, "ERROR")
)
STATUS_COLUMN, RETRIES_COLUMN = ROUTE_HEADER.index("STATUS"), ROUTE_HEADER.index("RETRIES")
RECENT_MAX = 200
MIN_ERROR_WIDTH = 16
# LiteLLM's Prometheus counters worth a word in the status line, first name found wins
METRIC_SUMMARY = (
    ("requests", ("litellm_proxy_total_requests_metric_total", "litellm_requests_metric_total")),
    ("failed", ("litellm_proxy_failed_requests_metric_total",)),
    ("tokens", ("litellm_total_tokens_metric_total", "litellm_total_tokens_total")),
)


@dataclass
class FeedRead(Message):
    """The feed was read: a snapshot of the figures (the stats stay in the reading thread)."""

    rows: list[DeploymentRow]
    recent: list[RouteEvent]
    """Newest first."""
    total: int
    bad_lines: int
    error: str | None = None
    """Why the feed could not be read this time (the reader keeps trying)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FeedRead)


@dataclass
class ProxyMetricsRead(Message):
    """The proxy's /metrics was read (None: not exposed, the usual case)."""

    metrics: dict[str, float] | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProxyMetricsRead)


def error_width(
    table: DataTable[Any], columns: tuple[tuple[str, str], ...], rows: list[list[Text]]
) -> int:
    """Room for the last (error) column once the others are as wide as their text, so the
    table needs no horizontal scrolling."""
    pad = 2 * table.cell_padding
    used = sum(
        max([cell_len(label), *(r[i].cell_len for r in rows)]) + pad
        for i, (label, _) in enumerate(columns[:-1])
    )
    room = table.size.width - table.styles.scrollbar_size_vertical - used - pad
    return max(room, MIN_ERROR_WIDTH)


def health(deployment: str, servers: dict[str, ServerStatus] | None) -> str:
    """The status of the server behind a deployment id: the server's name, a remote node's
    ``NAME`` or ``NAME/MODEL``, or ``cloud/...``; "-" when not known."""
    if deployment.startswith("cloud/"):
        return "cloud"
    if not servers:
        return "-"
    server = servers.get(deployment) or servers.get(deployment.split("/", 1)[0])
    return server.status if server is not None else "-"


def metrics_summary(metrics: dict[str, float] | None) -> str:
    if not metrics:
        return "proxy /metrics: not exposed"
    parts = []
    for label, names in METRIC_SUMMARY:
        found = next((metrics[n] for n in names if n in metrics), None)
        if found is not None:
            parts.append(f"{found:.0f} {label}")
    return "proxy /metrics: " + (", ".join(parts) or f"{len(metrics)} litellm_* series")


class RoutesScreen(NapthaScreen):
    """Per-deployment traffic and the latest requests through the proxy; Escape goes back."""

    CSS_PATH = "routes.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="routes.back")]

    def __init__(
        self,
        feed_seconds: float = 1.0,
        tz: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``feed_seconds``: how often the feed is read; ``tz``: for request times (None: the
        local zone); ``clock``: ages requests in flight (tests fix both)."""
        super().__init__()
        self.feed_seconds = feed_seconds
        self.tz = tz
        self.clock = clock
        self._rows: list[DeploymentRow] = []
        self._recent: list[RouteEvent] = []
        self._servers: dict[str, ServerStatus] | None = None
        self._feed_line = Text("reading feed…")
        self._metrics_line = "proxy /metrics: probing…"
        self._last_error: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable[str | Text](id="deployments", cursor_type="row", zebra_stripes=True)
        yield DataTable[str | Text](id="recent", cursor_type="row", zebra_stripes=True)
        yield Static(id="routes-status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "routes"
        deployments = self.query_one("#deployments", DataTable)
        deployments.border_title = "Deployments"
        for label, key in DEPLOYMENT_COLUMNS:
            deployments.add_column(label, key=key)
        recent = self.query_one("#recent", DataTable)
        recent.border_title = "Recent requests"
        for label, key in RECENT_COLUMNS:
            recent.add_column(label, key=key)
        self.show_status()
        self.follow_feed(self.napp.node.feed_file)
        self.probe_node()
        self.set_interval(self.napp.settings.poll_seconds, self.probe_node)

    # -- workers: I/O never runs on the UI thread ---------------------------------------
    @work(thread=True, exclusive=True, group="routes-feed", exit_on_error=False, description="feed")
    def follow_feed(self, path: Path) -> None:
        worker = get_current_worker()
        stats: RoutingStats | None = None
        reader = None
        shown: tuple[int, int, int, str | None] | None = None
        while not worker.is_cancelled:
            error = None
            try:
                if stats is None or reader is None:
                    stats, reader = load_feed(path, now=self.clock())
                else:
                    # also when nothing is new: that ages requests whose end was lost
                    stats.add_lines(reader.read_new(), now=self.clock())
            except OSError as exc:  # e.g. permissions; keep trying, say why meanwhile
                error = f"{type(exc).__name__}: {exc}"
            current = stats or RoutingStats()
            state = (current.total, current.bad_lines, len(current.open), error)
            if state != shown:  # the tables are rebuilt only when something changed
                shown = state
                recent = list(current.recent)[-RECENT_MAX:][::-1]
                self.post_message(
                    FeedRead(current.rows(), recent, current.total, current.bad_lines, error)
                )
            worker.cancelled_event.wait(self.feed_seconds)

    @work(exclusive=True, group="routes-node", exit_on_error=False, description="probe servers")
    async def probe_node(self) -> None:
        self.post_message(NodeSampled(await self.napp.node.status()))
        self.post_message(ProxyMetricsRead(await self.napp.node.proxy_metrics()))

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(FeedRead)
    def show_feed(self, message: FeedRead) -> None:
        self._rows = message.rows
        self.show_deployments()
        self.show_recent(message.recent)
        self._feed_line = Text.assemble(
            f"feed {self.napp.node.feed_file}  ·  {message.total} events  ·  ",
            (
                f"{message.bad_lines} malformed line(s) skipped",
                "yellow" if message.bad_lines else "",
            ),
        )
        if message.error:
            self._feed_line.append(f"  ·  {message.error}", style="red")
        self.show_status()

    @on(NodeSampled)
    def show_node(self, message: NodeSampled) -> None:
        self._servers = {s.name: s for s in message.status.servers}
        self.show_deployments()

    @on(ProxyMetricsRead)
    def show_metrics(self, message: ProxyMetricsRead) -> None:
        self._metrics_line = metrics_summary(message.metrics)
        self.show_status()

    @on(ActionFailed)
    def say_each_failure_once(self, message: ActionFailed) -> None:
        if message.text == self._last_error:  # polling repeats a failure; say it once
            message.stop()  # the app's handler does not hear it again
        self._last_error = message.text

    def on_resize(self) -> None:
        self.show_deployments()
        self.show_recent()

    # -- rendering ----------------------------------------------------------------------
    def show_deployments(self) -> None:
        table: DataTable[str | Text] = self.query_one("#deployments", DataTable)
        rows = []
        for r in self._rows:
            state = health(r.deployment, self._servers)
            rows.append(
                [
                    Text(r.deployment),
                    Text(r.model_group or "-"),
                    Text(state, style=HEALTH_STYLE.get(state, "")),
                    Text(str(r.requests)),
                    Text(str(r.errors), style="bold red" if r.errors else ""),
                    Text(str(r.in_flight), style="yellow" if r.in_flight else ""),
                    Text(ms(r.p50_ms)),
                    Text(ms(r.p95_ms)),
                ]
            )
        width = error_width(table, DEPLOYMENT_COLUMNS, rows)
        cursor = table.cursor_row
        table.clear()
        for r, cells in zip(self._rows, rows, strict=True):
            table.add_row(
                *cells, Text(short_error(r.last_error, width), style="red"), key=r.deployment
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1), scroll=False)

    def show_recent(self, events: list[RouteEvent] | None = None) -> None:
        if events is not None:
            self._recent = events
        table: DataTable[str | Text] = self.query_one("#recent", DataTable)
        rows = []
        for e in self._recent:
            styles = {
                STATUS_COLUMN: "green" if e.status == "success" else "bold red",
                RETRIES_COLUMN: "yellow" if e.retries else "",
            }
            plain = route_cells(e, self.tz)
            rows.append([Text(c, style=styles.get(i, "")) for i, c in enumerate(plain)])
        width = error_width(table, RECENT_COLUMNS, rows)
        table.clear()
        for e, cells in zip(self._recent, rows, strict=True):
            table.add_row(*cells, Text(short_error(e.error, width), style="red"))

    def show_status(self) -> None:
        self.query_one("#routes-status", Static).update(
            Text.assemble(self._feed_line, f"  ·  {self._metrics_line}")
        )
