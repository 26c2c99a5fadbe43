"""Running a tool-call stream machine in tests: chunkings, and a checked run of the deltas."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from naptha_tui.backends.toolcalls import StreamParser, ToolCall, stream

HERMES, FUNCTIONARY, MINICPM, JSON = (
    "naptha_hermes",
    "naptha_functionary",
    "naptha_minicpm3",
    "naptha_json",
)
OPENAI_ID = re.compile(r"call_[A-Za-z0-9]{24}")
MISTRAL_ID = re.compile(r"[A-Za-z0-9]{9}")
# special tokens of the families' vocabularies: one token each when a tokenizer emits them
SPECIAL = (
    "<tool_call>",
    "</tool_call>",
    "</function>",
    "<|thought_start|>",
    "<|thought_end|>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
)
_SPECIAL_SPLIT = re.compile("(" + "|".join(map(re.escape, SPECIAL)) + ")")
_TOKEN = re.compile(r" ?[A-Za-z]+| ?[0-9]{1,3}|\s+|[^\sA-Za-z0-9]{1,2}")


# -- running a stream


@dataclass
class Streamed:
    """A whole stream, assembled the way an OpenAI client does it (calls by index)."""

    content: str
    calls: list[ToolCall]
    pieces: list[list[str]]  # the arguments pieces of each call, as they came
    failed: bool
    machine: StreamParser = field(repr=False)

    @property
    def content_or_none(self) -> str | None:
        """The content as ``parse`` reports it: None when blank."""
        return self.content if self.content.strip() else None


def run_stream(fmt: str, pieces: list[str], id_style: str | None = None) -> Streamed:
    """Feed ``pieces`` then finish; check the delta protocol while assembling the calls.

    A call's first delta carries its id and name (and only that delta does); indices are
    0, 1, 2, ... in order, and argument pieces go to the call most recently started.
    """
    machine = stream(fmt, id_style)
    errors = _record_errors(machine)
    content: list[str] = []
    ids: list[str] = []
    names: list[str] = []
    args: list[list[str]] = []
    deltas = [machine.feed(piece) for piece in pieces]
    deltas.append(machine.finish())
    for delta in deltas:
        assert isinstance(delta.content, str)
        content.append(delta.content)
        for piece in delta.calls:
            if piece.index == len(ids):
                assert piece.id and piece.name, f"call {piece.index} starts without id/name"
                ids.append(piece.id)
                names.append(piece.name)
                args.append([])
            else:
                assert piece.index == len(ids) - 1, f"delta for call {piece.index} out of order"
                assert piece.id is None and piece.name is None, "id/name sent twice"
            if piece.arguments:
                args[piece.index].append(piece.arguments)
    assert not errors, f"the machine swallowed an internal error: {errors[0]!r}"
    calls = [ToolCall(i, n, "".join(a)) for i, n, a in zip(ids, names, args, strict=True)]
    if not machine.failed:  # every started call completed, exactly as streamed
        assert machine.calls == calls
    return Streamed("".join(content), calls, args, machine.failed, machine)


def _record_errors(machine: StreamParser) -> list[Exception]:
    """Exceptions that ``feed``/``finish`` swallow (by design, to keep a stream alive).

    A swallowed exception is still a parser bug: the tests want none.
    """
    errors: list[Exception] = []
    for attr in ("_consume", "_flush"):
        method = getattr(machine, attr)

        def recording(*args: Any, _method: Callable[..., None] = method) -> None:
            try:
                _method(*args)
            except Exception as exc:
                errors.append(exc)
                raise

        setattr(machine, attr, recording)
    return errors


def token_pieces(text: str) -> list[str]:
    """Roughly what a BPE tokenizer emits: special tags whole, words, digits, punctuation."""
    out: list[str] = []
    for part in _SPECIAL_SPLIT.split(text):
        if part in SPECIAL:
            out.append(part)
        elif part:
            out.extend(_TOKEN.findall(part))
    assert "".join(out) == text
    return out


def random_pieces(text: str, seed: int, most: int = 8) -> list[str]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        k = rng.randint(1, most)
        out.append(text[i : i + k])
        i += k
    return out


def chunkings(text: str, *, all_splits: bool = True) -> dict[str, list[str]]:
    """Named ways to cut ``text`` into stream pieces."""
    out = {
        "whole": [text],
        "chars": list(text),
        "tokens": token_pieces(text),
        **{f"random{seed}": random_pieces(text, seed) for seed in range(4)},
        "random-large": random_pieces(text, 99, most=40),
    }
    if all_splits and len(text) <= 1000:
        out.update({f"split@{k}": [text[:k], text[k:]] for k in range(1, len(text))})
    return out


def names_args(calls: tuple[ToolCall, ...] | list[ToolCall]) -> list[tuple[str, Any]]:
    return [(c.name, json.loads(c.arguments)) for c in calls]
