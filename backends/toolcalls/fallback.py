"""Bare or fenced JSON calls, for small models that drop their format's tags.

Accepted at the start of the output (after whitespace): ``{"name": ..., "arguments": {...}}``,
several such objects one after another, a JSON list of them, and any of those inside a
Markdown fence (```` ```json ````). Anything else is content, unchanged. While it is not yet
clear whether leading JSON is a call, the text is held back; it is a call once its first key
is ``name``/``arguments``/``parameters`` and the name is complete. JSON that turns out not to
be a call (``{"answer": 42}``) is released as content at its first key.

:class:`JsonCallsParser` is also the base of the tagged formats (Hermes, functionary): they
get this fallback for free and override :meth:`JsonCallsParser._text` to look for their tags.
"""

from __future__ import annotations

import re
from enum import Enum, auto

from .base import IdFactory, StreamParser, openai_id
from .jsonscan import WS, CallObjectScanner

_FENCE = "```"
_FENCE_HEAD = re.compile(r"```[A-Za-z_]*[ \t]*\r?\n")
_PARTIAL_FENCE_HEAD = re.compile(r"`{1,2}|```[A-Za-z_]*[ \t]*\r?")
_MAX_FENCE_HEAD = 24


class _M(Enum):
    LEAD = auto()  # only whitespace so far
    FENCE_HEAD = auto()  # "```json\n" being read
    LIST_OPEN = auto()  # before "[" or "{" (after a fence head)
    OBJECT = auto()  # inside a call object
    BETWEEN = auto()  # after an object: "," / "]" in a list; "{" or the end otherwise
    FENCE_CLOSE = auto()  # the closing "```" of a fence
    TEXT = auto()  # plain content from here on


class JsonCallsParser(StreamParser):
    """Content, or bare/fenced JSON calls at the start of the output."""

    def __init__(self, new_id: IdFactory = openai_id) -> None:
        super().__init__(new_id)
        self._mode = _M.LEAD
        self._held: list[str] = []  # raw text of a candidate not yet known to be a call
        self._fenced = False
        self._in_list = False
        self._scanner: CallObjectScanner | None = None
        self._carry = ""  # a partial fence head or closing fence
        self._ws: list[str] = []  # whitespace after a call, held until text follows

    # -- dispatch

    def _consume(self, text: str) -> None:
        if self._carry:
            text, self._carry = self._carry + text, ""
        i, n = 0, len(text)
        while i < n:
            mode = self._mode
            if mode is _M.TEXT:
                i = self._text(text, i)
            elif mode is _M.OBJECT:
                i = self._object(text, i)
            elif mode is _M.FENCE_HEAD:
                i = self._fence_head(text, i)
            elif mode is _M.FENCE_CLOSE:
                i = self._fence_close(text, i)
            elif text[i] in WS:
                j = i + 1
                while j < n and text[j] in WS:
                    j += 1
                self._hold_or_drop(text[i:j])
                i = j
            else:
                i = self._structural(text, i)

    def _structural(self, text: str, i: int) -> int:
        c, mode = text[i], self._mode
        if mode is _M.LEAD:
            if c == "{":
                return self._begin_object(text, i)
            if c == "[":
                self._in_list = True
                self._held.append(c)
                self._mode = _M.LIST_OPEN
                return i + 1
            if c == "`":
                self._mode = _M.FENCE_HEAD
                return i
            return self._not_a_call(text, i)
        if mode is _M.LIST_OPEN:
            if c == "{":
                return self._begin_object(text, i)
            if c == "[" and self._fenced and not self._in_list:
                self._in_list = True
                self._held.append(c)
                return i + 1
            return self._not_a_call(text, i)
        # BETWEEN
        if self._in_list and c == ",":
            self._mode = _M.LIST_OPEN
            return i + 1
        if self._in_list and c == "]":
            self._in_list = False
            return i + 1
        if c == "{" and not self._in_list:
            return self._begin_object(text, i)
        if self._fenced and c == "`":
            self._mode = _M.FENCE_CLOSE
            return i
        if self._in_list:
            self.failed = True
        self._mode = _M.TEXT
        return i

    def _hold_or_drop(self, ws: str) -> None:
        if self.calls or self._open is not None:
            return  # whitespace between calls is not content
        self._held.append(ws)

    # -- candidates

    def _begin_object(self, text: str, i: int) -> int:
        self._scanner = CallObjectScanner(self, strict_first_key=not self.calls)
        self._mode = _M.OBJECT
        return self._object(text, i)

    def _object(self, text: str, i: int) -> int:
        scanner = self._scanner
        assert scanner is not None
        end = scanner.feed(text, i)
        if not scanner.committed:
            self._held.append(text[i:end])
        if scanner.error:
            if scanner.committed:
                self.failed = True
                self._open = None
                self._mode = _M.TEXT
                return end
            return self._not_a_call(text, end)
        if scanner.done:
            self._held = []
            self._mode = _M.BETWEEN
        return end

    def _not_a_call(self, text: str, i: int) -> int:
        """The held text was not a call after all: it is content, and so is what follows."""
        held, self._held = "".join(self._held), []
        if self.calls:  # after a call: trailing junk is content, the calls stand
            self._text_out(held)
        else:
            self._content(held)
        self._mode = _M.TEXT
        return i

    # -- fences

    def _fence_head(self, text: str, i: int) -> int:
        rest = text[i : i + _MAX_FENCE_HEAD]
        m = _FENCE_HEAD.match(rest)
        if m:
            self._held.append(m.group())
            self._fenced = True
            self._mode = _M.LIST_OPEN
            return i + m.end()
        at_end = i + len(rest) == len(text) and len(rest) < _MAX_FENCE_HEAD
        if at_end and _PARTIAL_FENCE_HEAD.fullmatch(rest):
            self._carry = rest  # wait for the rest of the head
            return len(text)
        return self._not_a_call(text, i)

    def _fence_close(self, text: str, i: int) -> int:
        rest = text[i : i + 3]
        if rest == _FENCE:
            self._fenced = False
            self._mode = _M.TEXT
            return i + 3
        if _FENCE.startswith(rest) and i + len(rest) == len(text):
            self._carry = rest
            return len(text)
        self._mode = _M.TEXT
        return i

    # -- plain text

    def _text(self, text: str, i: int) -> int:
        """Content from ``i`` on; formats with tags override this to look for them."""
        self._text_out(text[i:])
        return len(text)

    def _text_out(self, piece: str) -> None:
        """Content; after a call, trailing whitespace is held until more text follows."""
        if not piece:
            return
        if not self.calls:
            self._content(piece)
            return
        stripped = piece.rstrip()
        if not stripped:
            self._ws.append(piece)
            return
        self._content("".join(self._ws) + stripped)
        self._ws = [piece[len(stripped) :]] if len(stripped) < len(piece) else []

    def _flush(self) -> None:
        mode, scanner = self._mode, self._scanner
        if mode is _M.OBJECT and (self.calls or (scanner is not None and scanner.committed)):
            self.failed = True  # cut off inside a call
        elif self.calls:
            if self._in_list:
                self.failed = True  # "[" never closed
        elif mode is not _M.TEXT:
            self._content("".join(self._held) + self._carry)
            self._carry = ""
        self._held = []
        self._ws = []
