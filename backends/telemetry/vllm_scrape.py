"""One vLLM ``/metrics`` text read into a :class:`Scrape`: gauges, counters and histograms.

Unlike vllm-htop (``eyuansu62/vllm-htop``), names are matched exactly, not by substring: a
substring match would add ``vllm:num_requests_waiting_by_reason`` to ``vllm:num_requests_waiting``
and take ``vllm:request_time_per_output_token_seconds`` (a per-request mean) for the deprecated
``vllm:time_per_output_token_seconds``. Deprecated names (``vllm:gpu_cache_usage_perc``,
``vllm:time_per_output_token_seconds``) are read only when the current name is absent.
Parsing uses ``prometheus_client.parser``; ``vllm_metrics`` turns two scrapes into a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

from prometheus_client.parser import text_string_to_metric_families

_RUNNING = "vllm:num_requests_running"
_WAITING = "vllm:num_requests_waiting"
_KV = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")
_COUNTERS = {
    "generation_tokens": "vllm:generation_tokens_total",
    "prompt_tokens": "vllm:prompt_tokens_total",
    "preemptions": "vllm:num_preemptions_total",
    "prefix_cache_queries": "vllm:prefix_cache_queries_total",
    "prefix_cache_hits": "vllm:prefix_cache_hits_total",
    "requests": "vllm:request_success_total",
}
_HISTOGRAMS = {
    "ttft": ("vllm:time_to_first_token_seconds",),
    "itl": ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    "e2el": ("vllm:e2e_request_latency_seconds",),
}


_SAMPLES = frozenset(
    {_RUNNING, _WAITING, *_KV, *_COUNTERS.values()}
    | {f"{h}{suffix}" for names in _HISTOGRAMS.values() for h in names for suffix in
       ("_bucket", "_sum", "_count")}
)  # fmt: skip
_FAMILIES = frozenset(
    {_RUNNING, _WAITING, *_KV, *_COUNTERS.values()}
    | {c.removesuffix("_total") for c in _COUNTERS.values()}
    | {h for names in _HISTOGRAMS.values() for h in names}
)


def _wanted_lines(text: str) -> str:
    """Only the series read here (and their TYPE/HELP lines).

    A real vLLM 0.32 page is ~57 KB of ~400 series; prometheus_client parses all of it in ~13 ms,
    which a panel refreshing every second pays per server. The lines kept parse the same.
    """
    kept = []
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("TYPE", "HELP") and parts[2] in _FAMILIES:
                kept.append(line)
        elif line.split("{", 1)[0].split(" ", 1)[0] in _SAMPLES:
            kept.append(line)
    return "\n".join(kept) + "\n"


@dataclass(frozen=True)
class Histogram:
    """One histogram of one scrape, summed over its label sets (engines)."""

    bounds: tuple[float, ...]
    """Upper bounds, ascending; the last is ``math.inf``."""
    counts: tuple[float, ...]
    """Cumulative count per bound (Prometheus ``le`` semantics)."""
    sum: float
    count: float


@dataclass(frozen=True)
class Scrape:
    """What one ``/metrics`` text said, at the caller's time ``at`` (seconds)."""

    at: float
    running: float | None
    """Summed over engines."""
    waiting: float | None
    """Summed over engines."""
    kv_cache_usage: float | None
    """0-1, the fullest engine."""
    counters: dict[str, float]
    """Summed over label sets; keys as ``_COUNTERS`` (absent when the server lacks one)."""
    histograms: dict[str, Histogram]
    """Keys ``ttft``, ``itl``, ``e2el`` (absent when the server lacks one)."""


def _histogram(samples: list[tuple[str, dict[str, str], float]], name: str) -> Histogram | None:
    """Sum one histogram's series over label sets; None when absent or inconsistent."""
    per_set: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
    total_sum = total_count = 0.0
    has_count = False
    for sample_name, labels, value in samples:
        if sample_name == f"{name}_bucket":
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            try:
                bound = float(labels["le"])
            except (KeyError, ValueError):
                return None
            if math.isnan(bound) or not math.isfinite(value):
                return None
            per_set.setdefault(key, {})[bound] = value
        elif sample_name == f"{name}_sum" and math.isfinite(value):
            total_sum += value
        elif sample_name == f"{name}_count" and math.isfinite(value):
            total_count += value
            has_count = True
    if not per_set:
        return None
    layouts = {tuple(sorted(buckets)) for buckets in per_set.values()}
    if len(layouts) != 1:
        return None
    bounds = layouts.pop()
    if bounds[-1] != math.inf:
        return None
    counts = tuple(sum(buckets[b] for buckets in per_set.values()) for b in bounds)
    return Histogram(bounds, counts, total_sum, total_count if has_count else counts[-1])


def parse_scrape(text: str, at: float, model: str | None = None) -> Scrape | None:
    """Read one ``/metrics`` text.

    Args:
        text: The Prometheus text exposition.
        at: When it was scraped, in seconds (``time.monotonic()`` or wall time; the caller keeps
            one clock).
        model: Keep only series whose ``model_name`` label equals this; None keeps all.

    Returns:
        The scrape, or None when the text is not Prometheus text or holds no ``vllm:`` series
        (for ``model``). Never raises on bad text.
    """
    scrape = _parsed(_wanted_lines(text), model)
    return None if scrape is None else replace(scrape, at=at)


@lru_cache(maxsize=64)
def _parsed(text: str, model: str | None) -> Scrape | None:
    """The series of ``text`` (already cut to the lines read), at time 0.

    Kept for the last texts seen: an idle server's page says the same at every scrape (its
    counters stand still), and prometheus_client takes ~3 ms to parse it again (25 µs a line).
    """
    samples: list[tuple[str, dict[str, str], float]] = []
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if not sample.name.startswith("vllm:"):
                    continue
                if model is not None and sample.labels.get("model_name") != model:
                    continue
                samples.append((sample.name, dict(sample.labels), float(sample.value)))
    except Exception:  # the parser is lax and raises many kinds on garbage: all mean "not text"
        return None
    if not samples:
        return None

    def values(name: str) -> list[float]:
        return [v for n, _, v in samples if n == name and math.isfinite(v)]

    def total(name: str) -> float | None:
        found = values(name)
        return sum(found) if found else None

    kv: float | None = None
    for name in _KV:
        found = values(name)
        if found:
            kv = max(found)
            break
    counters = {key: v for key, name in _COUNTERS.items() if (v := total(name)) is not None}
    histograms: dict[str, Histogram] = {}
    for key, names in _HISTOGRAMS.items():
        for name in names:
            hist = _histogram(samples, name)
            if hist is not None:
                histograms[key] = hist
                break
    return Scrape(0.0, total(_RUNNING), total(_WAITING), kv, counters, histograms)
