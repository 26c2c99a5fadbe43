"""The routing screen: feed figures per deployment, recent requests, live appends."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import NodeStatus
from naptha_tui.tui.app import make_app
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.routes import RoutesScreen, health, metrics_summary
from tests.fakes.node import FakeGpu, FakeNode, fake_host, server
from tests.tui.test_dashboard import polls, until

GROUP = "smollm2-135m"


def start_line(t: float, call_id: str, deployment: str, group: str = GROUP) -> str:
    """A start line as the proxy callback writes it (``litellm_hooks.start_event``)."""
    event = {
        "kind": "start",
        "t": round(t, 4),
        "call_id": call_id,
        "deployment": deployment,
        "model_group": group,
    }
    return json.dumps(event, separators=(",", ":"))


def end_line(
    t: float,
    call_id: str,
    deployment: str,
    *,
    group: str = GROUP,
    port: int = 18901,
    status: str = "success",
    latency_ms: float = 608.85,
    ttft_ms: float | None = 212.4,
    tokens: tuple[int, int] = (7, 3),
    retries: int = 0,
    error: str | None = None,
) -> str:
    """An end line as the proxy callback writes it (``litellm_hooks.end_event``)."""
    event = {
        "kind": "end",
        "t": round(t, 4),
        "call_id": call_id,
        "model_group": group,
        "deployment": deployment,
        "api_base": f"http://127.0.0.1:{port}/v1",
        "status": status,
        "latency_ms": latency_ms,
        "ttft_ms": ttft_ms,
        "tokens_in": tokens[0] if status == "success" else None,
        "tokens_out": tokens[1] if status == "success" else None,
        "retries": retries,
        "stream": ttft_ms is not None,
        "error": error,
    }
    return json.dumps(event, separators=(",", ":"))


REFUSED = (
    "litellm.APIConnectionError: APIConnectionError: OpenAIException - Connection error. "
    "Received Model Group=smollm2-135m\nAvailable Model Group Fallbacks=None"
)


def feed_lines(t0: float) -> list[str]:
    """Two deployments of one group, a failure with retries, one request still in flight,
    one malformed line (a write cut short)."""
    return [
        start_line(t0, "48119eda-01ff-4659-8712-178284238c98", "smollm2-cpu"),
        end_line(t0 + 0.61, "48119eda-01ff-4659-8712-178284238c98", "smollm2-cpu"),
        start_line(t0 + 1.0, "9c1f3a52-5d7e-4c8e-9f51-0b7d2a1e6c33", "smollm2-cpu-2"),
        end_line(
            t0 + 1.42,
            "9c1f3a52-5d7e-4c8e-9f51-0b7d2a1e6c33",
            "smollm2-cpu-2",
            port=18902,
            latency_ms=415.2,
            ttft_ms=None,
            tokens=(12, 48),
        ),
        start_line(t0 + 2.0, "e7d0b9a4-2f6c-4b1e-8a3d-5c9f7e1b2a60", "smollm2-cpu"),
        end_line(
            t0 + 2.05,
            "e7d0b9a4-2f6c-4b1e-8a3d-5c9f7e1b2a60",
            "smollm2-cpu",
            status="failure",
            latency_ms=31.7,
            ttft_ms=None,
            retries=2,
            error=REFUSED,
        ),
        '{"kind":"end","t":1795533905.1,"call_id":"3b2',
        start_line(t0 + 3.0, "5a6b7c8d-0e1f-4a2b-9c3d-4e5f6a7b8c9d", "smollm2-cpu-2"),
    ]


def write_feed(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write("".join(line + "\n" for line in lines))


def cells(table: DataTable[Any], key: str) -> list[str]:
    return [str(c) for c in table.get_row(key)]


def status_text(screen: RoutesScreen) -> str:
    return str(screen.query_one("#routes-status", Static).render())


async def test_routes_screen_counts_and_follows_the_feed(paths: Paths, tmp_path: Path) -> None:
    feed = tmp_path / "proxy" / "routes.jsonl"
    t0 = time.time() - 60  # in-flight requests are aged against the real clock here
    write_feed(feed, feed_lines(t0))
    node = FakeNode([server("smollm2-cpu")], feed_file=feed)
    app = make_app(paths, Settings(poll_seconds=0.1), node=node, gpu=FakeGpu(), read_host=fake_host)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, RoutesScreen))
        screen = app.screen
        assert isinstance(screen, RoutesScreen)
        deployments = screen.query_one("#deployments", DataTable)
        recent = screen.query_one("#recent", DataTable)
        await until(pilot, lambda: deployments.row_count == 2)
        await until(pilot, lambda: cells(deployments, "smollm2-cpu")[2] == "ready")
        a = cells(deployments, "smollm2-cpu")
        b = cells(deployments, "smollm2-cpu-2")
        # deployment, group, health, requests, errors, in flight, p50, p95, last error
        assert a[:8] == ["smollm2-cpu", GROUP, "ready", "2", "1", "0", "609", "609"]
        assert a[8].startswith("APIConnectionError: OpenAI")
        assert a[8].endswith("…") and "\n" not in a[8]
        assert b[:8] == ["smollm2-cpu-2", GROUP, "-", "1", "0", "1", "415", "415"]
        assert recent.row_count == 3
        newest = [str(c) for c in recent.get_row_at(0)]
        # model group, deployment, status, ms, ttft, in/out, retries
        assert newest[1:8] == [GROUP, "smollm2-cpu", "failure", "32", "-", "-/-", "2"]
        assert newest[8].startswith("APIConnectionError: OpenAI")
        text = status_text(screen)
        assert f"feed {feed}" in text and "3 events" in text
        assert "1 malformed line(s) skipped" in text
        await until(pilot, lambda: "proxy /metrics: not exposed" in status_text(screen))

        # the request in flight ends, a new one arrives
        write_feed(
            feed,
            [
                end_line(t0 + 3.3, "5a6b7c8d-0e1f-4a2b-9c3d-4e5f6a7b8c9d", "smollm2-cpu-2"),
                start_line(t0 + 4.0, "0f9e8d7c-6b5a-4948-8372-6152a4b3c2d1", "smollm2-cpu"),
                end_line(
                    t0 + 4.9,
                    "0f9e8d7c-6b5a-4948-8372-6152a4b3c2d1",
                    "smollm2-cpu",
                    latency_ms=880.0,
                    tokens=(21, 64),
                ),
            ],
        )
        await until(pilot, lambda: recent.row_count == 5)
        newest = [str(c) for c in recent.get_row_at(0)]
        assert newest[2:7] == ["smollm2-cpu", "success", "880", "212", "21/64"]
        assert cells(deployments, "smollm2-cpu")[3:6] == ["3", "1", "0"]
        assert cells(deployments, "smollm2-cpu-2")[3:6] == ["2", "0", "0"]
        assert "5 events" in status_text(screen)

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        # the screen's feed reader and probes end with it
        await until(
            pilot,
            lambda: (
                not [w for w in app.workers if w.group.startswith("routes-") and not w.is_finished]
            ),
        )


async def test_routes_screen_without_a_feed_and_with_proxy_metrics(
    paths: Paths, tmp_path: Path
) -> None:
    metrics = {
        "litellm_proxy_total_requests_metric_total": 12.0,
        "litellm_proxy_failed_requests_metric_total": 1.0,
        "litellm_total_tokens_metric_total": 3456.0,
    }
    node = FakeNode(feed_file=tmp_path / "absent.jsonl", metrics=metrics)
    app = make_app(paths, Settings(poll_seconds=0.1), node=node, gpu=FakeGpu(), read_host=fake_host)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, RoutesScreen))
        screen = app.screen
        assert isinstance(screen, RoutesScreen)
        await until(pilot, lambda: "0 events" in status_text(screen))
        await until(pilot, lambda: "12 requests, 1 failed, 3456 tokens" in status_text(screen))
        assert screen.query_one("#deployments", DataTable).row_count == 0
        assert app.is_running


class FailingNode(FakeNode):
    async def status(self) -> NodeStatus:
        self.statuses += 1
        raise NapthaError("state file is corrupt")


async def test_failures_are_shown_and_the_screen_keeps_going(paths: Paths, tmp_path: Path) -> None:
    node = FailingNode(feed_file=tmp_path)  # a folder: every read fails
    app = make_app(
        paths, Settings(poll_seconds=0.05), node=node, gpu=FakeGpu(), read_host=fake_host
    )
    async with app.run_test(size=(120, 36)) as pilot:
        screen = RoutesScreen(feed_seconds=0.05)
        await app.push_screen(screen)
        await until(pilot, lambda: "IsADirectoryError" in status_text(screen))
        await until(pilot, lambda: screen._last_error == "state file is corrupt")
        await polls(pilot, node)  # several failed polls later
        assert isinstance(app.screen, RoutesScreen) and app.is_running


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        ("smollm2-cpu", "ready"),
        ("qwen-gpu", "crashed"),
        ("gpu-box", "down"),  # a remote node with one model
        ("gpu-box/qwen2.5-7b", "down"),  # a remote node with several
        ("cloud/gpt-4o-mini", "cloud"),
        ("gone", "-"),
    ],
)
def test_health_of_a_deployment(deployment: str, expected: str) -> None:
    servers = {
        s.name: s
        for s in [
            server("smollm2-cpu"),
            server("qwen-gpu", "crashed"),
            replace(server("gpu-box", "down"), runtime="remote"),
        ]
    }
    assert health(deployment, servers) == expected
    assert health(deployment, None) == ("cloud" if expected == "cloud" else "-")


def test_metrics_summary_names_what_it_knows() -> None:
    assert metrics_summary(None) == "proxy /metrics: not exposed"
    assert metrics_summary({"litellm_x_total": 1.0}) == "proxy /metrics: 1 litellm_* series"


# -- snapshot -------------------------------------------------------------------------------
T_FIXED = 1795533902.2544  # 2026-11-24 15:25:02 UTC


def test_routes_screen_snapshot(
    snap_compare: Any, paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative feed path keeps tmp dirs out of the picture
    feed = Path("proxy/routes.jsonl")
    lines = feed_lines(T_FIXED)
    lines += [
        start_line(T_FIXED + 5, "1d2c3b4a-5f6e-4d7c-8b9a-0a1b2c3d4e5f", "gpu-box/qwen2.5-7b", "q7"),
        end_line(
            T_FIXED + 6.2,
            "1d2c3b4a-5f6e-4d7c-8b9a-0a1b2c3d4e5f",
            "gpu-box/qwen2.5-7b",
            group="q7",
            port=8000,
            latency_ms=1204.6,
            ttft_ms=98.3,
            tokens=(311, 127),
        ),
    ]
    write_feed(feed, lines)
    node = FakeNode(
        [
            server("smollm2-cpu"),
            server("smollm2-cpu-2", "crashed", 8101, "out of memory"),
            replace(server("gpu-box"), runtime="remote"),
        ],
        feed_file=feed,
    )
    app = make_app(paths, Settings(poll_seconds=60), node=node, gpu=FakeGpu(), read_host=fake_host)

    async def routes(pilot: Any) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
        screen = RoutesScreen(tz=UTC, clock=lambda: T_FIXED + 10)
        await pilot.app.push_screen(screen)
        table = screen.query_one("#deployments", DataTable)
        await until(pilot, lambda: table.row_count == 3)
        await until(pilot, lambda: cells(table, "smollm2-cpu")[2] == "ready")
        await until(pilot, lambda: "not exposed" in status_text(screen))

    assert snap_compare(app, terminal_size=(120, 32), run_before=routes)
