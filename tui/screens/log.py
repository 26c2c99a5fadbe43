"""A server's log, followed live (like `naptha-tui logs NAME -f`)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Log

from naptha_tui.backends.servers.logs import follow
from naptha_tui.tui.failures import ReportsWorkerFailures


class LogScreen(ReportsWorkerFailures, Screen[None]):
    """Tail of one log file; Escape goes back."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="log.back")]

    def __init__(self, name: str, path: Path) -> None:
        super().__init__()
        self.server_name = name
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header()
        yield Log(id="log-lines", max_lines=5000)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.server_name}: {self.path}"
        self.follow_log()

    @work(exclusive=True, group="log", exit_on_error=False, description="follow log")
    async def follow_log(self) -> None:
        log = self.query_one(Log)
        if not self.path.exists():
            log.write_line(f"(no log yet at {self.path})")
        async for line in follow(self.path, from_end=500):
            log.write_line(line)
