"""Server logs: reading their tail, following them, and saying why a server died."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# vLLM prefixes lines with "(APIServer pid=123) ERROR 11-24 14:24:22 [file.py:12] "
_PREFIX = re.compile(r"^\(\w+ pid=\d+\)\s+(?:\w+ \d\d-\d\d [\d:]+ \[[^\]]+\]\s*)?")

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


def death_reason(path: Path) -> str:
    """A one-line reason a server died, from the last lines of its log.

    Known causes are named first (``port in use: OSError: [Errno 98] ...``); otherwise the last
    exception line; otherwise the last non-empty line.
    """
    lines = [_clean(line) for line in tail(path)]
    lines = [line for line in lines if line]
    if not lines:
        return f"exited with no output (log {path})"
    for line in reversed(lines):
        for pattern, reason in _KNOWN:
            if pattern.search(line):
                return f"{reason}: {line}"
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
