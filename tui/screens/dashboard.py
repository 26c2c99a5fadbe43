"""The first screen: host, memory, servers, trends, Ollama, proxy, and what the node is doing."""

from __future__ import annotations

from collections.abc import Iterator

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Log
from textual.worker import Worker, get_current_worker

from naptha_tui.backends.viewprefs import ViewPrefs
from naptha_tui.tui.messages import (
    ActivityNoted,
    GpuSampled,
    HostSampled,
    NodeSampled,
)
from naptha_tui.tui.screens.base import NapthaScreen
from naptha_tui.tui.screens.log import LogScreen
from naptha_tui.tui.screens.prompt_bar import PromptBarModal
from naptha_tui.tui.screens.start_preset import StartPresetModal
from naptha_tui.tui.screens.swap import SwapModal
from naptha_tui.tui.widgets.memory import HISTORY, MemoryPanel, TrendsPanel
from naptha_tui.tui.widgets.ollama_panel import OllamaPanel
from naptha_tui.tui.widgets.server_table import ServerTable
from naptha_tui.tui.widgets.telemetry import HostPanel, ProxyBar


class DashboardScreen(NapthaScreen):
    """Servers and proxy at a glance, with keys to start, stop, restart, swap and read logs."""

    CSS_PATH = "dashboard.tcss"
    BINDINGS = [
        Binding("s", "start_preset", "Start", id="server.start"),
        Binding("x", "stop_server", "Stop", id="server.stop"),
        Binding("r", "restart_server", "Restart", id="server.restart"),
        Binding("w", "swap_server", "Swap", id="server.swap"),
        Binding("l", "open_log", "Log", id="server.log"),
        Binding("p", "open_proxy_log", "Proxy log", id="proxy.log"),
        Binding("o", "routes", "Routes", id="proxy.routes"),
        Binding("t", "playground", "Playground", id="playground.open"),
        # out of the footer, which is full at 120 columns; `?` lists them
        Binding("slash", "filter_servers", "Filter", id="server.filter", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="server.clear-filter", show=False),
    ]

    def __init__(self, start: list[str] | None = None) -> None:
        super().__init__()
        self.start = start or []
        self._polled: Worker[None] | None = None
        """The last status the refresh timer asked for."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="telemetry"):
            yield HostPanel("[b]Host[/b]\nreading…", id="host-panel")
            yield MemoryPanel(id="memory")
        yield ServerTable(id="servers")
        with Horizontal(id="lower"):
            yield TrendsPanel(id="trends")
            yield OllamaPanel(self.napp.ollama, self.napp.settings.ollama.keep_alive, id="ollama")
        yield ProxyBar("[b]Proxy[/b]  probing…", id="proxy-bar")
        yield Log(id="activity", max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        self.warned: set[str] = set()
        self.node_reads_telemetry = False
        """Set once a node status brings host and GPUs (the real node's does)."""
        self.query_one(Log).border_title = "Activity"
        self.query_one(ServerTable).border_title = "Servers"
        span = HISTORY * self.napp.settings.poll_seconds  # one sample per node poll
        shown = f"{span:.0f} s" if span < 120 else f"{span / 60:.0f} min"
        self.query_one(TrendsPanel).border_title = f"Trends · last {shown}"
        self.sample_telemetry()
        self._polled = self.refresh_node()
        self.set_interval(self.napp.settings.poll_seconds, self.poll_node)
        if self.start:
            self.start_presets(self.start)

    # -- workers: I/O never runs on the UI thread ---------------------------------------
    @work(thread=True, group="telemetry", exit_on_error=False, description="host and GPU")
    def sample_telemetry(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            if not self.node_reads_telemetry:  # else each node status brings host and GPUs
                try:
                    self.post_message(HostSampled(self.napp.read_host()))
                    self.post_message(GpuSampled(self.napp.gpu.read()))
                except Exception as exc:  # one bad read must not end the loop for good
                    self.post_message(ActivityNoted(f"telemetry: {exc!r}"))
            worker.cancelled_event.wait(self.napp.settings.poll_seconds)

    def poll_node(self) -> None:
        """The refresh timer's tick. A status still waiting on a slow server (a probe's 3 s, a
        hung NVML call's bounded wait) is left to land: starting a new one would cancel it, and
        with every status slower than the interval the table would never change again."""
        if self._polled is not None and not self._polled.is_finished:
            return
        self._polled = self.refresh_node()

    @work(exclusive=True, group="node", exit_on_error=False, description="probe servers")
    async def refresh_node(self) -> None:
        self.post_message(NodeSampled(await self.napp.node.status()))

    @work(group="actions", exit_on_error=False, description="start presets")
    async def start_presets(self, names: list[str]) -> None:
        presets = [self.napp.node.catalog.get(n) for n in names]
        await self.napp.node.up(presets, self.note)
        self.post_message(ActivityNoted(f"ready: {', '.join(names)}"))
        self.refresh_node()

    @work(group="actions", exit_on_error=False, description="stop server")
    async def stop_server(self, name: str) -> None:
        self.post_message(ActivityNoted(f"{name}: stopping"))
        await self.napp.node.stop_server(name)
        self.post_message(ActivityNoted(f"{name}: stopped"))
        self.refresh_node()

    @work(group="actions", exit_on_error=False, description="restart server")
    async def restart_server(self, name: str) -> None:
        self.post_message(ActivityNoted(f"{name}: restarting"))
        status = await self.napp.node.restart_server(name, self.note)
        self.post_message(ActivityNoted(f"{name}: {status.status}"))
        self.refresh_node()

    @work(group="actions", exit_on_error=False, description="swap")
    async def swap_server(self, running: str, preset: str) -> None:
        self.post_message(ActivityNoted(f"swap: {running} for {preset}"))
        try:
            report = await self.napp.node.swap(running, preset, self.note)
        finally:
            self.refresh_node()
        self.post_message(ActivityNoted(report.summary()))

    def note(self, line: str) -> None:
        self.post_message(ActivityNoted(line))

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(NodeSampled)
    def show_node(self, message: NodeSampled) -> None:
        for warning in message.status.warnings:
            if warning not in self.warned:  # the node reports each once per process anyway
                self.warned.add(warning)
                self.query_one(Log).write_line(f"warning: {warning}")
                self.notify(warning, title="state file", severity="warning", timeout=30)
        status = message.status
        if status.host is not None:
            # the node read host and GPUs in the same round: one reading, not two
            self.node_reads_telemetry = True
            self.query_one(HostPanel).show(status.host)
        self.query_one(ServerTable).show(status.servers)
        memory = self.query_one(MemoryPanel)
        memory.show_servers(status.servers, status.gpus, status.host)
        self.query_one(TrendsPanel).sample(memory.splits, status.servers)
        self.query_one(ProxyBar).show(status.proxy)
        self.sub_title = f"{message.status.proxy.url}/v1"

    @on(HostSampled)
    def show_host(self, message: HostSampled) -> None:
        self.query_one(HostPanel).show(message.sample)
        self.query_one(MemoryPanel).show_host(message.sample)

    @on(GpuSampled)
    def show_gpu(self, message: GpuSampled) -> None:
        self.query_one(MemoryPanel).show_gpus(message.report)

    @on(ActivityNoted)
    def note_activity(self, message: ActivityNoted) -> None:
        # failures reach this log from the app's handler, as "error: ..." lines
        self.query_one(Log).write_line(message.line)

    # -- actions ------------------------------------------------------------------------
    def _selected(self) -> str | None:
        name = self.query_one(ServerTable).selected
        if name is None:
            self.notify("no server selected", severity="warning")
        return name

    def action_start_preset(self) -> None:
        presets, errors = self.napp.node.catalog.load_all()
        for err in errors:
            self.notify(str(err), title="invalid preset", severity="warning")

        def chosen(name: str | None) -> None:
            if name:
                self.start_presets([name])

        self.app.push_screen(StartPresetModal(presets), chosen)

    def action_stop_server(self) -> None:
        if name := self._selected():
            self.stop_server(name)

    def action_restart_server(self) -> None:
        if name := self._selected():
            self.restart_server(name)

    def action_swap_server(self) -> None:
        name = self._selected()
        if name is None:
            return
        _, errors = self.napp.node.catalog.load_all()
        for err in errors:
            self.notify(str(err), title="invalid preset", severity="warning")
        self.open_swap(name)

    @work(group="swap-choices", exclusive=True, exit_on_error=False, description="swap choices")
    async def open_swap(self, name: str) -> None:
        """Ask the node what can replace ``name`` here (runtimes, GPUs, models), then ask."""
        node = self.napp.node
        choices = await node.swap_choices(name)

        def chosen(preset: str | None) -> None:
            if preset:
                self.swap_server(name, preset)

        self.app.push_screen(SwapModal(name, choices, node.swap_verdict), chosen)

    def action_ollama(self, verb: str) -> None:
        """``load``, ``unload`` or ``pull`` from the palette, whatever has focus."""
        panel = self.query_one(OllamaPanel)
        actions = {"load": panel.action_load, "unload": panel.action_unload}
        actions.get(verb, panel.action_pull)()

    def action_filter_servers(self) -> None:
        """``/``: the server table follows what is typed; Enter keeps it, Escape clears it."""
        table = self.query_one(ServerTable)

        def done(text: str | None) -> None:
            self._filter(text or "")

        bar = PromptBarModal(
            "/",
            value=table.filter,
            placeholder="name, model, runtime or status",
            changed=self._filter,
        )
        self.app.push_screen(bar, done)

    def action_clear_filter(self) -> None:
        if self.query_one(ServerTable).filter:
            self._filter("")

    def _filter(self, text: str) -> None:
        table = self.query_one(ServerTable)
        table.set_filter(text)
        shown = f" /{table.filter} ({table.row_count} of {len(table.servers)})"
        table.border_title = "Servers" + (shown if table.filter else "")

    def system_commands(self) -> Iterator[SystemCommand]:
        """The dashboard's actions for the command palette (each with its key)."""
        for title, text, action in (
            (
                "Filter servers",
                "Show only the servers whose name, model, runtime or status hold a text "
                "(key /; Escape clears it)",
                self.action_filter_servers,
            ),
            ("Start preset", "Start servers from a preset (key s)", self.action_start_preset),
            ("Stop server", "Stop the selected server (key x)", self.action_stop_server),
            ("Restart server", "Restart the selected server (key r)", self.action_restart_server),
            (
                "Swap server",
                "Replace the selected server with another preset, after the planner's "
                "verdict (key w)",
                self.action_swap_server,
            ),
            ("Server log", "Follow the selected server's log (key l)", self.action_open_log),
            ("Proxy log", "Follow the proxy's log (key p)", self.action_open_proxy_log),
            ("Routes", "Which backend served which request (key o)", self.action_routes),
            (
                "Ollama: load model",
                "Load the highlighted Ollama model (Enter in the Ollama table)",
                lambda: self.action_ollama("load"),
            ),
            (
                "Ollama: unload model",
                "Unload the highlighted Ollama model (u in the Ollama table)",
                lambda: self.action_ollama("unload"),
            ),
            (
                "Ollama: pull model",
                "Download a model into Ollama's library (n in the Ollama table)",
                lambda: self.action_ollama("pull"),
            ),
        ):
            yield SystemCommand(title, text, action)

    def _open_log(self, name: str, at_error: bool = False) -> None:
        path = self.napp.paths.log_dir / f"{name}.log"
        self.app.push_screen(LogScreen(name, path, at_error, ViewPrefs(self.napp.paths)))

    def action_open_log(self) -> None:
        if name := self._selected():
            self._open_log(name)

    @on(DataTable.RowSelected, "#servers")
    def open_log_there(self, event: DataTable.RowSelected) -> None:
        """Enter on a server: its log; for one that failed, at the line that says why."""
        name = event.row_key.value
        if name is None:
            return
        s = self.query_one(ServerTable).servers.get(name)
        self._open_log(name, at_error=s is not None and s.status in ("crashed", "unhealthy"))

    def action_open_proxy_log(self) -> None:
        self._open_log("proxy")

    def action_routes(self) -> None:
        self._open("routes")

    def action_playground(self) -> None:
        self._open("try")

    def _open(self, command: str) -> None:
        from naptha_tui.tui.navigation import open_screen  # it knows this screen: imported here

        open_screen(self.napp, command)
