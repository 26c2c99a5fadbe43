"""The load test's metrics against hand-computed values (vLLM's `vllm bench serve` definitions).

Timings are dyadic fractions (0.25, 0.5, ...) so that most expected values are exact; the few
irrational ones (square roots) are compared with pytest.approx. The integration test at the end
runs vLLM's own `calculate_metrics` (in the CPU runtime's venv) on the same and on random data.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import textwrap
from pathlib import Path

import pytest

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.loadgen.metrics import (
    NOTE,
    p_word,
    parse_goodput,
    parse_percentiles,
    per_deployment,
    percentile,
    report_lines,
    summarize,
)
from naptha_tui.backends.loadgen.records import RequestRecord

VLLM_PYTHON = Path("/root/.local/share/naptha-tui/runtimes/cpu/venv/bin/python")


def ok(
    index: int,
    start: float,
    ttft: float,
    latency: float,
    itl: list[float],
    out: int,
    *,
    prompt_tokens: int = 0,
    scheduled: float | None = None,
    deployment: str | None = None,
) -> RequestRecord:
    """A successful request; queued 0 s unless `scheduled` says otherwise."""
    return RequestRecord(
        index=index,
        scheduled=start if scheduled is None else scheduled,
        start=start,
        ttft=ttft,
        latency=latency,
        itl=itl,
        prompt_tokens=prompt_tokens,
        output_tokens=out,
        success=True,
        deployment=deployment,
    )


def failed(index: int, error: str | None, deployment: str | None = None) -> RequestRecord:
    return RequestRecord(
        index=index, scheduled=100.0, success=False, error=error, deployment=deployment
    )


def sample() -> list[RequestRecord]:
    """Four successes (5, 3, 1 and 0 output tokens) and three failures."""
    return [
        # TPOT (2.5 - 0.5) / 4 = 0.5
        ok(0, 100.0, 0.5, 2.5, [0.5, 0.5, 1.0], 5, prompt_tokens=10, deployment="a"),
        # TPOT (2.25 - 0.25) / 2 = 1.0; queued 0.25 s
        ok(1, 100.5, 0.25, 2.25, [1.0, 1.0], 3, prompt_tokens=20, scheduled=100.25, deployment="a"),
        # one token: no TPOT, but 0 for goodput
        ok(2, 101.0, 1.0, 1.0, [], 1, prompt_tokens=5, deployment="b"),
        # no token count: counts as 1 (vLLM without a tokenizer); queued 0.5 s
        ok(3, 102.0, 0.75, 0.75, [], 0, prompt_tokens=7, scheduled=101.5),
        # failures: their tokens and timings count nowhere
        RequestRecord(
            index=4,
            scheduled=100.2,
            start=100.2,
            ttft=0.1,
            latency=9.0,
            itl=[0.01] * 50,
            prompt_tokens=1000,
            output_tokens=50,
            success=False,
            error="HTTP 503",
            deployment="a",
        ),
        failed(5, None),
        failed(6, "HTTP 503", deployment="b"),
    ]


# --- summarize ---------------------------------------------------------------------------------


def test_counts_tokens_and_throughputs() -> None:
    r = summarize(sample(), duration_s=4.0)
    assert r["duration"] == 4.0
    assert r["completed"] == 4
    assert r["failed"] == 3
    assert r["total_input_tokens"] == 10 + 20 + 5 + 7
    assert r["total_output_tokens"] == 5 + 3 + 1 + 1  # the 0-token success counts 1
    assert r["request_throughput"] == 1.0
    assert r["output_throughput"] == 2.5
    assert r["total_token_throughput"] == 13.0  # (42 + 10) / 4
    assert r["request_goodput"] is None


def test_ttft_stats() -> None:
    r = summarize(sample(), 4.0)
    # [0.25, 0.5, 0.75, 1.0]
    assert r["mean_ttft_ms"] == 625.0
    assert r["median_ttft_ms"] == 625.0  # (0.5 + 0.75) / 2, even count
    assert r["std_ttft_ms"] == pytest.approx(math.sqrt(0.078125) * 1000)  # population
    assert r["p99_ttft_ms"] == pytest.approx(992.5)  # 0.75 + 0.97 * 0.25


def test_tpot_excludes_one_token_outputs() -> None:
    r = summarize(sample(), 4.0)
    # only [0.5, 1.0]: the 1-token and the 0-token (=1) requests have none
    assert r["mean_tpot_ms"] == 750.0
    assert r["median_tpot_ms"] == 750.0
    assert r["std_tpot_ms"] == 250.0
    assert r["p99_tpot_ms"] == pytest.approx(995.0)


def test_itl_pools_all_gaps() -> None:
    r = summarize(sample(), 4.0, percentiles=(25, 50, 99))
    # [0.5, 0.5, 1.0, 1.0, 1.0]; the failure's 50 gaps are not in it
    assert r["mean_itl_ms"] == pytest.approx(800.0)
    assert r["median_itl_ms"] == 1000.0
    assert r["std_itl_ms"] == pytest.approx(math.sqrt(0.06) * 1000)
    assert r["p25_itl_ms"] == 500.0
    assert r["p50_itl_ms"] == 1000.0
    assert r["p99_itl_ms"] == 1000.0


def test_e2el_is_latency() -> None:
    r = summarize(sample(), 4.0)
    # [0.75, 1.0, 2.25, 2.5]
    assert r["mean_e2el_ms"] == 1625.0
    assert r["median_e2el_ms"] == 1625.0
    assert r["p99_e2el_ms"] == pytest.approx(2492.5)  # 2.25 + 0.97 * 0.25


def test_std_is_population() -> None:
    records = [ok(i, 0.0, 0.0, x, [], 2) for i, x in enumerate([2, 4, 4, 4, 5, 5, 7, 9])]
    r = summarize(records, 1.0)
    assert r["mean_e2el_ms"] == 5000.0
    assert r["median_e2el_ms"] == 4500.0
    assert r["std_e2el_ms"] == 2000.0  # the sample std (ddof=1) would be 2138.1


def test_percentile_names_and_fields() -> None:
    r = summarize(sample(), 4.0, percentiles=(50, 99.9))
    assert {"p50_ttft_ms", "p99.9_ttft_ms", "p50_tpot_ms", "p99.9_itl_ms", "p99.9_e2el_ms"} <= set(
        r
    )
    assert "p99_ttft_ms" not in r
    assert r["p99.9_ttft_ms"] == pytest.approx(999.25)  # 0.75 + 0.997 * 0.25
    assert [p_word(p) for p in (99, 99.0, 99.9, 50, 0.5)] == ["99", "99", "99.9", "50", "0.5"]


def test_goodput_ttft_and_tpot() -> None:
    # r0 (ttft .5, tpot .5) good; r1 tpot 1.0 bad; r2 ttft 1.0 bad; r3 ttft .75 and tpot 0 good
    r = summarize(sample(), 4.0, goodput={"ttft": 800, "tpot": 600})
    assert r["request_goodput"] == 0.5
    # the SLO is inclusive (r0's tpot = 500 ms), and the 1-token r2 passes tpot with 0
    r = summarize(sample(), 4.0, goodput={"ttft": 1000, "tpot": 500})
    assert r["request_goodput"] == 0.75
    r = summarize(sample(), 4.0, goodput={"e2el": 1000})
    assert r["request_goodput"] == 0.5
    assert summarize(sample(), 4.0, goodput={})["request_goodput"] is None
    with pytest.raises(NapthaError, match="itl"):
        summarize(sample(), 4.0, goodput={"itl": 5})


def test_client_queue_and_failures() -> None:
    r = summarize(sample(), 4.0)
    # successful ones only: [0, 0.25, 0, 0.5]
    assert r["mean_client_queue_ms"] == 187.5
    assert r["median_client_queue_ms"] == 125.0
    assert r["failures"] == {"HTTP 503": 2, "unknown": 1}
    assert list(r["failures"]) == ["HTTP 503", "unknown"]  # most frequent first


def test_peaks_on_sample() -> None:
    r = summarize(sample(), 4.0)
    # buckets from 100.0: chunks at .5 1 1.5 2.5 | .75 1.75 2.75 | 2.0 | 2.75 -> [2, 3, 4, 0]
    assert r["max_output_tokens_per_s"] == 4.0
    # r0 in 0-2, r1 in 0-2, r2 in 1-2, r3 in 2 -> [2, 3, 4, 0]; the failure (9 s) is not counted
    assert r["max_concurrent_requests"] == 4


def test_peaks_count_chunks_and_whole_seconds() -> None:
    records = [
        # two requests that never overlap but share second 0: vLLM counts both there
        ok(0, 0.0, 0.125, 0.25, [0.0625], 2),
        ok(1, 0.5, 0.125, 0.25, [], 1),
        # 9 chunks of many tokens each, 4 in second 2 and 5 in second 3; alone there
        ok(2, 1.5, 1.0, 2.0, [0.125] * 8, 100),
    ]
    r = summarize(records, 4.0)
    assert r["max_concurrent_requests"] == 2  # second 0 (second 1 has only request 2)
    assert r["max_output_tokens_per_s"] == 5.0  # chunks, not the 100 tokens; in second 3
    assert r["total_output_tokens"] == 103


def test_all_failed_gives_zeros() -> None:
    r = summarize([failed(0, "timeout"), failed(1, "timeout")], 2.0, percentiles=(50, 99))
    assert r["completed"] == 0
    assert r["failed"] == 2
    assert r["failures"] == {"timeout": 2}
    assert r["total_input_tokens"] == r["total_output_tokens"] == 0
    assert r["request_throughput"] == r["output_throughput"] == 0.0
    assert r["max_output_tokens_per_s"] == 0.0
    assert r["max_concurrent_requests"] == 0
    for name in ("ttft", "tpot", "itl", "e2el"):
        for stat in ("mean", "median", "std", "p50", "p99"):
            assert r[f"{stat}_{name}_ms"] == 0.0
    assert r["mean_client_queue_ms"] == 0.0
    assert r["request_goodput"] is None
    assert summarize([failed(0, "x")], 2.0, goodput={"ttft": 1})["request_goodput"] == 0.0


def test_no_records_no_duration() -> None:
    r = summarize([], 0.0)
    assert r["completed"] == r["failed"] == 0
    assert r["request_throughput"] == 0.0
    assert r["failures"] == {}
    json.dumps(r)  # JSON-ready


def test_per_deployment() -> None:
    groups = per_deployment(sample(), 4.0, percentiles=(50,))
    assert list(groups) == ["a", "b", "unknown"]
    a, b, unknown = groups["a"], groups["b"], groups["unknown"]
    assert (a["completed"], a["failed"]) == (2, 1)
    assert (b["completed"], b["failed"]) == (1, 1)
    assert (unknown["completed"], unknown["failed"]) == (1, 1)
    assert a["mean_tpot_ms"] == 750.0
    assert a["p50_ttft_ms"] == 375.0
    assert a["request_throughput"] == 0.5
    assert b["mean_tpot_ms"] == 0.0  # its only success had one token
    assert b["failures"] == {"HTTP 503": 1}
    assert unknown["failures"] == {"unknown": 1}
    assert unknown["total_output_tokens"] == 1


# --- percentile --------------------------------------------------------------------------------


def test_percentile_linear_interpolation() -> None:
    assert percentile([1, 2, 3, 4], 99) == pytest.approx(3.97)
    assert percentile([4, 1, 3, 2], 50) == 2.5  # sorts first
    assert percentile([1, 2, 3, 4], 25) == 1.75
    assert percentile([1, 2, 3, 4], 0) == 1.0
    assert percentile([1, 2, 3, 4], 100) == 4.0
    assert percentile([7.0], 90) == 7.0
    assert percentile([], 99) == 0.0  # np.percentile(x or 0, p)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# --- parsing -----------------------------------------------------------------------------------


def test_parse_goodput() -> None:
    assert parse_goodput(["ttft:500", "tpot:50", "e2el:2000.5"]) == {
        "ttft": 500.0,
        "tpot": 50.0,
        "e2el": 2000.5,
    }
    assert parse_goodput([]) == {}


@pytest.mark.parametrize(
    ("item", "culprit"),
    [
        ("itl:5", "'itl'"),  # vLLM allows ttft, tpot, e2el only
        ("ttft", "'ttft'"),
        ("ttft:fast", "'fast'"),
        ("ttft:0", "'ttft:0'"),
        ("tpot:-5", "'tpot:-5'"),
        ("ttft:1:2", "'ttft:1:2'"),
        ("ttft:nan", "'ttft:nan'"),
    ],
)
def test_parse_goodput_errors(item: str, culprit: str) -> None:
    with pytest.raises(NapthaError) as err:
        parse_goodput(["e2el:100", item])
    assert culprit in str(err.value)


def test_parse_percentiles() -> None:
    assert parse_percentiles("50,90,99") == [50.0, 90.0, 99.0]
    assert parse_percentiles(" 99.9 , 0, 100") == [99.9, 0.0, 100.0]
    assert parse_percentiles("99,99") == [99.0]


@pytest.mark.parametrize(
    ("text", "culprit"), [("50,abc", "'abc'"), ("50,101", "'101'"), ("-1", "'-1'"), ("50,", "''")]
)
def test_parse_percentiles_errors(text: str, culprit: str) -> None:
    with pytest.raises(NapthaError) as err:
        parse_percentiles(text)
    assert culprit in str(err.value)


# --- report ------------------------------------------------------------------------------------


def row(label: str, value: str) -> str:
    return label.ljust(40) + " " + value.ljust(10)


def test_report_lines() -> None:
    lines = report_lines(summarize(sample(), 4.0, goodput={"ttft": 800, "tpot": 600}))
    assert lines[0] == "=" * 12 + " Serving Benchmark Result " + "=" * 12
    for expected in [
        row("Successful requests:", "4"),
        row("Failed requests:", "3"),
        row("Benchmark duration (s):", "4.00"),
        row("Total input tokens:", "42"),
        row("Total generated tokens:", "10"),
        row("Request throughput (req/s):", "1.00"),
        row("Request goodput (req/s):", "0.50"),
        row("Output token throughput (tok/s):", "2.50"),
        row("Peak output token throughput (tok/s):", "4.00"),
        row("Peak concurrent requests:", "4.00"),
        row("Total token throughput (tok/s):", "13.00"),
        "-" * 15 + "Time to First Token" + "-" * 16,
        row("Mean TTFT (ms):", "625.00"),
        row("Median TTFT (ms):", "625.00"),
        row("P99 TTFT (ms):", "992.50"),
        "Time per Output Token (excl. 1st token)".center(50, "-"),
        row("Mean TPOT (ms):", "750.00"),
        "Inter-token Latency".center(50, "-"),
        row("Median ITL (ms):", "1000.00"),
        "End-to-end Latency".center(50, "-"),
        row("P99 E2EL (ms):", "2492.50"),
        "Client-side Queueing".center(50, "-"),
        row("Mean Client Queue Time (ms):", "187.50"),
        row("Median Client Queue Time (ms):", "125.00"),
        "Failures by cause".center(50, "-"),
        row("HTTP 503:", "2"),
        row("unknown:", "1"),
        "=" * 50,
    ]:
        assert expected in lines
    # vLLM's order
    order = [
        "Request throughput",
        "Request goodput",
        "Output token",
        "Peak output",
        "Peak conc",
        "Total token",
        "Mean TTFT",
        "Mean TPOT",
        "Mean ITL",
        "Mean E2EL",
        "HTTP 503",
    ]
    at = [next(i for i, line in enumerate(lines) if line.startswith(o)) for o in order]
    assert at == sorted(at)
    assert lines[-1] == NOTE
    assert "GuideLLM's inter_token_latency is this TPOT" in NOTE


def test_report_lines_without_goodput_or_failures() -> None:
    records = [r for r in sample() if r.success]
    lines = report_lines(summarize(records, 4.0, percentiles=(50, 99.9)), title="Deployment a")
    assert lines[0].startswith("=") and " Deployment a " in lines[0] and len(lines[0]) == 50
    assert not any(line.startswith("Request goodput") for line in lines)
    assert not any("Failures by cause" in line for line in lines)
    assert row("P50 TTFT (ms):", "625.00") in lines
    assert any(line.startswith("P99.9 ITL (ms):") for line in lines)
    assert not any(line.startswith("P99 ") for line in lines)


# --- against vLLM itself -----------------------------------------------------------------------

VLLM_SCRIPT = textwrap.dedent(
    """
    import contextlib, io, json, sys, warnings
    from vllm.benchmarks.lib.endpoint_request_func import RequestFuncOutput
    from vllm.benchmarks.serve import calculate_metrics

    out = {}
    for case in json.load(sys.stdin):
        outputs = [RequestFuncOutput(**o) for o in case["outputs"]]
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m, _ = calculate_metrics([], outputs, case["duration"], None, case["percentiles"],
                                     case["goodput"])
        r = {"completed": m.completed, "failed": m.failed, "total_input_tokens": m.total_input,
             "total_output_tokens": m.total_output, "request_throughput": m.request_throughput,
             "request_goodput": m.request_goodput, "output_throughput": m.output_throughput,
             "total_token_throughput": m.total_token_throughput,
             "max_output_tokens_per_s": float(m.max_output_tokens_per_s),
             "max_concurrent_requests": int(m.max_concurrent_requests)}
        for name in ("ttft", "tpot", "itl", "e2el"):
            for stat in ("mean", "median", "std"):
                r[f"{stat}_{name}_ms"] = float(getattr(m, f"{stat}_{name}_ms"))
            for p, v in getattr(m, f"percentiles_{name}_ms"):
                r[f"p{str(int(p)) if int(p) == p else str(p)}_{name}_ms"] = float(v)
        out[case["name"]] = r
    print(json.dumps(out))
    """
)


def random_records(seed: int, n: int) -> list[RequestRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        start = 1000.0 + rng.uniform(0, 20)
        if rng.random() < 0.15:
            records.append(RequestRecord(index=i, scheduled=start, start=start, error="HTTP 500"))
            continue
        out = rng.choice([0, 1, 2, rng.randint(3, 200)])
        ttft = rng.uniform(0.01, 2.0)
        itl = [rng.expovariate(40) for _ in range(max(out - 1, 0))]
        latency = ttft + sum(itl)
        records.append(ok(i, start, ttft, latency, itl, out, prompt_tokens=rng.randint(1, 4000)))
    return records


@pytest.mark.integration
@pytest.mark.skipif(not VLLM_PYTHON.exists(), reason="no CPU runtime (make test installs it)")
def test_matches_vllm_calculate_metrics() -> None:
    percentiles = [25, 50, 90, 99, 99.9]
    cases = {
        "sample": (sample(), 4.0, {"ttft": 800.0, "tpot": 600.0}),
        "peaks": (
            [
                ok(0, 0.0, 0.125, 0.25, [0.0625], 2),
                ok(1, 0.5, 0.125, 0.25, [], 1),
                ok(2, 1.5, 1.0, 2.0, [0.125] * 8, 100),
            ],
            4.0,
            {"e2el": 1000.0},
        ),
        "random": (random_records(7, 300), 23.5, {"ttft": 1000.0, "tpot": 30.0, "e2el": 4000.0}),
        "all failed": ([failed(0, "timeout")], 1.0, {"ttft": 1.0}),
    }
    payload = [
        {
            "name": name,
            "duration": duration,
            "percentiles": percentiles,
            "goodput": goodput,
            "outputs": [
                {
                    "success": r.success,
                    "latency": r.latency,
                    "ttft": r.ttft,
                    "itl": r.itl,
                    "output_tokens": r.output_tokens,
                    "prompt_len": r.prompt_tokens,
                    "start_time": r.start,
                    "error": r.error or "",
                }
                for r in records
            ],
        }
        for name, (records, duration, goodput) in cases.items()
    ]
    proc = subprocess.run(
        [str(VLLM_PYTHON), "-c", VLLM_SCRIPT],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, (records, duration, goodput) in cases.items():
        ours = summarize(records, duration, percentiles, goodput)
        for key, value in theirs[name].items():
            assert ours[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (name, key)
