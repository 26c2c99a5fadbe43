"""Linear time: 8x the input costs about 8x the time (marker `timing`: benchmarks run it)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from naptha_tui.backends.toolcalls import FORMATS, parse
from tests.unit.toolcall_cases import (
    hermes_call,
)
from tests.unit.toolcall_streams import (
    FUNCTIONARY,
    HERMES,
    JSON,
    MINICPM,
    run_stream,
)


def _seconds(work: Callable[[], object]) -> float:
    """Best of three, with the garbage collector out of the way."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            start = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


@dataclass(frozen=True)
class Scaling:
    id: str
    fmt: str
    build: Callable[[int], str]  # the input for size n
    piece: int  # feed in pieces of this size; 0: the whole text in one feed
    n: int  # sized so that the 8n run takes a tenth of a second or so

    def work(self, n: int) -> Callable[[], object]:
        text = self.build(n)
        if not self.piece:
            return lambda: parse(self.fmt, text)
        pieces = [text[i : i + self.piece] for i in range(0, len(text), self.piece)]
        return lambda: run_stream(self.fmt, pieces)


SCALING = [
    Scaling(
        "hermes-long-string-arg",
        HERMES,
        lambda n: '<tool_call>{"name": "f", "arguments": {"s": "' + 'ab\\"{}[]' * n,
        2,
        800,
    ),
    Scaling("hermes-many-calls", HERMES, lambda n: hermes_call("f", {"a": [1]}) * n, 0, 150),
    Scaling("hermes-partial-tags", HERMES, lambda n: "x" + "<tool_cal" * n, 1, 500),
    Scaling("functionary-long-name", FUNCTIONARY, lambda n: "<function=" + "a" * n, 3, 5000),
    # 20000: the size at which a machine that copies the rest of the text at each "<|" fails
    Scaling("minicpm-many-non-tags", MINICPM, lambda n: "x" + "<|" * n, 0, 20000),
    Scaling(
        "minicpm-many-blocks",
        MINICPM,
        lambda n: "<|tool_call_start|>\n```python\nf(a=1)\n```\n" * n,
        0,
        150,
    ),
    Scaling(
        "minicpm-long-block",
        MINICPM,
        lambda n: "<|tool_call_start|>\n```python\nf(a='" + "x\n``" * n,
        3,
        2000,
    ),
    Scaling(
        "json-held-arguments",
        JSON,
        lambda n: '{"arguments": {"s": "' + "x" * n + '"}, "name": "f"}',
        1,
        1500,
    ),
    Scaling(
        "json-whitespace-after-call", JSON, lambda n: FORMATS[JSON].example + " \n" * n, 1, 1000
    ),
]


@pytest.mark.timing
@pytest.mark.parametrize("case", SCALING, ids=lambda c: c.id)
def test_feed_is_linear(case: Scaling) -> None:
    """8x the input costs about 8x the time, far from the 64x of a rescanning machine."""
    small, large = _seconds(case.work(case.n)), _seconds(case.work(8 * case.n))
    # the margin absorbs timer noise on a busy machine; constant costs blur tiny runs
    assert large < 20 * small + 0.01, f"{small:.4f}s -> {large:.4f}s"
