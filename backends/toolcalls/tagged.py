"""Formats that wrap each call in tags.

Hermes writes ``<tool_call>{json}</tool_call>``, functionary v3.1
``<function=NAME>{json args}</function>``. Text between calls is content. A partial tag at
the end of a piece is held back until the next piece says whether it is a tag. The closing
tag is optional (small models often stop right after the JSON), and both formats fall back
to bare or fenced JSON calls when the model drops the tags altogether (:mod:`.fallback`).
"""

from __future__ import annotations

import re

from .base import partial_suffix
from .fallback import _M, JsonCallsParser
from .jsonscan import WS, CallObjectScanner


class TaggedJsonParser(JsonCallsParser):
    """Calls in ``OPEN`` ... ``CLOSE`` tags, anywhere in the output."""

    OPEN = ""
    CLOSE = ""

    _tag: CallObjectScanner | None = None
    _closing = False

    def _inside_tag(self) -> bool:
        return self._tag is not None

    def _text(self, text: str, i: int) -> int:
        if self._inside_tag():
            return self._in_tag(text, i)
        if self._closing:
            return self._close_tag(text, i)
        j = text.find(self.OPEN, i)
        if j < 0:
            piece = text[i:]
            keep = partial_suffix(piece, self.OPEN)
            self._text_out(piece[: len(piece) - keep])
            self._carry = piece[len(piece) - keep :]
            return len(text)
        self._text_out(text[i:j])
        self._ws = []  # whitespace between two calls is not content
        self._held = [self.OPEN]
        return self._open_tag(text, j + len(self.OPEN))

    def _open_tag(self, text: str, i: int) -> int:
        """Right after ``OPEN``: start reading the call (Hermes: a whole call object)."""
        self._tag = CallObjectScanner(self)
        return self._in_tag(text, i)

    def _in_tag(self, text: str, i: int) -> int:
        scanner = self._tag
        assert scanner is not None
        end = scanner.feed(text, i)
        if not scanner.committed:
            self._held.append(text[i:end])
        if scanner.error:
            self._tag = None
            self._tag_failed(committed=scanner.committed)
            return end
        if scanner.done:
            self._tag, self._held, self._closing = None, [], True
        return end

    def _tag_failed(self, *, committed: bool) -> None:
        """Malformed text in a tag: the output is not a clean set of calls; show the text."""
        self.failed = True
        self._open = None
        if not committed:
            self._content("".join(self._held))
        self._held = []

    def _close_tag(self, text: str, i: int) -> int:
        n = len(text)
        while i < n and text[i] in WS:
            i += 1
        if text.startswith(self.CLOSE, i):
            self._closing = False
            return i + len(self.CLOSE)
        rest = text[i : i + len(self.CLOSE)]
        if i + len(rest) == n and self.CLOSE.startswith(rest):
            self._carry = rest  # maybe the closing tag, split across pieces
            return n
        self._closing = False  # no closing tag: the model went on with text
        return i

    def _flush(self) -> None:
        if self._tag is not None:
            self._tag_failed(committed=self._tag.committed)
            self._tag = None
        elif not self._closing and self._carry and self._mode is _M.TEXT:
            self._text_out(self._carry)  # ended on what looked like the start of a tag
            self._carry = ""
        super()._flush()  # any other carry (a partial fence) is the fallback's to release


class HermesParser(TaggedJsonParser):
    """Hermes / Qwen 2.5 / SmolLM2-with-our-template: ``<tool_call>{"name", "arguments"}``."""

    OPEN = "<tool_call>"
    CLOSE = "</tool_call>"


_NAME_CHARS = re.compile(r"[A-Za-z0-9_.:-]*")
_MAX_NAME = 128


class FunctionaryParser(TaggedJsonParser):
    """functionary v3.1 (Llama 3.1 based): ``<function=NAME>{json args}</function>``."""

    OPEN = "<function="
    CLOSE = "</function>"

    _name_parts: list[str] | None = None

    def _inside_tag(self) -> bool:
        return self._name_parts is not None or self._tag is not None

    def _open_tag(self, text: str, i: int) -> int:
        self._name_parts = []
        return self._in_tag(text, i)

    def _in_tag(self, text: str, i: int) -> int:
        if self._name_parts is None:
            return super()._in_tag(text, i)
        m = _NAME_CHARS.match(text, i)
        end = m.end() if m else i
        self._name_parts.append(text[i:end])
        self._held.append(text[i:end])
        name = "".join(self._name_parts)
        if len(name) > _MAX_NAME:
            return self._bad_name(end)
        if end == len(text):
            return end  # the name goes on in the next piece
        if text[end] != ">" or not name:
            return self._bad_name(end)
        self._name_parts = None
        self._held = []
        self._tag = CallObjectScanner(self, name=name)
        return super()._in_tag(text, end + 1)

    def _bad_name(self, i: int) -> int:
        self._name_parts = None
        self._tag_failed(committed=False)
        return i

    def _flush(self) -> None:
        if self._name_parts is not None:
            self._name_parts = None
            self._tag_failed(committed=False)
        super()._flush()
