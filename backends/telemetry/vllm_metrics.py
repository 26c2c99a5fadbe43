"""Per-server metrics from vLLM's Prometheus ``/metrics`` text, over the recent window.

vLLM's counters and histograms are cumulative since the server started, so reading one scrape
alone gives lifetime averages. As vllm-htop (``eyuansu62/vllm-htop``) does, this module keeps the
previous scrape and reports the *window* between two: rates are counter deltas over the seconds
between the scrapes, and TTFT / inter-token / end-to-end percentiles come from the histogram
bucket deltas (Prometheus' ``histogram_quantile(q, increase(..._bucket[window]))``). Instances of
one model are merged the only way percentiles can be: bucket deltas are summed across instances
and the quantile taken once; percentiles are never averaged.

Scrapes are read by ``vllm_scrape``; the panel's thresholds follow vllm-playground.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Literal

from naptha_tui.backends.telemetry.vllm_scrape import Scrape, parse_scrape

Level = Literal["ok", "warn", "bad"]

THRESHOLDS: dict[str, tuple[float, float]] = {
    "kv_cache_usage": (0.70, 0.90),
    "waiting": (10, 50),
    "ttft_p50_ms": (500, 2000),
    "ttft_p95_ms": (500, 2000),
}
"""(warn, bad) per metric, as vllm-playground's registry; a value at a bound takes its level."""


@dataclass(frozen=True)
class ServerMetrics:
    """One server (or the instances of one model) over the window between two scrapes.

    None means not known: the gauge was absent, or there is no window yet, or the window saw
    no observations.
    """

    running: float | None = None
    waiting: float | None = None
    kv_cache_usage: float | None = None
    prefix_cache_hit_rate: float | None = None
    """Hits over queries (tokens) in the window; None when the window had no queries."""
    preemptions: float | None = None
    """Preemptions in the window."""
    generation_tokens_per_s: float | None = None
    prompt_tokens_per_s: float | None = None
    requests_per_s: float | None = None
    """Finished requests (every ``finished_reason``) per second."""
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    itl_p50_ms: float | None = None
    itl_p95_ms: float | None = None
    e2el_p50_ms: float | None = None
    e2el_p95_ms: float | None = None
    window_s: float | None = None
    """Seconds between the two scrapes (the longest one when instances are merged)."""

    def to_json(self) -> dict[str, float | None]:
        """Every field by its name, for ``--json`` output."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def levels(self) -> dict[str, Level]:
        """The level of each thresholded metric whose value is known."""
        out: dict[str, Level] = {}
        for metric in THRESHOLDS:
            found = level(metric, getattr(self, metric))
            if found is not None:
                out[metric] = found
        return out


def level(metric: str, value: float | None) -> Level | None:
    """Classify a value against ``THRESHOLDS``.

    Args:
        metric: A key of ``THRESHOLDS`` (a ``ServerMetrics`` field name).
        value: The value; None for not known.

    Returns:
        ``"bad"`` at or above the upper bound, ``"warn"`` at or above the lower one, else
        ``"ok"``; None when the value is None or the metric has no thresholds.
    """
    bounds = THRESHOLDS.get(metric)
    if bounds is None or value is None:
        return None
    warn, bad = bounds
    if value >= bad:
        return "bad"
    return "warn" if value >= warn else "ok"


def quantile(bounds: Sequence[float], deltas: Sequence[float], q: float) -> float | None:
    """The q-quantile of a histogram, with Prometheus ``histogram_quantile`` semantics.

    Args:
        bounds: Upper bounds, strictly ascending, the last ``math.inf``.
        deltas: CUMULATIVE counts per bound (``le``), here the increase over a window.
        q: The quantile, 0 to 1.

    Returns:
        Linear interpolation inside the bucket the rank falls in (the lowest bucket from 0,
        or its bound when that is <= 0); the highest finite bound when the rank falls in the
        +Inf bucket; None when the window has no observations or the buckets are malformed.
        Counts that decrease are raised to a running maximum, as Prometheus does.

    Raises:
        ValueError: ``q`` outside 0..1.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} outside 0..1")
    if len(bounds) < 2 or len(bounds) != len(deltas) or bounds[-1] != math.inf:
        return None
    if any(not a < b for a, b in pairwise(bounds)):
        return None
    if any(math.isnan(d) for d in deltas):
        return None
    counts: list[float] = []
    for d in deltas:
        counts.append(max(d, counts[-1]) if counts else d)
    observations = counts[-1]
    if not observations > 0:
        return None
    rank = q * observations
    # The first finite bucket holding the rank (and at least one observation, which only
    # matters for q = 0); none -> the +Inf bucket.
    b = next(
        (i for i in range(len(bounds) - 1) if counts[i] >= rank and counts[i] > 0),
        len(bounds) - 1,
    )
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start = bounds[b - 1] if b > 0 else 0.0
    below = counts[b - 1] if b > 0 else 0.0
    return start + (bounds[b] - start) * ((rank - below) / (counts[b] - below))


@dataclass(frozen=True)
class _Window:
    """One instance's increases between two scrapes."""

    seconds: float
    counters: dict[str, float]
    histograms: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]
    """Bounds and cumulative bucket increases; absent when unknown (missing, layout changed)."""


def _increase(prev: float, cur: float) -> float:
    # A counter that went down means the server restarted: all of cur is new (Prometheus).
    return cur if cur < prev else cur - prev


