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

from .fallback import JsonCallsParser

THOUGHT_START = "<|thought_start|>"
THOUGHT_END = "<|thought_end|>"
CALL_START = "<|tool_call_start|>"
CALL_END = "<|tool_call_end|>"
_TAGS = (THOUGHT_START, THOUGHT_END, CALL_START, CALL_END)
_FENCE_OPEN = re.compile(r"\s*```[A-Za-z]*[ \t]*\r?\n")
_WINDOW = len(CALL_END) + 4  # enough to see any end marker split across pieces


def python_calls(source: str) -> list[tuple[str, str]] | None:
    """``name(kw=literal, ...)`` lines → ``[(name, json_arguments)]``; None if anything else."""
    try:
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
                    self._ws = []
                return j + len(tag)  # thought tags and a stray end tag are dropped
        rest = text[j:]
        if any(tag.startswith(rest) for tag in _TAGS):
            self._carry = rest
            return len(text)
        self._text_out("<|")
        return j + 2

    def _in_block(self, text: str, i: int) -> int:
        body = self._body
        assert body is not None
        piece = text[i:]
        base = self._body_len  # where `piece` starts in the block
        body.append(piece)
        self._body_len += len(piece)
        if self._fence_end == 0 and "\n" in piece:
            head = "".join(body)  # once per block: the first line is complete
            m = _FENCE_OPEN.match(head)
            self._fence_end = m.end() if m else -1
        window_start = base - len(self._tail)
        window = self._tail + piece
        ends = []
        if (k := window.find(CALL_END)) >= 0:
            ends.append((window_start + k, len(CALL_END)))
        if self._fence_end > 0:
            lo = max(self._fence_end - 1 - window_start, 0)
            if (k := window.find("\n```", lo)) >= 0:
                ends.append((window_start + k, 4))
        if not ends:
            self._tail = window[-_WINDOW:]
            return len(text)
        end, size = min(ends)
        block = "".join(body)[:end]
        self._body = None
        self._emit_block(block)
        return i + (end + size - base)

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
        elif self._carry:
            self._text_out(self._carry)
        self._carry = ""
        super()._flush()
