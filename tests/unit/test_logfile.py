"""Reading a log of any size by blocks (issue 20 item 4): lines around an offset, search in both
directions, tracebacks, rotation, and the highlight classes."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from naptha_tui.backends.servers import logfile
from naptha_tui.backends.servers.logfile import (
    MAX_LINE,
    SCAN_BYTES,
    LogFile,
    line_level,
    previous_run,
)

LINES = [
    f"(APIServer pid=1) INFO 12-08 10:{i // 60:02d}:{i % 60:02d} [x.py:1] line {i}"
    for i in range(5000)
]


def write(path: Path, lines: list[str], end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path


class CountingLog(LogFile):
    """Records every read's size."""

    def __init__(self, path: Path) -> None:
        self.reads: list[int] = []
        super().__init__(path)

    def read(self, start: int, end: int) -> bytes:
        self.reads.append(end - start)
        return super().read(start, end)


def test_walking_the_file_by_blocks_either_way_gives_every_line(tmp_path: Path) -> None:
    log = LogFile(write(tmp_path / "a.log", LINES))
    seen, offset = [], 0
    while batch := log.lines_after(offset, 333):
        seen += batch
        offset = batch[-1].end
    assert [line.text for line in seen] == LINES
    back, offset = [], log.size()
    while batch := log.lines_before(offset, 333):
        back = batch + back
        offset = batch[0].start
    assert back == seen
    assert all(a.end == b.start for a, b in itertools.pairwise(seen))
    middle = seen[2500]
    assert log.line_start(middle.start + 7) == middle.start
    assert log.lines_after(middle.start, 1) == [middle]


def test_a_last_line_without_newline_is_incomplete_and_a_huge_line_comes_in_pieces(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.log"
    path.write_bytes(b"short\n" + b"x" * (MAX_LINE * 2 + 10) + b"\nstill writing")
    log = LogFile(path)
    lines = log.lines_after(0, 100)
    assert [len(line.text) for line in lines] == [5, MAX_LINE, MAX_LINE, 10, 13]
    assert [line.complete for line in lines] == [True, True, True, True, False]
    assert log.lines_before(log.size(), 2)[-1] == lines[-1]


def test_search_reads_by_blocks_in_both_directions_and_across_block_edges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logfile, "SCAN_BYTES", 4096)
    lines = [*LINES, "ERROR Uvicorn running on socket", *LINES[:50]]
    log = CountingLog(write(tmp_path / "c.log", lines))
    size = log.size()
    hit = log.search("uvicorn", size, forward=False)  # smart case: lower case ignores case
    assert hit is not None and log.read(hit, hit + 7) == b"Uvicorn"
    assert max(log.reads) <= 4096 + MAX_LINE and sum(log.reads) < 16_000  # near the end
    assert log.search("Uvicorn", 0) == hit
    assert log.search("UVICORN", 0) is None  # an upper-case letter: case matters
    assert log.search("uvicorn", hit + 1) is None
    assert log.search("uvicorn", hit, forward=False) is None
    # a match that straddles two blocks is found whichever way
    for at in range(4090, 4100):
        data = bytearray(b"." * 9000)
        data[at : at + 6] = b"needle"
        path = tmp_path / f"edge{at}.log"
        path.write_bytes(bytes(data))
        edge = LogFile(path)
        assert edge.search("needle", 0) == at
        assert edge.search("needle", 9000, forward=False) == at
    assert log.search("line 4999", 0, cancelled=lambda: True) is None


def test_search_a_big_file_touches_only_the_blocks_it_needs(tmp_path: Path) -> None:
    """A 24 MB log: the last occurrence is found from the end reading one block; the first
    from the start likewise; a miss reads the file once, block by block."""
    path = tmp_path / "big.log"
    chunk = ("\n".join(LINES) + "\n").encode()
    with path.open("wb") as fh:
        fh.write(b"Traceback (most recent call last):\nfirst\n")
        while fh.tell() < 24 << 20:
            fh.write(chunk)
        fh.write(b"Traceback (most recent call last):\nlast\n")
    log = CountingLog(path)
    first = log.traceback(first=True)
    assert first == 0 and sum(log.reads) <= SCAN_BYTES
    log.reads.clear()
    last = log.traceback(first=False)
    assert last is not None and log.read(last, log.size()).endswith(b"\nlast\n")
    assert sum(log.reads) <= SCAN_BYTES + 64
    log.reads.clear()
    assert log.search("not in it", 0) is None
    assert max(log.reads) <= SCAN_BYTES and sum(log.reads) < log.size() * 1.01
    tail = log.lines_before(log.size(), 50)
    assert tail[-1].text == "last" and len(tail) == 50


def test_poll_says_grew_rotated_truncated_and_appeared(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    log = LogFile(path)
    assert not log.exists and log.poll() is None and log.lines_after(0, 5) == []
    path.write_text("one\n")
    assert log.poll() == "appeared" and [x.text for x in log.lines_after(0, 5)] == ["one"]
    with path.open("a") as fh:
        fh.write("two\n")
    assert log.poll() == "grew" and log.poll() is None
    path.replace(previous_run(path))
    path.write_text("new run\n")
    assert log.poll() == "rotated" and [x.text for x in log.lines_after(0, 5)] == ["new run"]
    os.truncate(path, 0)
    assert log.poll() == "truncated"
    assert previous_run(Path("/l/qwen2.5-7b.log")) == Path("/l/qwen2.5-7b.log.1")


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("(APIServer pid=3) ERROR 12-08 10:00:00 [core.py:1] EngineCore failed to start.", "error"),
        ("ERROR:    Exception in ASGI application", "error"),
        ("Traceback (most recent call last):", "error"),
        ("(EngineCore_DP0 pid=2) ValueError: max_model_len 99999", "error"),
        ("torch.OutOfMemoryError: CUDA out of memory.", "error"),
        ("CRITICAL worker died", "error"),
        ("(APIServer pid=3) WARNING 12-08 10:00:00 [x.py:1] Using a slow tokenizer", "warning"),
        ("INFO:     Uvicorn running on http://127.0.0.1:8100", None),
        ("INFO 12-08 10:00:00 [x.py:1] 0 errors, retrying on error", None),
        ('  File "core.py", line 12, in run', None),
    ],
)
def test_highlight_classes(line: str, level: str | None) -> None:
    assert line_level(line) == level
