"""A log (a server's, the proxy's) of any size: followed, searched, coloured, wrapped or not.

``/`` searches (Enter finds the last match above the view's bottom: logs are read from the
end), ``n`` and ``N`` go to the next match down and up (round the file's end when need be),
``t`` and ``T`` to the first and the last traceback, ``w`` wraps long lines (remembered in
``<state>/view.json``), ``f`` pauses or resumes following, ``p`` shows the previous run's log
(``NAME.log.1``) and back, Home and End (``g``, ``G``) the start and the end.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from naptha_tui.backends.servers.logfile import previous_run
from naptha_tui.backends.servers.logs import first_error
from naptha_tui.backends.viewprefs import LOG_WRAP, ViewPrefs
from naptha_tui.tui.failures import ReportsWorkerFailures
from naptha_tui.tui.widgets.log_view import LogView, mib


class LogScreen(ReportsWorkerFailures, Screen[None]):
    """One log file; Escape goes back. ``at_error`` opens it at the line that ends the first
    traceback (what a failed server's REASON quotes) instead of at the end."""

    CSS_PATH = "log.tcss"
    BINDINGS = [
        Binding("escape,q", "back", "Back", id="log.back"),
        Binding("slash", "search", "Search", id="log.search"),
        Binding("n", "next(True)", "Next", id="log.next"),
        Binding("N", "next(False)", "Prev", id="log.previous"),
        Binding("t", "traceback(True)", "First TB", id="log.first-traceback"),
        Binding("T", "traceback(False)", "Last TB", id="log.last-traceback"),
        Binding("w", "wrap", "Wrap", id="log.wrap"),
        Binding("f", "follow", "Follow", id="log.follow"),
        Binding("p", "other_run", "Other run", id="log.other-run"),
        Binding("g", "top", "Top", id="log.top", show=False),
        Binding("G", "bottom", "End", id="log.end", show=False),
    ]

    def __init__(
        self, name: str, path: Path, at_error: bool = False, prefs: ViewPrefs | None = None
    ) -> None:
        super().__init__()
        self.server_name = name
        self.path = path
        """The log of the current run (``NAME.log``)."""
        self.shown = path
        """The file on screen: ``path`` or its previous run's."""
        self.at_error = at_error
        self.prefs = prefs

    def compose(self) -> ComposeResult:
        wrap = self.prefs.flag(LOG_WRAP) if self.prefs is not None else False
        yield Header()
        yield LogView(wrap=wrap, id="log-lines")
        yield Input(
            placeholder="search: text (lower case ignores case), Enter finds", id="log-search"
        )
        yield Static(id="log-status")
        yield Footer()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        at = None
        if self.at_error:
            error = first_error(self.path)
            if error is None:
                self.notify("no traceback in the end of this log", severity="warning")
            else:
                at = error.offset
        self._open(self.path, at)
        self.view.focus()

    def _open(self, path: Path, at: int | None = None) -> None:
        self.shown = path
        run = "previous run" if path != self.path else "this run"
        self.sub_title = f"{self.server_name}: {self._display(path)} ({run})"
        self.view.open(path, at)

    @staticmethod
    def _display(path: Path) -> str:
        """The path, with the home folder as ``~``."""
        try:
            return "~/" + str(path.relative_to(Path.home()))
        except ValueError:
            return str(path)

    # -- the status line ------------------------------------------------------------------
    @on(LogView.Moved)
    def show_status(self) -> None:
        view = self.view
        parts = []
        if view.file is None or not view.file.exists:
            parts.append(f"no log yet at {self._display(self.shown)}")
        else:
            size = view.size_bytes
            where = f"{100 * view.position / size:.0f}%" if size else "0%"
            parts.append(f"{mib(size)}, view at {where}")
            if self.shown != self.path:
                parts.append("previous run (p: this run)")
            elif view.following:
                parts.append("following (f pauses)")
            elif view.paused:
                parts.append("paused (f follows)")
            else:
                parts.append("scrolled up (End follows)")
        parts.append("wrap on" if view.wrap else "wrap off")
        if view.note:
            parts.append(view.note)
        self.query_one("#log-status", Static).update("  ·  ".join(parts))

    # -- keys -----------------------------------------------------------------------------
    def action_back(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.has_class("-open"):
            search.remove_class("-open")
            self.view.focus()
            return
        self.app.pop_screen()

    def action_search(self) -> None:
        search = self.query_one("#log-search", Input)
        search.add_class("-open")
        search.value = self.view.sought
        search.focus()

    @on(Input.Submitted, "#log-search")
    def find(self, event: Input.Submitted) -> None:
        event.input.remove_class("-open")
        self.view.focus()
        if event.value:
            self.view.search(event.value, forward=False)

    def action_next(self, forward: bool) -> None:
        if not self.view.sought:
            self.action_search()
            return
        self.view.search(self.view.sought, forward)

    def action_traceback(self, first: bool) -> None:
        self.view.jump_traceback(first)

    def action_wrap(self) -> None:
        wrap = not self.view.wrap
        self.view.set_wrap(wrap)
        if self.prefs is not None:
            self.save_wrap(self.prefs, wrap)

    @work(thread=True, group="prefs", exit_on_error=False, description="save the wrap setting")
    def save_wrap(self, prefs: ViewPrefs, wrap: bool) -> None:
        prefs.set(LOG_WRAP, wrap)

    def action_follow(self) -> None:
        self.view.set_paused(self.view.following)

    def action_other_run(self) -> None:
        other = self.path if self.shown != self.path else previous_run(self.path)
        if not other.exists():
            self.notify(f"no previous run's log ({other.name})", severity="warning")
            return
        self._open(other)

    def action_top(self) -> None:
        self.view.show_start()

    def action_bottom(self) -> None:
        self.view.action_scroll_end()
