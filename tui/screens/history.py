"""The command log in the panel: what every action ran underneath, newest first; ``c`` copies
the highlighted one as a shell line (like `naptha-tui history`)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from naptha_tui.backends.commandlog import CommandLog, Entry
from naptha_tui.tui.screens.base import NapthaScreen

RELOAD_S = 2.0
"""The file is looked at every 2 s (and read only when it changed): the CLI's actions show up
while the screen is open."""
KIND_STYLE = {"exec": "bold", "signal": "magenta", "http": "cyan"}
ACTION_WIDTH, OUTCOME_WIDTH, LINE_WIDTH = 32, 24, 80
"""Cells are cut at these widths; the highlighted entry is shown whole below the table."""


def clock(at: float) -> str:
    """An entry's time in the table: month-day and local time."""
    return time.strftime("%m-%d %H:%M:%S", time.localtime(at))


@dataclass
class HistoryRead(Message):
    """The command log as read (oldest first)."""

    entries: list[Entry]


class HistoryScreen(NapthaScreen):
    """Every command, signal and admin call the panel and the CLI ran, with time and outcome."""

    CSS_PATH = "history.tcss"
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back", id="history.back"),
        Binding("c", "copy", "Copy as shell line", id="history.copy"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="history-line")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "what the panel and the CLI ran"
        self.entries: list[Entry] = []
        """Newest first, as the table shows them."""
        self._stamp: tuple[int, int, int] | None = None
        table = self.query_one(DataTable)
        table.border_title = "Command log"
        for key, label in (
            ("time", "TIME"),
            ("via", "VIA"),
            ("action", "ACTION"),
            ("outcome", "OUTCOME"),
            ("line", "COMMAND"),
        ):
            table.add_column(label, key=key)
        self.read_log()
        self.set_interval(RELOAD_S, self.read_log)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False, description="history")
    def read_log(self) -> None:
        log = CommandLog(self.napp.paths)
        stamp = log.stamp()
        if stamp == self._stamp or get_current_worker().is_cancelled:
            return
        self._stamp = stamp
        self.post_message(HistoryRead(log.entries()))

    @on(HistoryRead)
    def show_entries(self, message: HistoryRead) -> None:
        table = self.query_one(DataTable)
        keep = self.selected
        self.entries = list(reversed(message.entries))
        table.clear()
        for i, e in enumerate(self.entries):
            action = Text(e.action)
            action.truncate(ACTION_WIDTH, overflow="ellipsis")
            outcome = Text(e.said, style="green" if e.ok else "red")
            outcome.truncate(OUTCOME_WIDTH, overflow="ellipsis")
            line = Text(e.line, style=KIND_STYLE.get(e.kind, ""))
            line.truncate(LINE_WIDTH, overflow="ellipsis")
            table.add_row(clock(e.at), e.via, action, outcome, line, key=str(i))
        if keep is not None and keep in self.entries:
            table.move_cursor(row=self.entries.index(keep), scroll=False)
        self._explain()
        if not self.entries:
            self.query_one("#history-line", Static).update(
                f"Nothing recorded yet: starts, stops, reloads and admin calls land in "
                f"{CommandLog(self.napp.paths).file}"
            )

    @property
    def selected(self) -> Entry | None:
        """The entry under the cursor."""
        table = self.query_one(DataTable)
        if not self.entries or table.row_count == 0:
            return None
        row = min(table.cursor_row, len(self.entries) - 1)
        return self.entries[row]

    @on(DataTable.RowHighlighted)
    def _explain(self) -> None:
        e = self.selected
        if e is None:
            return
        text = Text()
        text.append(f"{clock(e.at)}  {e.via}  {e.action}  ", style="bold")
        text.append(e.said, style="green" if e.ok else "red")
        text.append("\n$ ", style="dim")
        text.append(e.line)
        if e.cwd:
            text.append(f"\n(in {e.cwd})", style="dim")
        self.query_one("#history-line", Static).update(text)

    def action_copy(self) -> None:
        e = self.selected
        if e is None:
            self.notify("nothing to copy yet", severity="warning")
            return
        self.app.copy_to_clipboard(e.line)
        self.notify(e.line, title="copied as a shell line", timeout=4)
