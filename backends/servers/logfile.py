"""A log file of any size, read by blocks: the lines around a byte offset, search, tracebacks.

Nothing here reads a whole file. A view of a 100 MB log reads the block at its end to show the
last lines, then more blocks as it scrolls; a search reads the file in blocks of
:data:`SCAN_BYTES` from where the view is, in the direction asked, and stops at the first match
(or when told to). Positions are byte offsets, never line numbers: counting lines would mean
reading the whole file first.

A line longer than :data:`MAX_LINE` bytes is shown in pieces of that many bytes (a log that
holds a megabyte without a newline is not text worth reading whole). Lines are decoded as UTF-8
(bad bytes replaced) with ANSI colours removed.

The file is held open, so a log that is rotated (``NAME.log`` renamed to ``NAME.log.1`` when its
server starts again) keeps reading the old run until :meth:`LogFile.poll` says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from naptha_tui.backends.servers.logs import TRACEBACK

BLOCK = 64 * 1024
"""Bytes read at a time around the view."""
SCAN_BYTES = 1 << 20
"""Bytes searched at a time (a cancelled search stops within one of these)."""
MAX_LINE = 16 * 1024
"""A longer line is cut into pieces of this many bytes."""
MAX_BACK = 4 << 20
"""The most bytes read back at once for the lines before an offset (a file without newlines
gives fewer lines than asked rather than a read of all of it)."""

Level = Literal["error", "warning"]
Change = Literal["grew", "rotated", "truncated", "appeared"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ERROR = re.compile(
    r"\b(?:ERROR|CRITICAL|FATAL)\b"
    r"|Traceback \(most recent call last\)"
    r"|^(?:\(\w+ pid=\d+\) )?(?:[\w.]+\.)?\w*(?:Error|Exception)\b(?::|$)"
)
_WARNING = re.compile(r"\b(?:WARNING|WARN)\b")
_LOWER = bytes.maketrans(bytes(range(65, 91)), bytes(range(97, 123)))
"""ASCII upper case to lower case (``bytes.translate`` is twice as fast as ``bytes.lower``)."""


def line_level(text: str) -> Level | None:
    """How a line is highlighted: ``error``, ``warning`` or None.

    ``error``: vLLM's and uvicorn's ``ERROR``, ``CRITICAL``, a traceback's first line, an
    exception line such as ``ValueError: ...``; ``warning``: ``WARNING``. A lower-case "error"
    in a sentence is neither.
    """
    if _ERROR.search(text):
        return "error"
    if _WARNING.search(text):
        return "warning"
    return None


def decode(raw: bytes) -> str:
    """A line's bytes as text: UTF-8 (bad bytes replaced), no ANSI colours, no carriage return."""
    return _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip("\r")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line (or one piece of an over-long line) and where it is in the file."""

    start: int
    """The byte offset of its first byte."""
    end: int
    """The byte offset after it (after its newline)."""
    text: str
    complete: bool = True
    """False for the file's last line while it has no newline yet (it may still grow)."""


def previous_run(path: Path) -> Path:
    """The previous run's log beside ``path``: ``NAME.log.1``."""
    return path.with_suffix(".log.1")


def smart_case(needle: str) -> bool:
    """Whether a search for ``needle`` ignores case: only when it is all lower case."""
    return needle == needle.lower()


