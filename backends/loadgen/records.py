"""What one request of a load test leaves behind: its timings, tokens and fate.

Times are ``time.perf_counter()`` seconds. ``start`` is when the request was sent,
``scheduled`` when the arrival process wanted it sent (the gap is client queue time, as in
``vllm bench serve``'s ``client_queue_time``). ``ttft`` and ``latency`` are seconds after
``start``: the first chunk with a choice, and the last one (vLLM's ``latency`` is the same: the
usage-only chunk at the end does not move it). ``itl`` holds the gaps between successive
chunks with a choice, the first excluded.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RequestRecord:
    index: int
    scheduled: float
    start: float = 0.0
    ttft: float = 0.0
    latency: float = 0.0
    itl: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    success: bool = False
    error: str | None = None
    """The cause when it failed, short and stable enough to count by: ``"HTTP 503"``,
    ``"timeout"``, ``"connect"``, ``"no token"``, ``"cancelled"``, ``"stream: ..."``."""
    deployment: str | None = None
    """Which deployment served it (the proxy's routing headers), when known."""
    agent: int | None = None
    turn: int | None = None
