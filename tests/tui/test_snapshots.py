"""SVG snapshots of the dashboard with fakes (regenerate deliberately: pytest --snapshot-update)."""

from __future__ import annotations

from typing import Any

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.app import make_app
from naptha_tui.tui.widgets.server_table import ServerTable
from tests.fakes.node import TWO_GPUS, FakeGpu, FakeNode, fake_host, server


async def settled(pilot: Any) -> None:
    table = pilot.app.screen.query_one(ServerTable)
    for _ in range(100):
        if table.row_count:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def test_dashboard_no_gpu_one_server_ready(snap_compare: Any, paths: Paths) -> None:
    app = make_app(
        paths,
        Settings(poll_seconds=60),
        node=FakeNode([server()]),
        gpu=FakeGpu(),
        read_host=fake_host,
    )
    assert snap_compare(app, terminal_size=(120, 32), run_before=settled)


def test_dashboard_two_gpus_and_a_crashed_server(snap_compare: Any, paths: Paths) -> None:
    node = FakeNode(
        [
            server(),
            server(
                "qwen2.5-7b",
                "crashed",
                8101,
                "out of memory: torch.OutOfMemoryError: CUDA out of memory",
            ),
        ]
    )
    app = make_app(
        paths, Settings(poll_seconds=60), node=node, gpu=FakeGpu(TWO_GPUS), read_host=fake_host
    )
    assert snap_compare(app, terminal_size=(120, 32), run_before=settled)
