"""The window under the log view: a log file's lines around where the reader is, read by blocks.

The file can be any size: the window holds at most :data:`WINDOW` lines, read with
:class:`~naptha_tui.backends.servers.logfile.LogFile` around the reader's position, and reads
:data:`LOAD` more when the reader comes within two pages of the window's edge (the scrollbar is
the window's, the status line says where in the file it is). Lines wrap or scroll sideways: the
rows each line takes are laid out again when the width changes.

Reading the window's lines (a few 64 KB blocks of a local file, less time than a frame) is done
where the view needs them, on the UI thread, so a scroll never shows a blank page.

It subclasses Textual's ``Log`` so that ``lines`` is the window's text, as before;
:class:`~naptha_tui.tui.widgets.log_view.LogView` draws it, follows the file and searches it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from itertools import accumulate

from rich.cells import cell_len, chop_cells
from textual import events
from textual.geometry import Size
from textual.widgets import Log

from naptha_tui.backends.servers.logfile import Level, LogFile, LogLine, line_level

WINDOW = 3000
"""The most lines held at once."""
LOAD = 500
"""Lines read at a time when the reader nears the window's edge."""
OPEN_LINES = 400
"""Lines read around the place the view opens at (the end, a match)."""
MAX_WIDTH = 4096
"""Cells shown of a line when not wrapping (horizontal scroll reaches this far)."""


class LogWindow(Log):
    """The lines of a file around the reader's place, laid out in rows; see the module docstring."""

    def __init__(self, wrap: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, auto_scroll=False)
        self.file: LogFile | None = None
        self.wrap = wrap
        """Long lines wrap at the width (else they scroll sideways)."""
        self.paused = False
        """Following is paused by the reader (``f``); new lines wait."""
        self.marked: int | None = None
        """The start of the line that is marked (a match, an error, a traceback)."""
        self.hit: int | None = None
        """The byte offset of what was found there (the next search starts after it)."""
        self._meta: list[LogLine] = []
        self._levels: list[Level | None] = []
        self._rows: list[int] = [0]
        """Row of each line's first piece; the last item is the total."""
        self._layout_width = 0
        self._extending = False
        self._margins_due = False
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
        """Draw the lines afresh (the view also forgets what it cached of them)."""
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

    def _moved(self) -> None:
        """The place, the follow or the file changed (the view tells the status line)."""
