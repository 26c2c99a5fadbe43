"""What a run in progress shows: counters, the recent rate and percentiles of recent requests."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

from .records import RequestRecord

RATE_WINDOW_S = 5.0


@dataclass(frozen=True)
class Progress:
    """A live view of a run, for the screen and the headless progress line."""

    elapsed_s: float
    total: int | None
    """Requests the run will send (None for agents: tool turns add requests)."""
    sent: int
    completed: int
    failed: int
    in_flight: int
    request_rate: float
    """Completions per second over the last few seconds."""
    median_ttft_ms: float | None
    p99_ttft_ms: float | None
    median_tpot_ms: float | None
    median_e2el_ms: float | None
    output_throughput: float
    agents_done: int | None = None
    agents: int | None = None


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class Live:
    """Counters and recent figures of a run in progress, cheap to update per request."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.sent = 0
        self.completed = 0
        self.failed = 0
        self.in_flight = 0
        self.output_tokens = 0
        self.done_at: deque[float] = deque()
        self.ttft: deque[float] = deque(maxlen=2000)
        self.tpot: deque[float] = deque(maxlen=2000)
        self.e2el: deque[float] = deque(maxlen=2000)

    def finished(self, r: RequestRecord) -> None:
        self.in_flight -= 1
        now = time.perf_counter()
        if not r.success:
            self.failed += 1
            return
        self.completed += 1
        self.output_tokens += r.output_tokens
        self.done_at.append(now)
        self.ttft.append(r.ttft)
        self.e2el.append(r.latency)
        if r.output_tokens > 1:
            self.tpot.append((r.latency - r.ttft) / (r.output_tokens - 1))

    def snapshot(self, total: int | None, agents: tuple[int, int] | None) -> Progress:
        now = time.perf_counter()
        while self.done_at and self.done_at[0] < now - RATE_WINDOW_S:
            self.done_at.popleft()
        elapsed = now - self.t0
        window = min(RATE_WINDOW_S, elapsed) or 1.0

        def ms(values: deque[float], q: float) -> float | None:
            v = _quantile(list(values), q)
            return None if v is None else v * 1000

        return Progress(
            elapsed_s=elapsed,
            total=total,
            sent=self.sent,
            completed=self.completed,
            failed=self.failed,
            in_flight=self.in_flight,
            request_rate=len(self.done_at) / window,
            median_ttft_ms=ms(self.ttft, 0.5),
            p99_ttft_ms=ms(self.ttft, 0.99),
            median_tpot_ms=ms(self.tpot, 0.5),
            median_e2el_ms=ms(self.e2el, 0.5),
            output_throughput=self.output_tokens / elapsed if elapsed > 0 else 0.0,
            agents_done=agents[0] if agents else None,
            agents=agents[1] if agents else None,
        )
