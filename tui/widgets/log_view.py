"""The log view: a log file of any size, followed, searched, coloured.

What it holds is a window of the file's lines around the reader
(:class:`~naptha_tui.tui.widgets.log_window.LogWindow`). Error and warning lines are coloured, a
search's matches highlighted, the line a jump landed on marked. Searches run in a thread worker;
a second one watches the file (a ``stat`` every :data:`POLL_S`) and the view follows the end
when it is there and not paused.

What may read the whole file (a search, a traceback) runs in those workers, on a descriptor of
its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rich.cells import cell_len, chop_cells
from rich.style import Style
from rich.text import Text
from textual import work
from textual.message import Message
from textual.strip import Strip
from textual.worker import get_current_worker

from naptha_tui.backends.servers.logfile import Change, LogFile, smart_case
from naptha_tui.tui.failures import ReportsWorkerFailures
from naptha_tui.tui.widgets.log_window import WINDOW, LogWindow

GROW_MAX = 1 << 20
"""New bytes appended while following; after more than this the end is read afresh."""
POLL_S = 0.25


def mib(n: int) -> str:
    """A byte offset or size as the status line says it."""
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} B"


@dataclass
class FileTouched(Message):
    """The log file's inode or size changed (the watcher's ``stat``)."""

    stamp: tuple[int, int]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FileTouched)


@dataclass
class SearchDone(Message):
    """A search ended: where it found ``what`` (None: nowhere), and whether it went round."""

    what: str
    offset: int | None
    wrapped: bool
    serial: int


class LogView(ReportsWorkerFailures, LogWindow):
    """A log file of any size, followed, searched, coloured; see the module docstring."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        "log-view--error",
        "log-view--warning",
        "log-view--match",
        "log-view--marked",
    }
    DEFAULT_CSS = """
    LogView {
        & > .log-view--error { color: $text-error; }
        & > .log-view--warning { color: $text-warning; }
        & > .log-view--match { background: $warning 45%; text-style: bold; }
        & > .log-view--marked { background: $accent 35%; }
    }
    """

    @dataclass
    class Moved(Message):
        """What the status line says changed: the place, the follow, the file, a search."""

        view: LogView

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LogView.Moved)

    def __init__(self, wrap: bool = False, id: str | None = None) -> None:
        super().__init__(wrap=wrap, id=id)
        self.sought = ""
        """The search whose matches are highlighted."""
        self.note = ""
        """What the last search or jump said (``match at 42.1 MB``, ``no match``)."""
        self.searching = False
        self._pieces: dict[int, list[str]] = {}
        self._texts: dict[int, Text] = {}
        self._serial = 0

    # -- opening ----------------------------------------------------------------------------
    def open(self, path: Path, at: int | None = None) -> None:
        """Show ``path``: its end, or the line holding byte ``at`` (marked)."""
        if self.file is not None:
            self.file.close()
        self.file = LogFile(path)
        self.marked = self.hit = None
        self.note = ""
        if at is None:
            self.show_end()
        else:
            self.show_at(at, mark=True)
        self.watch_file(path)

    # -- following --------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="log-watch", exit_on_error=False, description="log")
    def watch_file(self, path: Path) -> None:
        """Post ``FileTouched`` whenever the file's inode or size changes."""
        worker = get_current_worker()
        seen: tuple[int, int] | None = None
        while not worker.is_cancelled:
            try:
                st = path.stat()
                stamp = (st.st_ino, st.st_size)
            except OSError:
                stamp = (0, 0)
            if seen is not None and stamp != seen:
                self.post_message(FileTouched(stamp))
            seen = stamp
            worker.cancelled_event.wait(POLL_S)

    def on_file_touched(self, message: FileTouched) -> None:
        if self.file is None:
            return
        was_at_end = self.at_end
        change: Change | None = self.file.poll()
        if change in ("rotated", "appeared", "truncated"):
            self.marked = self.hit = None
            self.show_end()
        elif change == "grew" and self._meta and was_at_end:
            last = self._meta[-1]
            start = last.start if not last.complete else last.end
            if self.following and self.file.size() - start > GROW_MAX:
                self.show_end()
            else:
                self._append(self.file.lines_after(start, WINDOW))
                self._trim()
                self._place_end()
        elif change == "grew" and not self._meta:
            self.show_end()
        self._moved()

    def set_paused(self, paused: bool) -> None:
        """Pause following (the view stays), or follow again from the end."""
        self.paused = paused
        if not paused:
            self.note = ""
            self.show_end()
        self._moved()

    # -- search and jumps -------------------------------------------------------------------
    def search(self, query: str, forward: bool) -> None:
        """Find ``query`` from the view (or the marked match): downwards or upwards, round the
        file's end if need be; the found line is marked and shown."""
        if self.file is None or not query:
            return
        if query != self.sought:
            self.sought = query
            self._forget_renders()
        if self.hit is not None and self._marked_in_view():
            start = self.hit + 1 if forward else self.hit
        elif forward:
            start = self.position
        else:
            bottom = self._line_at(round(self.scroll_y) + self.page - 1)
            start = self._meta[bottom].end if self._meta else self.file.size()
        self._serial += 1
        self.searching = True
        self.note = f"searching {'down' if forward else 'up'} for {query!r}…"
        self._moved()
        self.find(self.file.clone(), query, start, forward, self._serial)

    def _marked_in_view(self) -> bool:
        if self.marked is None or not self._meta:
            return False
        top = self._line_at(round(self.scroll_y))
        bottom = self._line_at(round(self.scroll_y) + self.page - 1)
        return self._meta[top].start <= self.marked < self._meta[bottom].end

    @work(thread=True, exclusive=True, group="log-search", exit_on_error=False, description="find")
    def find(self, file: LogFile, query: str, start: int, forward: bool, serial: int) -> None:
        """Search (a clone of) the view's file by blocks, going round its end once."""
        worker = get_current_worker()
        try:

            def cancelled() -> bool:
                return worker.is_cancelled

            found = file.search(query, start, forward, cancelled=cancelled)
            wrapped = found is None
            if wrapped and not cancelled():
                found = file.search(
                    query, 0 if forward else file.size(), forward, cancelled=cancelled
                )
            if not cancelled():
                self.post_message(SearchDone(f"match for {query!r}", found, wrapped, serial))
        finally:
            file.close()

    def on_search_done(self, message: SearchDone) -> None:
        if message.serial != self._serial:  # a newer search was asked for
            return
        self.searching = False
        if message.offset is None:
            self.note = f"no {message.what}"
        else:
            self.paused = True  # the view stays on what was found
            self.show_at(message.offset, mark=True)
            where = f"{message.what} at {mib(message.offset)} of {mib(self.size_bytes)}"
            self.note = where + (" (went round the end)" if message.wrapped else "")
        self._moved()

    def jump_traceback(self, first: bool) -> None:
        """Show the first (or the last) traceback of the file, its first line marked."""
        if self.file is None:
            return
        self._serial += 1
        self.searching = True
        what = f"{'first' if first else 'last'} traceback"
        self.note = f"looking for the {what}…"
        self._moved()
        self.find_traceback(self.file.clone(), first, what, self._serial)

    @work(thread=True, exclusive=True, group="log-search", exit_on_error=False, description="tb")
    def find_traceback(self, file: LogFile, first: bool, what: str, serial: int) -> None:
        """Find the first or last traceback in (a clone of) the view's file."""
        worker = get_current_worker()
        try:
            found = file.traceback(first, cancelled=lambda: worker.is_cancelled)
            if not worker.is_cancelled:
                self.post_message(SearchDone(what, found, False, serial))
        finally:
            file.close()

    # -- keys -------------------------------------------------------------------------------
    def action_scroll_home(self) -> None:
        self.show_start()

    def action_scroll_end(self) -> None:
        self.paused = False
        self.note = ""
        self.show_end()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if hasattr(self, "_texts"):  # the theme changed: colours are read again
            self._texts.clear()

    def _moved(self) -> None:
        self.post_message(self.Moved(self))

    # -- drawing ----------------------------------------------------------------------------
    def _forget_renders(self) -> None:
        self._pieces.clear()
        self._texts.clear()
        super()._forget_renders()

    def _text(self, i: int) -> Text:
        """Line ``i`` styled: its level's colour, the search's matches, the mark."""
        key = self._meta[i].start
        if (cached := self._texts.get(key)) is not None:
            return cached
        plain = self._lines[i]
        text = Text(plain, no_wrap=True, end="")
        text.stylize(self.rich_style)
        # only a component's colour (levels) or background (mark, matches): they combine
        level = self._levels[i]
        if level is not None:
            text.stylize(Style(color=self.get_component_rich_style(f"log-view--{level}").color))
        meta = self._meta[i]
        if self.marked is not None and meta.start <= self.marked < meta.end:
            marked = self.get_component_rich_style("log-view--marked")
            text.stylize(Style(bgcolor=marked.bgcolor))
        if self.sought:
            flags = re.IGNORECASE if smart_case(self.sought) else 0
            lit = self.get_component_rich_style("log-view--match")
            style = Style(bgcolor=lit.bgcolor, bold=lit.bold)
            for m in re.finditer(re.escape(self.sought), plain, flags):
                text.stylize(style, m.start(), m.end())
        if len(self._texts) > 2 * WINDOW:
            self._texts.clear()
        self._texts[key] = text
        return text

    def _pieces_of(self, i: int) -> list[str]:
        key = self._meta[i].start
        if (cached := self._pieces.get(key)) is None:
            plain, width = self._lines[i], self._layout_width
            if plain.isascii():
                cached = [plain[k : k + width] for k in range(0, len(plain), width)] or [""]
            else:
                cached = chop_cells(plain, width) or [""]
            self._pieces[key] = cached
        return cached

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        style = self.rich_style
        if row >= self._rows[-1] or not self._meta:
            return Strip.blank(width, style)
        i = self._line_at(row)
        text = self._text(i)
        if not self.wrap:
            strip = Strip(text.render(self.app.console), cell_len(self._lines[i]))
            return strip.crop_extend(scroll_x, scroll_x + width, style)
        pieces = self._pieces_of(i)
        k = min(row - self._rows[i], len(pieces) - 1)
        begin = sum(len(p) for p in pieces[:k])
        part = text[begin : begin + len(pieces[k])]
        strip = Strip(part.render(self.app.console), cell_len(pieces[k]))
        return strip.crop_extend(0, width, style)
