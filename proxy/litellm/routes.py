"""The routing feed: where each request went, as written by ``hooks.py`` in the proxy.

``FeedReader`` tails the JSON-lines file (following rotation to ``.1``); malformed lines are
skipped and counted, never fatal. Each line parses to a ``RouteStart`` (a request sent) or a
``RouteEvent`` (an attempt finished). ``RoutingStats`` folds them into what the routing screen
and ``naptha-tui routes`` show: recent requests, and per deployment a ``DeploymentRow`` with the
request and error counts, requests in flight, and p50/p95 latency.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IN_FLIGHT_MAX_AGE_S = 900.0
"""A start with no end this long after its own ``t`` is forgotten (its end was lost, e.g. a
killed worker or a client that hung up mid-stream)."""


@dataclass(frozen=True)
class RouteEvent:
    """One finished request attempt."""

    t: float
    model_group: str | None
    deployment: str | None
    api_base: str | None
    status: str
    latency_ms: float | None
    ttft_ms: float | None
    tokens_in: int | None
    tokens_out: int | None
    retries: int
    stream: bool
    error: str | None
    call_id: str | None

    def to_json(self) -> dict[str, Any]:
        """The event as ``routes --json`` prints it."""
        return {"kind": "end", **self.__dict__}


@dataclass(frozen=True)
class RouteStart:
    """A request sent to a deployment, whose end has not been read yet."""

    call_id: str
    """LiteLLM's call id; with the deployment, it pairs the start with its end."""
    deployment: str | None
    model_group: str | None
    t: float
    """When it was sent (epoch seconds); requests in flight are aged by it."""


