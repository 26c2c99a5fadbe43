"""The numbers a load test reports, defined exactly as ``vllm bench serve`` defines them.

The definitions are those of ``calculate_metrics`` in ``vllm/benchmarks/serve.py`` and the result
field names those its ``benchmark()`` writes to the JSON (``process_one_metric``), so a result from
here can be read beside one from vLLM:

- Only successful requests count, except in ``failed``. A successful request that reports no
  output tokens counts as one (vLLM's fallback without a tokenizer).
- TTFT: time to the first chunk with a choice. E2EL: ``latency``, send to last chunk.
- TPOT (per request): ``(latency - ttft) / (output_tokens - 1)``, only for requests with more than
  one output token; for goodput a one-token request's TPOT is 0.
- ITL: the gaps between successive chunks, pooled over all requests (one chunk may carry several
  tokens, so ITL and TPOT differ).
- Mean, median, population std and percentiles (numpy's default linear interpolation) in ms; an
  empty list counts as ``[0]``, as vLLM's ``np.mean(x or 0)``.
- Goodput: requests per second whose every SLO (ms) is at least its metric (``ttft``, ``tpot``,
  ``e2el``).
- ``max_output_tokens_per_s`` and ``max_concurrent_requests``: the highest count over one-second
  buckets from the first successful start; a "token" there is a chunk (the first at ``ttft``, one
  more per ``itl`` gap), and a request counts in every bucket from its start's to its end's, so the
  two maxima may come from different seconds.

The naming trap: GuideLLM's ``inter_token_latency`` is this TPOT, and GuideLLM's
``time_per_output_token`` is ``latency / output_tokens``, which includes the TTFT. Neither is vLLM's
ITL.

Our additions: ``failures`` (cause -> count) and the client queue time (``start - scheduled``) of
the successful requests, ``mean_client_queue_ms`` and ``median_client_queue_ms``.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.loadgen.records import RequestRecord

METRICS = ("ttft", "tpot", "itl", "e2el")
GOODPUT_METRICS = ("ttft", "tpot", "e2el")
"""The SLO names ``vllm bench serve --goodput`` accepts."""

_HEADERS = {
    "ttft": ("TTFT", "Time to First Token"),
    "tpot": ("TPOT", "Time per Output Token (excl. 1st token)"),
    "itl": ("ITL", "Inter-token Latency"),
    "e2el": ("E2EL", "End-to-end Latency"),
}
NOTE = (
    "Note: TPOT and ITL are vLLM's definitions; GuideLLM's inter_token_latency is this TPOT, "
    "and its time_per_output_token includes the TTFT."
)


def parse_goodput(items: Sequence[str]) -> dict[str, float]:
    """``["ttft:500", "tpot:50"]`` -> ``{"ttft": 500.0, "tpot": 50.0}`` (milliseconds)."""
    slos: dict[str, float] = {}
    for item in items:
        name, colon, text = item.partition(":")
        name = name.strip()
        if not colon or ":" in text:
            raise NapthaError(f"goodput {item!r}: expected NAME:MILLISECONDS, e.g. ttft:500")
        if name not in GOODPUT_METRICS:
            raise NapthaError(
                f"goodput {item!r}: unknown metric {name!r}; "
                f"use one of {', '.join(GOODPUT_METRICS)}"
            )
        try:
            value = float(text)
        except ValueError:
            raise NapthaError(f"goodput {item!r}: {text.strip()!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise NapthaError(f"goodput {item!r}: the value must be a positive number of ms")
        slos[name] = value
    return slos


def parse_percentiles(text: str) -> list[float]:
    """``"50,90,99"`` -> ``[50.0, 90.0, 99.0]``; each in [0, 100], repeats dropped."""
    chosen: list[float] = []
    for item in text.split(","):
        try:
            p = float(item)
        except ValueError:
            raise NapthaError(
                f"percentiles {text!r}: {item.strip()!r} is not a number (use e.g. 50,90,99)"
            ) from None
        if not 0 <= p <= 100:  # NaN fails this too
            raise NapthaError(f"percentiles {text!r}: {item.strip()!r} is not between 0 and 100")
        if p not in chosen:
            chosen.append(p)
    return chosen


def percentile(values: Sequence[float], p: float) -> float:
    """As numpy's ``percentile(values or 0, p)``, default 'linear' method, same rounding."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is not between 0 and 100")
    xs = sorted(values) or [0.0]
    n = len(xs)
    virtual = (n - 1) * (p / 100)
    if virtual >= n - 1:
        return float(xs[-1])
    lo = math.floor(virtual)
    gamma = virtual - lo
    a, b = xs[lo], xs[lo + 1]
    diff = b - a
    # numpy's _lerp: from the nearer end, for symmetry
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