class LogFile:
    """One log file, open for reading by offset (``os.pread``); see the module docstring."""

    def __init__(self, path: Path) -> None:
        """Open ``path``; a missing file is opened by the first :meth:`poll` that finds it."""
        self.path = path
        self._fd: int | None = None
        self._ino = 0
        self.known_size = 0
        """The size :meth:`poll` last reported."""
        self._open()

    def _open(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        self.close()
        self._fd = fd
        self._ino = os.fstat(fd).st_ino
        self.known_size = self.size()
        return True

    @property
    def exists(self) -> bool:
        """Whether a file is open."""
        return self._fd is not None

    def clone(self) -> LogFile:
        """The same open file for another thread (its own descriptor; close it when done)."""
        other = LogFile.__new__(LogFile)
        other.path, other._ino, other.known_size = self.path, self._ino, self.known_size
        other._fd = os.dup(self._fd) if self._fd is not None else None
        return other

    def close(self) -> None:
        """Close the file (a later :meth:`poll` opens it again)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()

    def size(self) -> int:
        """The open file's size now (0 when none is open)."""
        return os.fstat(self._fd).st_size if self._fd is not None else 0

    def poll(self) -> Change | None:
        """What changed since the last poll; None when nothing did.

        ``grew`` (more bytes), ``rotated`` (another file under the name, opened), ``appeared``
        (the file exists now, opened), ``truncated`` (shorter); the caller reads from where it
        wants.
        """
        try:
            ino = os.stat(self.path).st_ino
        except OSError:
            ino = 0
        if self._fd is None:
            return "appeared" if ino and self._open() else None
        if ino and ino != self._ino:
            return "rotated" if self._open() else None
        size = self.size()
        if size < self.known_size:
            self.known_size = size
            return "truncated"
        if size > self.known_size:
            self.known_size = size
            return "grew"
        return None

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (fewer at the end of the file)."""
        if self._fd is None or end <= start:
            return b""
        return os.pread(self._fd, end - start, start)

    # -- lines around an offset ----------------------------------------------------------
    @staticmethod
    def _split(data: bytes, base: int, tail: bool | None) -> tuple[list[LogLine], int]:
        """The lines in ``data`` (which starts at ``base``), and how many bytes they take.

        ``tail``: what to do with bytes after the last newline: None leaves them (more will
        be read), True or False makes them a line with that ``complete``.
        """
        lines = []
        cur, n = 0, len(data)
        while cur < n:
            nl = data.find(b"\n", cur, cur + MAX_LINE)
            if nl >= 0:
                lines.append(LogLine(base + cur, base + nl + 1, decode(data[cur:nl])))
                cur = nl + 1
            elif n - cur >= MAX_LINE:
                piece = data[cur : cur + MAX_LINE]
                lines.append(LogLine(base + cur, base + cur + MAX_LINE, decode(piece)))
                cur += MAX_LINE
            else:
                break
        if tail is not None and cur < n:
            lines.append(LogLine(base + cur, base + n, decode(data[cur:]), tail))
            cur = n
        return lines, cur

    def lines_after(self, offset: int, count: int) -> list[LogLine]:
        """Up to ``count`` lines from ``offset`` (a line's start) on.

        The file's last line comes even without its newline (``complete`` False).
        """
        size = self.size()
        base, data, found = offset, b"", []
        while True:
            end = base + len(data)
            at_end = end >= size
            lines, used = self._split(data, base, False if at_end else None)
            found.extend(lines)
            if len(found) >= count or at_end:
                return found[:count]
            data, base = data[used:], base + used
            data += self.read(end, min(size, end + BLOCK))

    def lines_before(self, offset: int, count: int) -> list[LogLine]:
        """Up to ``count`` lines before ``offset`` (a line's start, or the end of the file).

        The last one ends exactly at ``offset``.
        """
        offset = min(offset, self.size())
        if offset <= 0:
            return []
        span = BLOCK
        while True:
            lo = max(0, offset - span)
            data = self.read(lo, offset)
            if lo == 0 or data.count(b"\n") > count or span >= MAX_BACK:
                break
            span *= 4
        start = 0
        if lo > 0:  # the bytes before the first newline are the end of an earlier line
            nl = data.find(b"\n")
            start = nl + 1 if 0 <= nl < len(data) - 1 else 0
        complete = offset < self.size() or data.endswith(b"\n")
        lines, _ = self._split(data[start:], lo + start, complete)
        return lines[-count:]

    def line_start(self, offset: int) -> int:
        """The start of the line that holds byte ``offset``."""
        lo = max(0, offset - MAX_LINE)
        nl = self.read(lo, offset).rfind(b"\n")
        return lo + nl + 1 if nl >= 0 else lo

    # -- search --------------------------------------------------------------------------
    def search(
        self,
        needle: str,
        start: int,
        forward: bool = True,
        case: bool | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> int | None:
        """Where ``needle`` is next found from ``start``, by blocks.

        Forward: the first match at or after ``start``; backward: the last one that starts
        before it. None when there is none, or when ``cancelled()`` said to stop.

        Args:
            needle: plain text (not a pattern).
            start: where to search from.
            forward: towards the end of the file, else towards its start.
            case: match case; None: only when ``needle`` has an upper-case letter (smart case).
            cancelled: asked between blocks.
        """
        if not needle:
            return None
        fold = smart_case(needle) if case is None else not case
        pattern = needle.lower().encode() if fold else needle.encode()
        size, overlap = self.size(), len(pattern) - 1
        if forward:
            pos = max(0, start)
            while pos < size:
                if cancelled is not None and cancelled():
                    return None
                end = min(size, pos + SCAN_BYTES)
                block = self.read(pos, end)
                i = (block.translate(_LOWER) if fold else block).find(pattern)
                if i >= 0:
                    return pos + i
                if end >= size:
                    break
                pos = end - overlap
            return None
        hi = min(size, start - 1 + len(pattern))  # a match that starts before ``start``
        while hi > 0:
            if cancelled is not None and cancelled():
                return None
            lo = max(0, hi - SCAN_BYTES)
            block = self.read(lo, hi)
            i = (block.translate(_LOWER) if fold else block).rfind(pattern)
            if i >= 0:
                return lo + i
            if lo == 0:
                break
            hi = lo + overlap
        return None

    def traceback(self, first: bool, cancelled: Callable[[], bool] | None = None) -> int | None:
        """The offset of the first (or the last) ``Traceback (most recent call last)``."""
        if first:
            return self.search(TRACEBACK, 0, True, case=True, cancelled=cancelled)
        return self.search(TRACEBACK, self.size(), False, case=True, cancelled=cancelled)