@dataclass(frozen=True)
class DeploymentRow:
    """One deployment's figures, as the routing screen and ``naptha-tui routes`` show them."""

    deployment: str
    model_group: str | None
    api_base: str | None
    requests: int
    errors: int
    retried: int
    """Requests that needed at least one retry."""
    in_flight: int
    p50_ms: float | None
    """Median latency of the recent successful requests (None: none yet)."""
    p95_ms: float | None
    last_status: str | None
    last_error: str | None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_line(line: str) -> RouteEvent | RouteStart | None:
    """A feed line as an end event, a start, or None if malformed."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or _num(data.get("t")) is None:
        return None
    if data.get("kind") == "start":  # without a call id it could never be paired with its end
        call_id = _str(data.get("call_id"))
        if call_id is None:
            return None
        return RouteStart(
            call_id=call_id,
            deployment=_str(data.get("deployment")),
            model_group=_str(data.get("model_group")),
            t=float(data["t"]),
        )
    if data.get("kind") != "end" or data.get("status") not in ("success", "failure"):
        return None
    return RouteEvent(
        t=float(data["t"]),
        model_group=_str(data.get("model_group")),
        deployment=_str(data.get("deployment")),
        api_base=_str(data.get("api_base")),
        status=data["status"],
        latency_ms=_num(data.get("latency_ms")),
        ttft_ms=_num(data.get("ttft_ms")),
        tokens_in=_int(data.get("tokens_in")),
        tokens_out=_int(data.get("tokens_out")),
        retries=_int(data.get("retries")) or 0,
        stream=bool(data.get("stream")),
        error=_str(data.get("error")),
        call_id=_str(data.get("call_id")),
    )


class FeedReader:
    """Reads what was appended to the feed since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.bad_lines = 0
        self._partial = b""

    def read_new(self) -> list[str]:
        """Complete new lines (a half-written last line waits for the next call)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        lines: list[str] = []
        if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
            # rotated: finish the old file (now .1) from where we were, then start over
            lines += self._read(self.path.with_name(self.path.name + ".1"), self.offset)
            self.offset, self._partial = 0, b""
        self.inode = st.st_ino
        lines += self._read(self.path, self.offset)
        return lines

    def _read(self, path: Path, offset: int) -> list[str]:
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        if path == self.path:
            self.offset = offset + len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        return [c.decode("utf-8", "replace") for c in complete if c.strip()]


@dataclass
class DeploymentStats:
    """Counters for one deployment over the feed seen so far."""

    deployment: str
    model_group: str | None = None
    api_base: str | None = None
    requests: int = 0
    errors: int = 0
    retried: int = 0
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    last_status: str | None = None
    last_error: str | None = None
    last_t: float | None = None

    def percentile(self, q: float) -> float | None:
        """The ``q`` quantile (0-1) of the recent latencies, None when there are none."""
        values = sorted(self.latencies_ms)
        if not values:
            return None
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


class RoutingStats:
    """Everything the routing screen shows, folded from feed lines."""

    def __init__(self, recent: int = 200) -> None:
        self.recent: deque[RouteEvent] = deque(maxlen=recent)
        self.by_deployment: dict[str, DeploymentStats] = {}
        self.open: dict[tuple[str, str | None], RouteStart] = {}
        """Requests in flight, by (call id, deployment)."""
        self.bad_lines = 0
        self.total = 0

    def add_lines(self, lines: Iterable[str], now: float | None = None) -> list[RouteEvent]:
        """Fold feed lines in; returns the end events among them."""
        now = time.time() if now is None else now
        ends = []
        for line in lines:
            parsed = parse_line(line)
            if parsed is None:
                self.bad_lines += 1
            elif isinstance(parsed, RouteStart):
                self.open[(parsed.call_id, parsed.deployment)] = parsed
            else:
                self.add(parsed)
                ends.append(parsed)
        for key, started in list(self.open.items()):
            # aged by the start's own time, so a reload of an old feed revives no orphans
            if now - started.t > IN_FLIGHT_MAX_AGE_S:
                del self.open[key]
        return ends

    def add(self, event: RouteEvent) -> None:
        """Fold one finished request in."""
        self.total += 1
        self.recent.append(event)
        self.open.pop((str(event.call_id), event.deployment), None)
        name = event.deployment or "?"
        stats = self.by_deployment.get(name)
        if stats is None:
            stats = self.by_deployment[name] = DeploymentStats(name)
        stats.model_group = event.model_group or stats.model_group
        stats.api_base = event.api_base or stats.api_base
        stats.requests += 1
        stats.last_status, stats.last_t = event.status, event.t
        if event.status != "success":
            stats.errors += 1
            stats.last_error = event.error
        if event.retries:
            stats.retried += 1
        if event.latency_ms is not None and event.status == "success":
            stats.latencies_ms.append(event.latency_ms)

    def in_flight(self, deployment: str) -> int:
        """Requests sent to ``deployment`` whose end has not arrived yet."""
        return sum(1 for (_, d) in self.open if d == deployment)

    def rows(self) -> list[DeploymentRow]:
        """Per-deployment figures, sorted by model group then deployment."""
        names = set(self.by_deployment) | {d for (_, d) in self.open if d}
        out = []
        for name in names:
            s = self.by_deployment.get(name) or DeploymentStats(name)
            out.append(
                DeploymentRow(
                    deployment=name,
                    model_group=s.model_group,
                    api_base=s.api_base,
                    requests=s.requests,
                    errors=s.errors,
                    retried=s.retried,
                    in_flight=self.in_flight(name),
                    p50_ms=s.percentile(0.5),
                    p95_ms=s.percentile(0.95),
                    last_status=s.last_status,
                    last_error=s.last_error,
                )
            )
        return sorted(out, key=lambda r: (r.model_group or "", r.deployment))


def load_feed(
    path: Path, stats: RoutingStats | None = None, now: float | None = None
) -> tuple[RoutingStats, FeedReader]:
    """Read the whole feed (the rotated ``.1`` part first) into stats; the reader follows on.

    ``now`` (default: the clock) ages requests in flight, as in ``RoutingStats.add_lines``.
    """
    stats = stats or RoutingStats()
    old = path.with_name(path.name + ".1")
    if old.exists():
        stats.add_lines(FeedReader(old).read_new(), now)
    reader = FeedReader(path)
    stats.add_lines(reader.read_new(), now)
    return stats, reader


def feed_size(path: Path) -> int:
    """Bytes in the feed (0 when absent)."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0
