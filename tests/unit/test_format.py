"""The one formatting module the command line and the widgets share."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest
from rich.cells import cell_len

from naptha_tui.proxy.litellm.routes import RouteEvent
from naptha_tui.tui.format import (
    ROUTE_HEADER,
    age,
    clock,
    count,
    gib,
    gib_of,
    held,
    ms,
    route_cells,
    short_error,
    size,
    spark,
    table,
    tokens,
)

GIB = 1024**3
REFUSED = (
    "litellm.APIConnectionError: APIConnectionError: OpenAIException - Connection error. "
    "Received Model Group=smollm2-135m\nAvailable Model Group Fallbacks=None"
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0, "0m00s"), (59.9, "0m59s"), (247, "4m07s"), (3599, "59m59s"),
     (3600, "1h00m"), (7500, "2h05m"), (90061, "25h01m")],
)  # fmt: skip
def test_age(seconds: float | None, text: str) -> None:
    assert age(seconds) == text


def test_unknown_figures_are_a_dash_and_zero_is_zero() -> None:
    assert (ms(None), ms(608.85), ms(0.0), ms(1204.5)) == ("-", "609", "0", "1204")
    assert (count(None), count(0), count(12)) == ("-", "0", "12")
    assert tokens(7, 3) == "7/3" and tokens(None, None) == "-/-" and tokens(0, None) == "0/-"


def test_clock_in_a_given_zone() -> None:
    t = 1795533902.2544  # 2026-11-24 15:25:02 UTC
    assert clock(t, UTC) == "15:25:02"
    assert clock(t, timezone(timedelta(hours=-5))) == "10:25:02"


def test_gib_pads_the_used_part() -> None:
    assert gib(int(6.5 * GIB), 24 * GIB) == "  6.5/24.0 GiB"
    assert gib(62 * GIB, 80 * GIB) == " 62.0/80.0 GiB"


def test_table_aligns_columns_and_strips_trailing_blanks() -> None:
    text = table([("a", 1, ""), ("long-name", 22, "x")], ("NAME", "N", "NOTE"))
    assert text.splitlines() == [
        "NAME       N   NOTE",
        "a          1",
        "long-name  22  x",
    ]


def test_route_cells_match_the_header() -> None:
    event = RouteEvent(
        t=1795533902.2544,
        model_group=None,
        deployment="smollm2-cpu",
        api_base=None,
        status="failure",
        latency_ms=31.7,
        ttft_ms=None,
        tokens_in=None,
        tokens_out=None,
        retries=2,
        stream=False,
        error=REFUSED,
        call_id="c",
    )
    cells = route_cells(event, UTC)
    assert dict(zip(ROUTE_HEADER, cells, strict=True)) == {
        "TIME": "15:25:02",
        "MODEL GROUP": "-",
        "DEPLOYMENT": "smollm2-cpu",
        "STATUS": "failure",
        "MS": "32",
        "TTFT MS": "-",
        "IN/OUT": "-/-",
        "RETRIES": "2",
    }


def test_short_error_drops_litellm_repetition_and_cuts() -> None:
    assert short_error(REFUSED, 200) == (
        "APIConnectionError: OpenAIException - Connection error. Received Model Group=smollm2-135m"
    )
    assert short_error(REFUSED, 20) == "APIConnectionError:…"
    assert short_error("Timeout: read timed out", 40) == "Timeout: read timed out"
    assert short_error(None, 10) == short_error("  \n", 10) == ""
    wide = short_error("délai 超时 dépassé", 8)  # cut by terminal cells, not characters
    assert cell_len(wide) == 8 and wide.startswith("délai") and wide.endswith("…")


def test_gib_of_rounds_and_says_unknown() -> None:
    assert gib_of(1_402_000_000) == "1.3 GiB"
    assert gib_of(int(21.76 * GIB), 2) == "21.76 GiB"
    assert gib_of(0) == "0.0 GiB"
    assert gib_of(None) == "-"


def test_spark_is_zero_based_newest_right_and_padded() -> None:
    assert spark([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert spark([1, 2], 5) == "   ▅█"  # two samples so far: blanks on the left
    # against a fixed top (memory against the total), a flat line stays low, not a cliff
    assert spark([6.5, 6.5, 6.6], 3, top=24) == "▃▃▃"
    assert spark([0.0, 0.0], 3) == " ▁▁"  # nothing at all is the floor, not a division by zero
    assert spark([5.0], 0) == ""


def test_spark_buckets_by_the_peak_so_a_burst_survives() -> None:
    burst = [0.0] * 59 + [10.0]
    line = spark(burst, 20)
    assert len(line) == 20 and line.endswith("█") and set(line[:-1]) == {"▁"}
    assert spark(list(range(60)), 20) == spark(
        [max(range(i * 3, i * 3 + 3)) for i in range(20)], 20
    )


def test_held_memory_reads_as_status_prints_it() -> None:
    assert size(1_402_000_000) == "1.3G" and size(300 * 2**20) == "300M"
    assert held(int(42.5 * GIB), int(3.1 * GIB)) == "42.5G GPU"  # on a GPU: its GPU memory
    assert held(0, 1_402_000_000) == "1.3G"  # a CPU server on a GPU node: its RSS
    assert held(None, None) == "-"


def test_coarse_ages_change_once_a_minute() -> None:
    assert [age(s, coarse=True) for s in (None, 5, 59, 60, 754, 3599, 3600, 7530)] == [
        "-", "<1m", "<1m", "1m", "12m", "59m", "1h00m", "2h05m",
    ]  # fmt: skip
