"""MiniCPM3's code-style calls.

MiniCPM3-4B writes an optional thought and then Python calls in a fenced block::

    <|thought_start|>
    The user wants the weather in Paris.
    <|thought_end|>
    <|tool_call_start|>
    ```python
    get_weather(city="Paris", unit="celsius")
    ```
    <|tool_call_end|>

The thought is content (without its tags). Each call in the block becomes a tool call whose
arguments are its keyword arguments as a JSON object; values must be Python literals (strings,
numbers, booleans, None, lists, dicts), which is what the model is prompted to write. The
block is read with :mod:`ast`, never executed. A block ends at ``<|tool_call_end|>`` or at the
closing fence (MiniCPM3's generation config stops on ``<|tool_call_end|>``, so the tag itself
is often missing from the text). Calls are emitted whole when their block ends: Python
arguments cannot be turned into JSON before the call is complete.
"""

from __future__ import annotations

import ast
import json
import re
import warnings

from .fallback import _M, JsonCallsParser

THOUGHT_START = "<|thought_start|>"
THOUGHT_END = "<|thought_end|>"
CALL_START = "<|tool_call_start|>"
CALL_END = "<|tool_call_end|>"
_TAGS = (THOUGHT_START, THOUGHT_END, CALL_START, CALL_END)
_FENCE_OPEN = re.compile(r"\s*```[A-Za-z]*[ \t]*\r?\n")
_LONGEST_TAG = max(map(len, _TAGS))
_WINDOW = len(CALL_END) + 4  # enough to see any end marker split across pieces
_FENCE_CLOSE = "\n```"
_NOT_WS = re.compile(r"\S")
_HEAD_STOP = re.compile(re.escape(CALL_END) + "|\n")
_BLOCK_END = re.compile(re.escape(CALL_END) + "|" + re.escape(_FENCE_CLOSE))


def python_calls(source: str) -> list[tuple[str, str]] | None:
    """``name(kw=literal, ...)`` lines → ``[(name, json_arguments)]``; None if anything else."""
    try:
        with warnings.catch_warnings():  # `"\d"` in an argument: no SyntaxWarning per call
            warnings.simplefilter("ignore")
            tree = ast.parse(source.strip(), mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    calls = []
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            return None
        call = stmt.value
        name = _dotted(call.func)
        if name is None or call.args or any(kw.arg is None for kw in call.keywords):
            return None  # positional or **kwargs: no names to give the JSON keys
        if len({kw.arg for kw in call.keywords}) < len(call.keywords):
            return None  # `f(a=1, a=2)`: Python refuses it, and one value would be lost
        try:
            args = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
            text = json.dumps(args, ensure_ascii=False, allow_nan=False)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return None
        calls.append((name, text))
    return calls or None


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


class MiniCPM3Parser(JsonCallsParser):
    """``<|tool_call_start|>`` fenced Python calls ``<|tool_call_end|>``, thoughts as content."""

    _body: list[str] | None = None  # the call block being read
    _body_len = 0
    _tail = ""  # the block's last characters, to find an end split across pieces
    _fence_end = 0  # where the opening fence's line ends in the block; -1: unfenced; 0: unknown
    _head_started = False  # the block's first non-blank character was seen

    def _text(self, text: str, i: int) -> int:
        if self._body is not None:
            return self._in_block(text, i)
        j = text.find("<|", i)
        if j < 0:
            keep = 1 if text.endswith("<") else 0
            self._text_out(text[i : len(text) - keep])
            self._carry = text[len(text) - keep :]
            return len(text)
        self._text_out(text[i:j])
        for tag in _TAGS:
            if text.startswith(tag, j):
                if tag == CALL_START:
                    self._body, self._body_len, self._tail, self._fence_end = [], 0, "", 0
                    self._head_started = False
                    self._ws = []
                return j + len(tag)  # thought tags and a stray end tag are dropped
        rest = text[j : j + _LONGEST_TAG]  # bounded: never copy the rest of a long piece
        if j + len(rest) == len(text) and any(tag.startswith(rest) for tag in _TAGS):
            self._carry = rest
            return len(text)
        self._text_out("<|")
        return j + 2

    def _in_block(self, text: str, i: int) -> int:
        """Read the block from ``text[i:]``; the search is linear in what it consumes."""
        body = self._body
        assert body is not None
        n, base = len(text), self._body_len  # `base`: where text[i] lies in the block
        # an end marker split between the previous piece and this one
        crossing = self._crossing_end(text, i, base)
        if crossing is not None:
            end, size = crossing
            self._body = None
            self._emit_block("".join(body)[:end])
            return i + (end + size - base)
        found = self._end_in_piece(text, i, base)
        if found is None:
            body.append(text[i:])
            self._body_len += n - i
            self._tail = (self._tail + text[max(i, n - _WINDOW) :])[-_WINDOW:]
            return n
        end, size = found
        self._body = None
        self._emit_block("".join(body) + text[i:end])
        return end + size

    def _crossing_end(self, text: str, i: int, base: int) -> tuple[int, int] | None:
        """(block position, size) of an end marker that began in the previous piece."""
        tail = self._tail
        if not tail:
            return None
        window = tail + text[i : i + _WINDOW]
        window_start = base - len(tail)
        ends = []
        if 0 <= (k := window.find(CALL_END)) < len(tail):
            ends.append((window_start + k, len(CALL_END)))
        if self._fence_end > 0:
            lo = max(self._fence_end - 1 - window_start, 0)
            if 0 <= (k := window.find(_FENCE_CLOSE, lo)) < len(tail):
                ends.append((window_start + k, len(_FENCE_CLOSE)))
        return min(ends) if ends else None

    def _end_in_piece(self, text: str, i: int, base: int) -> tuple[int, int] | None:
        """(position in ``text``, size) of the first end marker starting in this piece.

        Every search stops at its first match, and each match either ends the block or is
        the head line's newline (once per block): the cost is linear in what the block eats.
        """
        pos = i
        if self._fence_end == 0:  # is the block fenced? known when its first line is complete
            if not self._head_started:
                m = _NOT_WS.search(text, i)
                if m is None:
                    return None
                self._head_started, pos = True, m.start()
            m = _HEAD_STOP.search(text, pos)
            if m is None:
                return None
            if m.group() == CALL_END:
                return m.start(), len(CALL_END)
            assert self._body is not None
            head = "".join(self._body) + text[i : m.end()]  # once per block
            fence = _FENCE_OPEN.match(head)
            self._fence_end = fence.end() if fence else -1
            pos = m.start()  # an empty block's closing fence starts at this newline
        if self._fence_end < 0:
            k = text.find(CALL_END, pos)
            return None if k < 0 else (k, len(CALL_END))
        m = _BLOCK_END.search(text, max(pos, self._fence_end - 1 - base + i))
        return None if m is None else (m.start(), len(m.group()))

    def _emit_block(self, block: str) -> None:
        source = block.strip()
        if source.startswith("```"):
            source = source.split("\n", 1)[1] if "\n" in source else ""
        source = source.removesuffix("```")
        calls = python_calls(source)
        if calls is None:
            self.failed = True
            self._content(CALL_START + block)
            return
        for name, arguments in calls:
            self._start_call(name)
            self._args(arguments)
            self._end_call()

    def _flush(self) -> None:
        if self._body is not None:
            block, self._body = "".join(self._body), None
            self._emit_block(block)  # the stop token ended the block
        elif self._carry and self._mode is _M.TEXT:
            self._text_out(self._carry)  # ended on what looked like the start of a tag
            self._carry = ""
        super()._flush()  # any other carry (a partial fence) is the fallback's to release
