"""What every tool-call parser returns, and the streaming contract they share.

A parser turns a model's raw text into OpenAI-shaped tool calls. Each format has one stream
machine (a subclass of :class:`StreamParser`) fed text as it is generated; the non-streaming
answer is the same machine fed the whole text at once. So streaming and non-streaming agree by
construction, and the tests check that the machines do not depend on where chunks split.

Contract of a stream machine:

* ``feed(text)`` costs time proportional to ``len(text)`` plus a small constant: no machine
  rescans what it has already seen, so a whole stream is linear in its length.
* The ``arguments`` pieces of one call concatenate to exactly the call's final arguments.
* Nothing raises on any input: text that does not parse is content, and a machine that meets
  malformed text inside a call marks itself ``failed`` (``parse`` then returns the whole text
  as content, the way a well-behaved server answers a model that botched its format).

This module and its siblings import nothing from vLLM: the vLLM adapter is
``naptha_vllm_plugin.py``.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field

_ALNUM = string.ascii_letters + string.digits

IdFactory = Callable[[], str]


def openai_id() -> str:
    """``call_`` and 24 letters or digits, the shape OpenAI clients and most templates accept."""
    return "call_" + "".join(secrets.choice(_ALNUM) for _ in range(24))


def mistral_id() -> str:
    """Exactly 9 letters or digits: Mistral's templates refuse any other tool-call id."""
    return "".join(secrets.choice(_ALNUM) for _ in range(9))


ID_STYLES: dict[str, IdFactory] = {"openai": openai_id, "mistral": mistral_id}


@dataclass(frozen=True)
class ToolCall:
    """One complete call: ``arguments`` is a JSON object as text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Parsed:
    """A whole output: the text meant for the user (or None) and the calls."""

    content: str | None
    calls: tuple[ToolCall, ...] = ()


@dataclass
class CallDelta:
    """A piece of call ``index``: its id and name come once, first; arguments in pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass
class Delta:
    """What one ``feed`` adds: content text and call pieces (either may be empty)."""

    content: str = ""
    calls: list[CallDelta] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.content or self.calls)


def partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``.

    Costs O(len(tag)), not O(len(text)): only the last ``len(tag) - 1`` characters can matter.
    """
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0


class StreamParser:
    """Base of every format's stream machine: the bookkeeping of calls and deltas.

    Subclasses implement :meth:`_consume` (and optionally :meth:`_flush`) and report through
    :meth:`_content`, :meth:`_start_call`, :meth:`_args` and :meth:`_end_call`.
    """

    def __init__(self, new_id: IdFactory = openai_id) -> None:
        self.new_id = new_id
        self.failed = False
        """Set when text inside a call turned out malformed; ``parse`` then gives content only."""
        self.calls: list[ToolCall] = []
        self._open: tuple[str, str] | None = None  # (id, name) of the call being streamed
        self._started = 0  # calls started, complete or not: the next call's index
        self._open_args: list[str] = []
        self._delta = Delta()
        self._content_parts: list[str] = []
        self._delta_from = 0  # the first of `_content_parts` that the current delta holds

    # -- the public stream API

    def feed(self, text: str) -> Delta:
        """Consume ``text`` (the next piece of output) and return what it adds."""
        self._start_delta()
        if text:
            try:
                self._consume(text)
            except Exception:  # a parser bug must never break a stream: fail, keep the text
                self._fail_to_content(text)
        return self._end_delta()

    def finish(self) -> Delta:
        """The stream ended: release anything held back (a partial tag, buffered text)."""
        self._start_delta()
        try:
            self._flush()
        except Exception:
            self.failed = True
        if self._open is not None:  # a call cut off mid-arguments
            self.failed = True
        return self._end_delta()

    def content_so_far(self) -> str:
        """All content emitted so far."""
        return "".join(self._content_parts)

    # -- for subclasses

    def _consume(self, text: str) -> None:
        raise NotImplementedError

    def _flush(self) -> None:
        """Release held text at the end of the stream (default: nothing is held)."""

    def _start_delta(self) -> None:
        self._delta = Delta()
        self._delta_from = len(self._content_parts)

    def _end_delta(self) -> Delta:
        # joined once: `content +=` per piece would be quadratic in the pieces of one feed
        self._delta.content = "".join(self._content_parts[self._delta_from :])
        return self._delta

    def _content(self, text: str) -> None:
        if text:
            self._content_parts.append(text)

    def _start_call(self, name: str) -> None:
        call_id = self.new_id()
        self._open = (call_id, name)
        self._open_args = []
        # an index is never reused: a call that broke after its name went out keeps its own
        self._delta.calls.append(CallDelta(self._started, id=call_id, name=name))
        self._started += 1

    def _args(self, piece: str) -> None:
        if not piece or self._open is None:
            return
        self._open_args.append(piece)
        calls = self._delta.calls
        index = self._started - 1
        if calls and calls[-1].index == index:
            calls[-1].arguments += piece
        else:
            calls.append(CallDelta(index, arguments=piece))

    def _end_call(self) -> None:
        if self._open is None:
            return
        call_id, name = self._open
        self.calls.append(ToolCall(call_id, name, "".join(self._open_args)))
        self._open = None
        self._open_args = []

    def _fail_to_content(self, text: str) -> None:
        """Give up on the structure: mark failed, pass the rest through as content."""
        self.failed = True
        self._content(text)


def parse_with(machine: StreamParser, text: str) -> Parsed:
    """The non-streaming answer: ``machine`` fed all of ``text``; malformed means content only."""
    machine.feed(text)
    machine.finish()
    if machine.failed:
        return Parsed(text if text else None)
    content = machine.content_so_far()
    if not machine.calls:  # the text itself, less what a stream also drops (MiniCPM3's tags)
        return Parsed(content if content else None)
    return Parsed(content if content.strip() else None, tuple(machine.calls))