def p_word(p: float) -> str:
    """The name vLLM gives a percentile in result keys: 99 -> ``"99"``, 99.9 -> ``"99.9"``."""
    return str(int(p)) if int(p) == p else str(p)


def _stats(name: str, values: Sequence[float], percentiles: Sequence[float]) -> dict[str, float]:
    xs = list(values) or [0.0]
    out = {
        f"mean_{name}_ms": statistics.fmean(xs) * 1000,
        f"median_{name}_ms": float(statistics.median(xs)) * 1000,
        f"std_{name}_ms": statistics.pstdev(xs) * 1000,
    }
    for p in percentiles:
        out[f"p{p_word(p)}_{name}_ms"] = percentile(xs, p) * 1000
    return out


def _peaks(ok: Sequence[RequestRecord]) -> tuple[float, int]:
    """The ``max_output_tokens_per_s`` and ``max_concurrent_requests`` of vLLM: 1 s buckets."""
    if not ok:
        return 0.0, 0
    t0 = min(r.start for r in ok)
    t1 = max(r.start + r.latency for r in ok)
    n = math.ceil(t1 - t0) + 1
    tokens = [0] * n
    active = [0] * n
    for r in ok:
        t = r.start + r.ttft
        times = [t]
        for gap in r.itl:
            t += gap
            times.append(t)
        for t in times:
            bucket = int(t - t0)
            if 0 <= bucket < n:
                tokens[bucket] += 1
        for second in range(int(r.start - t0), int(r.start + r.latency - t0) + 1):
            active[second] += 1
    return float(max(tokens)), max(active)


