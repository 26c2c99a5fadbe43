"""Server logs: their tail, following them, why a server died, how far its start has got."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# vLLM prefixes lines with "(APIServer pid=123) ERROR 11-24 14:24:22 [file.py:12] "
_PREFIX = re.compile(r"^\(\w+ pid=\d+\)\s+(?:\w+ \d\d-\d\d [\d:]+ \[[^\]]+\]\s*)?")
# the same prefixes, each with its one space: what follows keeps its indentation (a traceback's
# frames; vLLM's formatter repeats its prefix on every line of a multi-line message)
_PROCESS = re.compile(r"^(?:\(\w+ pid=\d+\) )?(?:\w+ \d\d-\d\d [\d:]+ \[[^\]]+\] )?")
TRACEBACK = "Traceback (most recent call last)"

# (pattern, short reason) checked from the end of the log; the first hit wins
_KNOWN = [
    (re.compile(r"address already in use", re.I), "port in use"),
    (
        re.compile(
            r"out of memory|OutOfMemoryError|Cannot allocate memory|"
            r"No available memory for the cache blocks|insufficient memory",
            re.I,
        ),
        "out of memory",
    ),
    (
        re.compile(r"error: unrecognized arguments|error: argument .*: invalid", re.I),
        "unknown or invalid flag",
    ),
    (
        re.compile(
            r"No such file or directory|does not exist|not a valid model|"
            r"Repo id must|RepositoryNotFound|LocalEntryNotFoundError",
            re.I,
        ),
        "model not found",
    ),
]
_EXCEPTION = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception|Exit)\b:?.*")
# vLLM's line that only says one of its processes still waits on another: the engine prints it
# every 60 s (VLLM_RINGBUFFER_WARNING_INTERVAL) while the worker it sent a call to hangs
_WAITING = re.compile(r"No available shared memory broadcast block found in \d+ seconds")


def tail(path: Path, lines: int = 200, max_bytes: int = 256_000) -> list[str]:
    """The last ``lines`` lines of ``path`` (ANSI colours removed); empty if unreadable."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [_ANSI.sub("", line) for line in data.splitlines()[-lines:]]


def only_waiting(path: Path, start: int, end: int, max_bytes: int = 64_000) -> bool:
    """Whether bytes ``start`` to ``end`` of ``path`` hold nothing but vLLM's still-waiting lines.

    Such a line is no sign of progress: a start that prints only these has hung. A span longer
    than ``max_bytes``, or one that cannot be read, counts as output.
    """
    if end - start > max_bytes:
        return False
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            data = fh.read(end - start).decode("utf-8", "replace")
    except OSError:
        return False
    return all(_WAITING.search(line) for line in data.splitlines() if line.strip())


def _clean(line: str) -> str:
    return _PREFIX.sub("", line).strip()


def _known(line: str) -> str | None:
    """``reason: line`` when ``line`` says a known cause."""
    for pattern, reason in _KNOWN:
        if pattern.search(line):
            return f"{reason}: {line}"
    return None


@dataclass(frozen=True)
class ErrorLine:
    """The line of a log that says what went wrong, and where it is."""

    text: str
    """The line without vLLM's process and logger prefixes."""
    offset: int
    """The byte offset where the line starts in the file."""


def tail_offsets(path: Path, max_bytes: int = 256_000) -> list[tuple[int, str]]:
    """The whole lines in the last ``max_bytes`` of ``path``, each with its byte offset.

    ANSI colours are removed; an unreadable file has none.
    """
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            start = max(0, size - max_bytes)
            fh.seek(start)
            data = fh.read(size - start)
    except OSError:
        return []
    lines = []
    pos = 0
    if start > 0:  # the first piece is the end of a line cut by the window
        cut = data.find(b"\n")
        pos = cut + 1 if cut >= 0 else len(data)
    while pos < len(data):
        end = data.find(b"\n", pos)
        stop = len(data) if end < 0 else end
        lines.append((start + pos, _ANSI.sub("", data[pos:stop].decode("utf-8", "replace"))))
        pos = stop + 1
    return lines


def first_error(path: Path) -> ErrorLine | None:
    """The line that ends the first traceback in the log's tail: the root cause.

    vLLM prints the engine's traceback first and the API server's ``Engine core initialization
    failed. See root cause above`` after it, so the first traceback's last line says why. Its
    frames are indented (after the ``(EngineCore pid=N) `` mark); the first line that is not
    ends it. None when the tail holds no traceback.
    """
    lines = tail_offsets(path)
    for i, (_, line) in enumerate(lines):
        if TRACEBACK not in line:
            continue
        for offset, after in lines[i + 1 :]:
            body = _PROCESS.sub("", after)
            if body.strip() and not body[:1].isspace():
                return ErrorLine(_clean(after), offset)
        return None
    return None


def last_line(path: Path, max_bytes: int = 8192) -> str | None:
    """The last non-empty line of ``path`` without vLLM's prefixes; None if there is none."""
    for _, line in reversed(tail_offsets(path, max_bytes)):
        if cleaned := _clean(line):
            return cleaned
    return None


def loading_reason(path: Path, elapsed_s: float) -> str:
    """What a starting server shows: ``loading 42 s`` and the last line its log printed."""
    said = f"loading {max(0, int(elapsed_s))} s"
    last = last_line(path)
    return f"{said}: {last}" if last else said


def death_reason(path: Path) -> str:
    """A one-line reason a server died, from the last lines of its log.

    The first traceback's last line (:func:`first_error`), named when it is a known cause
    (``port in use: OSError: [Errno 98] ...``); without a traceback, a known cause from the
    end; otherwise the last exception line; otherwise the last non-empty line.
    """
    lines = [_clean(line) for line in tail(path)]
    lines = [line for line in lines if line]
    if not lines:
        return f"exited with no output (log {path})"
    error = first_error(path)
    if error is not None and error.text:
        return _known(error.text) or error.text
    for line in reversed(lines):
        if known := _known(line):
            return known
    for line in reversed(lines):
        if _EXCEPTION.match(line):
            return line
    return lines[-1]


async def follow(path: Path, from_end: int = 50, poll_s: float = 0.25) -> AsyncIterator[str]:
    """Yield the last ``from_end`` lines, then every new line as it is written (``tail -f``)."""
    for line in tail(path, from_end):
        yield line
    try:
        pos = path.stat().st_size
    except OSError:
        pos = 0
    pending = ""
    while True:
        try:
            size = path.stat().st_size
        except OSError:
            size = pos
        if size < pos:  # truncated or rotated: start over
            pos = 0
        if size > pos:
            with path.open("rb") as fh:
                fh.seek(pos)
                chunk = fh.read(size - pos).decode("utf-8", "replace")
            pos = size
            pending += chunk
            *complete, pending = pending.split("\n")
            for line in complete:
                yield _ANSI.sub("", line)
        else:
            await asyncio.sleep(poll_s)
