"""The log view: a window of a log file's lines around where the reader is, read by blocks.

The file can be any size: the view holds at most :data:`WINDOW` lines, read with
:class:`~naptha_tui.backends.servers.logfile.LogFile` around the reader's position, and reads
:data:`LOAD` more when the reader comes within two pages of the window's edge (the scrollbar is
the window's, the status line says where in the file it is). Error and warning lines are
coloured, a search's matches highlighted, the line a jump landed on marked; lines wrap or scroll
sideways. Searches run in a thread worker; a second one watches the file (a ``stat`` every
:data:`POLL_S`) and the view follows the end when it is there and not paused.

What may read the whole file (a search, a traceback) runs in those workers, on a descriptor of
its own. Reading the window's lines (a few 64 KB blocks of a local file, less time than a frame)
is done where the view needs them, on the UI thread, so a scroll never shows a blank page.

It subclasses Textual's ``Log`` so that ``lines`` is the window's text, as before.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from rich.cells import cell_len, chop_cells
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widgets import Log
from textual.worker import get_current_worker

from naptha_tui.backends.servers.logfile import (
    Change,
    Level,
    LogFile,
    LogLine,
    line_level,
    smart_case,
)
from naptha_tui.tui.failures import ReportsWorkerFailures

WINDOW = 3000
"""The most lines held at once."""
LOAD = 500
"""Lines read at a time when the reader nears the window's edge."""
OPEN_LINES = 400
"""Lines read around the place the view opens at (the end, a match)."""
GROW_MAX = 1 << 20
"""New bytes appended while following; after more than this the end is read afresh."""
POLL_S = 0.25
MAX_WIDTH = 4096
"""Cells shown of a line when not wrapping (horizontal scroll reaches this far)."""


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


