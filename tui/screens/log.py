"""A server's log, followed live (like `naptha-tui logs NAME -f`)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Log

from naptha_tui.backends.servers.logs import first_error, follow
from naptha_tui.tui.failures import ReportsWorkerFailures


class LogScreen(ReportsWorkerFailures, Screen[None]):
    """Tail of one log file; Escape goes back. ``at_error`` opens it at the line that ends the
    first traceback (what a failed server's REASON quotes) instead of following the end."""

    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="log.back")]

    def __init__(self, name: str, path: Path, at_error: bool = False) -> None:
        super().__init__()
        self.server_name = name
        self.path = path
        self.at_error = at_error

    def compose(self) -> ComposeResult:
        yield Header()
        yield Log(id="log-lines", max_lines=5000, auto_scroll=not self.at_error)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{self.server_name}: {self.path}"
        self.follow_log()

    @work(exclusive=True, group="log", exit_on_error=False, description="follow log")
    async def follow_log(self) -> None:
        log = self.query_one(Log)
        if not self.path.exists():
            log.write_line(f"(no log yet at {self.path})")
        error = first_error(self.path) if self.at_error else None
        async for line in follow(self.path, from_end=500):
            log.write_line(line)
            if error is not None and error.text in line:
                log.scroll_to(y=len(log.lines) - 1, animate=False)
                error = None
