"""The routing feed: parsing, folding into per-deployment figures, and tailing the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.proxy.litellm import hooks as litellm_hooks
from naptha_tui.proxy.litellm.hooks import FeedWriter
from naptha_tui.proxy.litellm.routes import (
    IN_FLIGHT_MAX_AGE_S,
    DeploymentRow,
    FeedReader,
    RouteEvent,
    RouteStart,
    RoutingStats,
    load_feed,
    parse_line,
)

T0 = 1795533902.2544
CALL = "48119eda-01ff-4659-8712-178284238c98"
START = (
    '{"kind":"start","t":1795533902.2544,"call_id":"48119eda-01ff-4659-8712-178284238c98",'
    '"deployment":"a","model_group":"m-a"}'
)
END = (
    '{"kind":"end","t":1795533902.4034,"call_id":"48119eda-01ff-4659-8712-178284238c98",'
    '"model_group":"m-a","deployment":"a","api_base":"http://127.0.0.1:18901/v1",'
    '"status":"success","latency_ms":608.85,"ttft_ms":608.85,"tokens_in":7,"tokens_out":3,'
    '"retries":0,"stream":true,"error":null}'
)


def start(call_id: str, deployment: str | None, t: float = T0, **extra: Any) -> str:
    return json.dumps(
        {"kind": "start", "t": t, "call_id": call_id, "deployment": deployment, **extra}
    )


def end(call_id: str, deployment: str | None, t: float = T0 + 1, **extra: Any) -> str:
    event = {
        "kind": "end",
        "t": t,
        "call_id": call_id,
        "model_group": "m",
        "deployment": deployment,
        "api_base": "http://127.0.0.1:18901/v1",
        "status": "success",
        "latency_ms": 100.0,
        "ttft_ms": None,
        "tokens_in": 1,
        "tokens_out": 1,
        "retries": 0,
        "stream": False,
        "error": None,
    }
    return json.dumps({**event, **extra})


# -- parse_line ------------------------------------------------------------------------------
def test_parse_start_line() -> None:
    assert parse_line(START) == RouteStart(call_id=CALL, deployment="a", model_group="m-a", t=T0)


def test_start_line_without_deployment_or_group_still_pairs() -> None:
    started = parse_line('{"kind":"start","t":1795533902,"call_id":"c"}')
    assert started == RouteStart(call_id="c", deployment=None, model_group=None, t=1795533902.0)
    assert isinstance(started, RouteStart) and isinstance(started.t, float)


def test_parse_end_line() -> None:
    assert parse_line(END) == RouteEvent(
        t=1795533902.4034,
        model_group="m-a",
        deployment="a",
        api_base="http://127.0.0.1:18901/v1",
        status="success",
        latency_ms=608.85,
        ttft_ms=608.85,
        tokens_in=7,
        tokens_out=3,
        retries=0,
        stream=True,
        error=None,
        call_id=CALL,
    )


def test_failure_keeps_error_and_retries() -> None:
    event = parse_line(
        end("c", "b", status="failure", latency_ms=30.5, retries=2, error="Connection refused")
    )
    assert isinstance(event, RouteEvent)
    assert (event.status, event.retries, event.error) == ("failure", 2, "Connection refused")


def test_wrongly_typed_optional_fields_become_none() -> None:
    event = parse_line(end("c", 7, latency_ms="fast", tokens_in=1.5, retries=True, error=3))
    assert isinstance(event, RouteEvent)
    assert event.deployment is None and event.latency_ms is None and event.tokens_in is None
    assert event.retries == 0 and event.error is None


@pytest.mark.parametrize(
    "line",
    [
        "{not json",
        '{"kind":"end","t":1795533902.4,"status":"succ',  # cut short
        "[1, 2, 3]",
        '"just a string"',
        "null",
        '{"kind":"start","call_id":"c","deployment":"a"}',  # no t
        '{"kind":"start","t":"1795533902","call_id":"c","deployment":"a"}',  # t as text
        '{"kind":"start","t":null,"call_id":"c"}',
        '{"kind":"retry","t":1795533902.4,"call_id":"c"}',  # unknown kind
        '{"t":1795533902.4,"call_id":"c"}',  # no kind
        '{"kind":"end","t":1795533902.4,"status":"maybe"}',  # unknown status
        '{"kind":"end","t":1795533902.4}',  # no status
        '{"kind":"start","t":1795533902.4,"deployment":"a"}',  # no call id: never pairable
        '{"kind":"start","t":true,"call_id":"c","deployment":"a"}',  # t as a bool
    ],
)
def test_malformed_lines_are_counted_not_fatal(line: str) -> None:
    assert parse_line(line) is None
    stats = RoutingStats()
    assert stats.add_lines([START, line, END], now=T0) == [parse_line(END)]
    assert stats.bad_lines == 1 and stats.total == 1


# -- RoutingStats ----------------------------------------------------------------------------
def test_in_flight_pairs_start_and_end_by_call_id_and_deployment() -> None:
    stats = RoutingStats()
    stats.add_lines(
        [
            start("c1", "a"),
            start("c1", "b"),  # same call retried on another deployment
            start("c2", "a"),
            end("c1", "a", status="failure", error="boom"),
            end("c2", "b"),  # no start for (c2, b): closes nothing
        ],
        now=T0 + 2,
    )
    assert (stats.in_flight("a"), stats.in_flight("b")) == (1, 1)
    stats.add_lines([end("c1", "b"), end("c2", "a")], now=T0 + 3)
    assert (stats.in_flight("a"), stats.in_flight("b")) == (0, 0)


def test_deployment_with_only_a_start_has_a_row() -> None:
    stats = RoutingStats()
    stats.add_lines([start("c1", "fresh")], now=T0)
    assert stats.rows() == [
        DeploymentRow(
            deployment="fresh",
            model_group=None,
            api_base=None,
            requests=0,
            errors=0,
            retried=0,
            in_flight=1,
            p50_ms=None,
            p95_ms=None,
            last_status=None,
            last_error=None,
        )
    ]


def test_a_start_whose_end_never_came_is_forgotten_by_its_own_age() -> None:
    stats = RoutingStats()
    old, recent = T0 - IN_FLIGHT_MAX_AGE_S - 60, T0 - 10
    stats.add_lines([start("old", "a", t=old), start("new", "a", t=recent)], now=T0)
    assert stats.in_flight("a") == 1  # loading an old feed revives no orphans
    stats.add_lines([], now=recent + IN_FLIGHT_MAX_AGE_S + 1)
    assert stats.in_flight("a") == 0


def test_load_feed_ages_orphans_against_the_given_clock(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    feed.write_text(start("c", "a") + "\n")
    assert load_feed(feed, now=T0 + 5)[0].in_flight("a") == 1
    assert load_feed(feed, now=T0 + IN_FLIGHT_MAX_AGE_S + 5)[0].in_flight("a") == 0


def test_rows_count_requests_errors_retries_and_percentiles() -> None:
    stats = RoutingStats()
    lines = [end(f"ok{i}", "a", latency_ms=float(ms)) for i, ms in enumerate(range(100, 1001, 100))]
    lines.append(
        end("bad", "a", status="failure", latency_ms=99999.0, retries=2, error="Timeout", t=T0 + 9)
    )
    lines.append(end("b1", "b", latency_ms=42.0, model_group="m-b"))
    stats.add_lines(lines, now=T0)
    by_name = {r.deployment: r for r in stats.rows()}
    a = by_name["a"]
    assert (a.requests, a.errors, a.retried, a.in_flight) == (11, 1, 1, 0)
    # inclusive quantiles of 100..1000: failures' latencies are left out
    assert a.p50_ms == pytest.approx(550.0) and a.p95_ms == pytest.approx(955.0)
    assert (a.last_status, a.last_error) == ("failure", "Timeout")
    b = by_name["b"]
    assert b.p50_ms == b.p95_ms == 42.0 and b.model_group == "m-b"
    assert b.api_base == "http://127.0.0.1:18901/v1"
    assert [r.deployment for r in stats.rows()] == ["a", "b"]  # by model group
    assert stats.total == 12 and len(stats.recent) == 12


def test_recent_is_capped() -> None:
    stats = RoutingStats(recent=3)
    stats.add_lines([end(f"c{i}", "a", t=T0 + i) for i in range(5)], now=T0)
    assert [e.call_id for e in stats.recent] == ["c2", "c3", "c4"]
    assert stats.total == 5


# -- FeedReader ------------------------------------------------------------------------------
def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


def test_reader_returns_only_new_lines(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    reader = FeedReader(feed)
    assert reader.read_new() == []  # no feed yet
    append(feed, START + "\n")
    assert reader.read_new() == [START]
    assert reader.read_new() == []
    append(feed, END + "\n\n")
    assert reader.read_new() == [END]  # blank lines are dropped


def test_half_written_line_waits_for_its_newline(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    reader = FeedReader(feed)
    append(feed, START + "\n" + END[:40])
    assert reader.read_new() == [START]
    assert reader.read_new() == []
    append(feed, END[40:])
    assert reader.read_new() == []  # still no newline
    append(feed, "\n")
    assert reader.read_new() == [END]


def test_multibyte_character_split_across_reads(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    line = end("c", "a", status="failure", error="délai dépassé").encode()
    assert b"\\u00e9" in line  # json.dumps escapes it; write the raw bytes to be sure
    raw = line.replace(b"\\u00e9", "é".encode())
    cut = raw.index("é".encode()) + 1
    reader = FeedReader(feed)
    feed.write_bytes(raw[:cut])
    assert reader.read_new() == []
    with feed.open("ab") as fh:
        fh.write(raw[cut:] + b"\n")
    [text] = reader.read_new()
    event = parse_line(text)
    assert isinstance(event, RouteEvent) and event.error == "délai dépassé"


def test_rotation_loses_and_repeats_nothing(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    reader = FeedReader(feed)
    append(feed, "1\n2\n")
    assert reader.read_new() == ["1", "2"]
    append(feed, "3\n")  # written before the rotation, not read yet
    feed.rename(feed.with_name("routes.jsonl.1"))
    append(feed, "4\n")
    assert reader.read_new() == ["3", "4"]
    append(feed, "5\n")
    assert reader.read_new() == ["5"]


def test_rotation_seen_when_new_file_is_already_larger(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    reader = FeedReader(feed)
    append(feed, "1\n")
    assert reader.read_new() == ["1"]
    feed.rename(feed.with_name("routes.jsonl.1"))
    append(feed, "".join(f"{i}\n" for i in range(2, 40)))
    assert reader.read_new() == [str(i) for i in range(2, 40)]


def test_rotation_by_the_proxy_callback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The callback's own writer rotates past FEED_MAX_BYTES; reading between writes (as the
    panel does once a second) sees every event exactly once."""
    monkeypatch.setattr(litellm_hooks, "FEED_MAX_BYTES", 2000)
    feed = tmp_path / "routes.jsonl"
    writer = FeedWriter(str(feed))
    stats, reader = load_feed(feed, now=T0)
    seen: list[str] = []
    for i in range(120):
        writer.write(json.loads(start(f"c{i}", "a")))
        writer.write(json.loads(end(f"c{i}", "a")))
        if i % 2 == 1:
            seen += reader.read_new()
    seen += reader.read_new()
    assert feed.with_name("routes.jsonl.1").exists()  # it did rotate
    assert len(seen) == 240 and len(set(seen)) == 240
    stats.add_lines(seen, now=T0)
    assert stats.total == 120 and stats.in_flight("a") == 0 and stats.bad_lines == 0


def test_load_feed_reads_the_rotated_part_first_then_follows(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    feed.with_name("routes.jsonl.1").write_text(end("old", "a", t=T0) + "\n")
    feed.write_text(end("new", "a", t=T0 + 1) + "\nnot json\n")
    stats, reader = load_feed(feed, now=T0)
    assert [e.call_id for e in stats.recent] == ["old", "new"]
    assert stats.bad_lines == 1
    append(feed, end("later", "a", t=T0 + 2) + "\n")
    stats.add_lines(reader.read_new(), now=T0)
    assert [e.call_id for e in stats.recent] == ["old", "new", "later"]