def summarize(
    records: Sequence[RequestRecord],
    duration_s: float,
    percentiles: Sequence[float] = (99,),
    goodput: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The flat, JSON-ready result, with vLLM's field names (see the module docstring).

    Rates are per ``duration_s``; with a duration of 0 or less they are 0.
    """
    ok = [r for r in records if r.success]
    output_lens = [r.output_tokens or 1 for r in ok]
    ttfts = [r.ttft for r in ok]
    e2els = [r.latency for r in ok]
    itls = [gap for r in ok for gap in r.itl]
    tpots: list[float] = []
    all_tpots: list[float] = []  # with 0 for one-token requests, for goodput
    for r, n_out in zip(ok, output_lens, strict=True):
        tpot = 0.0
        if n_out > 1:
            tpot = (r.latency - r.ttft) / (n_out - 1)
            tpots.append(tpot)
        all_tpots.append(tpot)

    good: int | None = None
    if goodput:
        columns = {"ttft": ttfts, "tpot": all_tpots, "e2el": e2els}
        unknown = sorted(set(goodput) - set(columns))
        if unknown:
            raise NapthaError(
                f"goodput: unknown metric {unknown[0]!r}; use one of ttft, tpot, e2el"
            )
        slos = [(columns[name], ms / 1000) for name, ms in goodput.items()]
        good = sum(all(slo >= column[i] for column, slo in slos) for i in range(len(ok)))

    def rate(count: float) -> float:
        return count / duration_s if duration_s > 0 else 0.0

    total_input = sum(r.prompt_tokens for r in ok)
    total_output = sum(output_lens)
    peak_tokens, peak_requests = _peaks(ok)
    result: dict[str, Any] = {
        "duration": duration_s,
        "completed": len(ok),
        "failed": len(records) - len(ok),
        "total_input_tokens": total_input,
        "total_output_tokens": total_output,
        "request_throughput": rate(len(ok)),
        "request_goodput": None if good is None else rate(good),
        "output_throughput": rate(total_output),
        "total_token_throughput": rate(total_input + total_output),
        "max_output_tokens_per_s": peak_tokens,
        "max_concurrent_requests": peak_requests,
    }
    series = {"ttft": ttfts, "tpot": tpots, "itl": itls, "e2el": e2els}
    for name in METRICS:
        result.update(_stats(name, series[name], percentiles))
    queue = [r.start - r.scheduled for r in ok] or [0.0]
    result["mean_client_queue_ms"] = statistics.fmean(queue) * 1000
    result["median_client_queue_ms"] = float(statistics.median(queue)) * 1000
    causes = Counter(r.error or "unknown" for r in records if not r.success)
    result["failures"] = dict(sorted(causes.items(), key=lambda kv: (-kv[1], kv[0])))
    return result


def per_deployment(
    records: Sequence[RequestRecord],
    duration_s: float,
    percentiles: Sequence[float] = (99,),
    goodput: Mapping[str, float] | None = None,
) -> dict[str, dict[str, Any]]:
    """``summarize`` for each deployment (``"unknown"`` when not known), by name."""
    groups: dict[str, list[RequestRecord]] = {}
    for r in records:
        groups.setdefault(r.deployment or "unknown", []).append(r)
    return {
        name: summarize(groups[name], duration_s, percentiles, goodput) for name in sorted(groups)
    }


def _row(label: str, value: Any) -> str:
    return f"{label:<40} {value:<10}"


def _row2(label: str, value: float) -> str:
    return f"{label:<40} {value:<10.2f}"


def _rule(title: str, fill: str) -> str:
    return f"{title:{fill}^50}"


def report_lines(result: Mapping[str, Any], title: str = "Serving Benchmark Result") -> list[str]:
    """The result as ``vllm bench serve`` prints it, plus failures by cause and the TPOT note."""
    lines = [
        _rule(f" {title} ", "="),
        _row("Successful requests:", result.get("completed", 0)),
        _row("Failed requests:", result.get("failed", 0)),
        _row2("Benchmark duration (s):", result.get("duration", 0.0)),
        _row("Total input tokens:", result.get("total_input_tokens", 0)),
        _row("Total generated tokens:", result.get("total_output_tokens", 0)),
        _row2("Request throughput (req/s):", result.get("request_throughput", 0.0)),
    ]
    if result.get("request_goodput") is not None:
        lines.append(_row2("Request goodput (req/s):", result["request_goodput"]))
    lines += [
        _row2("Output token throughput (tok/s):", result.get("output_throughput", 0.0)),
        _row2("Peak output token throughput (tok/s):", result.get("max_output_tokens_per_s", 0.0)),
        _row2("Peak concurrent requests:", result.get("max_concurrent_requests", 0)),
        _row2("Total token throughput (tok/s):", result.get("total_token_throughput", 0.0)),
    ]
    for name in METRICS:
        label, header = _HEADERS[name]
        if f"mean_{name}_ms" not in result:
            continue
        lines.append(_rule(header, "-"))
        lines.append(_row2(f"Mean {label} (ms):", result[f"mean_{name}_ms"]))
        lines.append(_row2(f"Median {label} (ms):", result[f"median_{name}_ms"]))
        pattern = re.compile(rf"p([^_]+)_{name}_ms")
        for key, value in result.items():
            match = pattern.fullmatch(key)
            if match:
                lines.append(_row2(f"P{match.group(1)} {label} (ms):", value))
    if "mean_client_queue_ms" in result:
        lines.append(_rule("Client-side Queueing", "-"))
        lines.append(_row2("Mean Client Queue Time (ms):", result["mean_client_queue_ms"]))
        lines.append(_row2("Median Client Queue Time (ms):", result["median_client_queue_ms"]))
    failures: Mapping[str, int] = result.get("failures") or {}
    if failures:
        lines.append(_rule("Failures by cause", "-"))
        lines += [_row(f"{cause}:", count) for cause, count in failures.items()]
    lines.append("=" * 50)
    lines.append(NOTE)
    return lines