class LogView(ReportsWorkerFailures, Log):
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
        super().__init__(id=id, auto_scroll=False)
        self.file: LogFile | None = None
        self.wrap = wrap
        """Long lines wrap at the width (else they scroll sideways)."""
        self.paused = False
        """Following is paused by the reader (``f``); new lines wait."""
        self.sought = ""
        """The search whose matches are highlighted."""
        self.marked: int | None = None
        """The start of the line that is marked (a match, an error, a traceback)."""
        self.hit: int | None = None
        """The byte offset of what was found there (the next search starts after it)."""
        self.note = ""
        """What the last search or jump said (``match at 42.1 MB``, ``no match``)."""
        self.searching = False
        self._meta: list[LogLine] = []
        self._levels: list[Level | None] = []
        self._rows: list[int] = [0]
        """Row of each line's first piece; the last item is the total."""
        self._layout_width = 0
        self._pieces: dict[int, list[str]] = {}
        self._texts: dict[int, Text] = {}
        self._extending = False
        self._margins_due = False
        self._serial = 0
        self._stick = False
        """The view keeps to the end of the file (it opened there, or the reader went back)."""
        self._anchor: int | None = None
        """Where ``show_at`` opened, kept a third of the way down until the reader scrolls."""

    # -- what the status line reads ---------------------------------------------------------
    @property
    def size_bytes(self) -> int:
        """The file's size as last read."""
        return self.file.size() if self.file is not None else 0

    @property
    def page(self) -> int:
        """Rows of lines in view (the horizontal scrollbar takes one when shown)."""
        return self.scrollable_content_region.height

    @property
    def position(self) -> int:
        """The byte offset of the first line in view."""
        if not self._meta:
            return 0
        return self._meta[self._line_at(round(self.scroll_y))].start

    @property
    def at_end(self) -> bool:
        """Whether the end of the file is in view."""
        if not self._meta or self.file is None:
            return True
        bottom = round(self.scroll_y) + self.page >= self._rows[-1]
        return bottom and self._meta[-1].end >= self.file.known_size

    @property
    def following(self) -> bool:
        """New lines scroll into view: the view keeps to the end and is not paused."""
        return self._stick and not self.paused

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

    def show_end(self) -> None:
        """The last lines of the file, the view at the bottom."""
        if self.file is None:
            return
        self._set_window(self.file.lines_before(self.file.size(), OPEN_LINES))
        self._stick, self._anchor = True, None
        self._place_end()
        self.call_after_refresh(self._place_end)

    def _place_end(self) -> None:
        if self.following:
            self._scroll(self.max_scroll_y)
            self._moved()

    def _scroll(self, y: float) -> None:
        """Scroll there now, as the view's own move (not the reader's)."""
        inside, self._extending = self._extending, True
        try:
            self.scroll_to(y=max(0.0, y), animate=False, immediate=True)
        finally:
            self._extending = inside

    def show_at(self, offset: int, mark: bool = False) -> None:
        """The lines around byte ``offset``, its line a third of the way down (marked)."""
        if self.file is None:
            return
        start = self.file.line_start(min(offset, max(0, self.file.size() - 1)))
        before = self.file.lines_before(start, OPEN_LINES // 2)
        after = self.file.lines_after(start, OPEN_LINES)
        self._set_window(before + after)
        self._stick = False
        if mark:
            self.marked, self.hit = start, offset
            self._forget_renders()
        self._anchor = start
        self._place_anchor()
        self.call_after_refresh(self._place_anchor)
        self.call_after_refresh(self._keep_margins)
        self._moved()

    def _place_anchor(self) -> None:
        """The line the view opened at, a third of the way down (until the reader moves)."""
        if self._anchor is None or not self._meta:
            return
        i = bisect.bisect_right([m.start for m in self._meta], self._anchor) - 1
        self._scroll(self._rows[max(0, i)] - self.page // 3)

    def show_start(self) -> None:
        """The first lines of the file."""
        self.show_at(0)
        self._scroll(0)

    # -- the window -------------------------------------------------------------------------
    def _set_window(self, lines: Sequence[LogLine]) -> None:
        self._lines[:] = [self._process_line(line.text) for line in lines]
        self._meta[:] = lines
        self._levels[:] = [line_level(line.text) for line in lines]
        self._relayout()

    def _wrap_width(self) -> int:
        return max(1, self.scrollable_content_region.width or self.size.width or 80)

    def _rows_of(self, text: str, width: int) -> int:
        if not self.wrap or (len(text) <= width and text.isascii()):
            return 1
        if text.isascii():
            return -(-len(text) // width)
        return max(1, len(chop_cells(text, width)))

    def _relayout(self) -> None:
        """Rows per line for the current width, and the virtual size."""
        width = self._wrap_width()
        self._layout_width = width
        self._rows = list(accumulate((self._rows_of(t, width) for t in self._lines), initial=0))
        if self.wrap:
            wide = width
        else:
            wide = min(MAX_WIDTH, max((cell_len(t) for t in self._lines), default=0))
        self.virtual_size = Size(wide, self._rows[-1])
        self._forget_renders()

    def _forget_renders(self) -> None:
        self._pieces.clear()
        self._texts.clear()
        self.refresh()

    def _line_at(self, row: int) -> int:
        """The index of the line shown at ``row`` (clamped to the window)."""
        if not self._meta:
            return 0
        return max(0, min(len(self._meta) - 1, bisect.bisect_right(self._rows, row) - 1))

    def _prepend(self, lines: Sequence[LogLine]) -> None:
        if not lines:
            return
        y = self.scroll_y
        old_total = self._rows[-1]
        self._lines[0:0] = [self._process_line(line.text) for line in lines]
        self._meta[0:0] = lines
        self._levels[0:0] = [line_level(line.text) for line in lines]
        self._relayout()
        self._scroll(y + self._rows[-1] - old_total)

    def _append(self, lines: Sequence[LogLine]) -> None:
        if not lines:
            return
        if self._meta and not self._meta[-1].complete:  # the last line, read again whole
            self._lines.pop()
            self._meta.pop()
            self._levels.pop()
        self._lines.extend(self._process_line(line.text) for line in lines)
        self._meta.extend(lines)
        self._levels.extend(line_level(line.text) for line in lines)
        self._relayout()

    def _trim(self) -> None:
        """Keep at most WINDOW lines: drop those farthest from the view."""
        extra = len(self._meta) - WINDOW
        if extra <= 0:
            return
        top = self._line_at(round(self.scroll_y))
        if top > len(self._meta) // 2:
            removed = self._rows[extra]
            del self._lines[:extra], self._meta[:extra], self._levels[:extra]
            y = self.scroll_y
            self._relayout()
            self._scroll(y - removed)
        else:
            del self._lines[WINDOW:], self._meta[WINDOW:], self._levels[WINDOW:]
            self._relayout()

    def _keep_margins(self) -> None:
        """Read more lines when the reader is within two pages of the window's edge."""
        self._margins_due = False
        if self._extending or self.file is None or not self._meta or not self.page:
            return
        self._extending = True
        try:
            margin = 2 * self.page
            y = round(self.scroll_y)
            if y < margin and self._meta[0].start > 0:
                self._prepend(self.file.lines_before(self._meta[0].start, LOAD))
            y = round(self.scroll_y)
            below = self._rows[-1] - (y + self.page)
            last = self._meta[-1]
            if below < margin and last.end < self.file.size():
                start = last.end if last.complete else last.start  # read an unfinished one again
                self._append(self.file.lines_after(start, LOAD))
            self._trim()
        finally:
            self._extending = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._extending:  # the view's own move
            return
        self._anchor = None
        if new_value < old_value and round(new_value) < round(self.max_scroll_y):
            self._stick = False  # the reader went up (not a clamp to a shorter scroll)
        elif self.at_end:  # and back down to the end: it holds the view again
            self._stick = True
        if not self._margins_due:
            self._margins_due = True
            self.call_later(self._keep_margins)
        self._moved()

    def on_resize(self, event: events.Resize) -> None:
        # also sent when the virtual size changes (new lines): the place is kept
        if self.wrap and self._wrap_width() != self._layout_width:
            self._relayout_keeping_place()
        self._place_end()
        self._place_anchor()
        self.call_after_refresh(self._keep_margins)

    def _relayout_keeping_place(self) -> None:
        at_end = self.at_end
        top = self._line_at(round(self.scroll_y))
        self._relayout()
        if at_end:
            self._scroll(self.max_scroll_y)
        elif self._meta:
            self._scroll(self._rows[top])

    def set_wrap(self, wrap: bool) -> None:
        """Wrap long lines, or scroll them sideways; the line at the top stays there."""
        if wrap != self.wrap:
            self.wrap = wrap
            self.scroll_to(x=0, animate=False, immediate=True)
            self._relayout_keeping_place()
            self._moved()

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