def _window(prev: Scrape | None, cur: Scrape) -> _Window | None:
    if prev is None or not cur.at > prev.at:
        return None
    counters = {
        key: _increase(prev.counters[key], value)
        for key, value in cur.counters.items()
        if key in prev.counters
    }
    histograms: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    for key, now in cur.histograms.items():
        before = prev.histograms.get(key)
        if before is None or before.bounds != now.bounds:
            continue
        reset = now.count < before.count or any(
            c < p for c, p in zip(now.counts, before.counts, strict=True)
        )
        deltas = (
            now.counts
            if reset
            else tuple(c - p for c, p in zip(now.counts, before.counts, strict=True))
        )
        histograms[key] = (now.bounds, deltas)
    return _Window(float(cur.at - prev.at), counters, histograms)


def _sum_known(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _percentiles(windows: Sequence[_Window], key: str) -> tuple[float | None, float | None]:
    """p50 and p95 in ms of one histogram's bucket increases summed across instances."""
    parts = [w.histograms[key] for w in windows if key in w.histograms]
    if not parts or len({bounds for bounds, _ in parts}) != 1:
        return None, None
    bounds = parts[0][0]
    summed = [sum(col) for col in zip(*(deltas for _, deltas in parts), strict=True)]
    p50, p95 = quantile(bounds, summed, 0.50), quantile(bounds, summed, 0.95)
    return (
        None if p50 is None else p50 * 1000.0,
        None if p95 is None else p95 * 1000.0,
    )


def merge(pairs: Sequence[tuple[Scrape | None, Scrape]]) -> ServerMetrics:
    """Combine the instances of one model, each given as (previous scrape, current scrape).

    Running and waiting are summed and KV usage is the maximum, from the current scrapes.
    Counter increases and rates are summed over the instances that have a window (a previous
    scrape taken earlier); histogram bucket increases are summed across those instances and
    the percentiles taken from the sum, never averaged. An instance without a window, or whose
    bucket layout changed, adds nothing to rates and percentiles; instances with different
    bucket layouts give no percentiles.

    Args:
        pairs: One (previous, current) pair per instance; previous None for a first scrape.

    Returns:
        The merged metrics; ``window_s`` is the longest window.
    """
    currents = [cur for _, cur in pairs]
    kvs = [c.kv_cache_usage for c in currents if c.kv_cache_usage is not None]
    gauges = {
        "running": _sum_known(c.running for c in currents),
        "waiting": _sum_known(c.waiting for c in currents),
        "kv_cache_usage": max(kvs) if kvs else None,
    }
    windows = [w for prev, cur in pairs if (w := _window(prev, cur)) is not None]
    if not windows:
        return ServerMetrics(**gauges)

    def increase(key: str) -> float | None:
        return _sum_known(w.counters.get(key) for w in windows)

    def rate(key: str) -> float | None:
        return _sum_known(w.counters[key] / w.seconds for w in windows if key in w.counters)

    both = [
        w for w in windows if {"prefix_cache_hits", "prefix_cache_queries"} <= w.counters.keys()
    ]
    queries = sum(w.counters["prefix_cache_queries"] for w in both)
    hits = sum(w.counters["prefix_cache_hits"] for w in both)
    ttft, itl, e2el = (_percentiles(windows, key) for key in ("ttft", "itl", "e2el"))
    return ServerMetrics(
        **gauges,
        prefix_cache_hit_rate=hits / queries if queries > 0 else None,
        preemptions=increase("preemptions"),
        generation_tokens_per_s=rate("generation_tokens"),
        prompt_tokens_per_s=rate("prompt_tokens"),
        requests_per_s=rate("requests"),
        ttft_p50_ms=ttft[0],
        ttft_p95_ms=ttft[1],
        itl_p50_ms=itl[0],
        itl_p95_ms=itl[1],
        e2el_p50_ms=e2el[0],
        e2el_p95_ms=e2el[1],
        window_s=max(w.seconds for w in windows),
    )


def window(prev: Scrape | None, cur: Scrape) -> ServerMetrics:
    """One server over the window from ``prev`` to ``cur``.

    Args:
        prev: The previous scrape; None (or one not earlier than ``cur``) for no window.
        cur: The current scrape.

    Returns:
        Gauges from ``cur``; rates, preemptions, hit rate and percentiles from the increases
        since ``prev`` (None without a window). A counter or histogram that went down counts
        as a restart (the increase is ``cur``'s value); a histogram whose bucket layout
        changed gives None percentiles.
    """
    return merge([(prev, cur)])


class MetricsWatch:
    """Keeps the latest good scrape per server between observations."""

    def __init__(self) -> None:
        """Start with no scrapes."""
        self._pairs: dict[str, tuple[Scrape | None, Scrape]] = {}

    def observe(self, key: str, text: str | None, at: float) -> ServerMetrics | None:
        """Take one ``/metrics`` text for a server and report its window since the last one.

        Args:
            key: The server's name.
            text: The ``/metrics`` body; None when the fetch failed.
            at: When it was fetched, in seconds (one clock for every call).

        Returns:
            The metrics since the previous good scrape (rates None on the first); None when
            the text is None or not vLLM metrics, in which case the previous scrape is kept.
        """
        cur = None if text is None else parse_scrape(text, at)
        if cur is None:
            return None
        prev = self.last(key)
        self._pairs[key] = (prev, cur)
        return window(prev, cur)

    def forget(self, key: str) -> None:
        """Drop a server's scrapes (it stopped); its next observation starts afresh."""
        self._pairs.pop(key, None)

    def last(self, key: str) -> Scrape | None:
        """The latest good scrape of a server, or None."""
        pair = self._pairs.get(key)
        return None if pair is None else pair[1]

    def pair(self, key: str) -> tuple[Scrape | None, Scrape] | None:
        """The (previous, latest) good scrapes of a server, as ``merge`` takes them, or None."""
        return self._pairs.get(key)
