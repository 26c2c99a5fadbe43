"""SVG snapshots of the dashboard with fakes (regenerate deliberately: pytest --snapshot-update).

The node reports host and GPUs in its status (as ``Node.status`` does), so the memory bars and
the first trend sample come from one round whatever order the workers finish in; the Ollama
client is ``StaticOllama`` (a fixed host, expiries relative to the moment it answers).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.widgets import OptionList

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.app import make_app
from naptha_tui.tui.screens.swap import SwapModal
from naptha_tui.tui.widgets.ollama_panel import OllamaPanel
from naptha_tui.tui.widgets.server_table import ServerTable
from tests.fakes.node import (
    TWO_GPUS,
    FakeGpu,
    FakeNode,
    StaticOllama,
    busy,
    fake_host,
    gpu_servers,
    refused_on_gpu,
    server,
)
from tests.tui.test_dashboard import fed, until

CRASHED = "out of memory: torch.OutOfMemoryError: CUDA out of memory"


async def settled(pilot: Any) -> None:
    screen = pilot.app.screen
    table = screen.query_one(ServerTable)
    ollama = screen.query_one(OllamaPanel)
    await until(pilot, lambda: fed(pilot.app) and bool(table.row_count) and ollama.up is not None)


def app_for(paths: Paths, node: FakeNode, gpu: FakeGpu, ollama: StaticOllama) -> Any:
    node.host, node.gpus = fake_host(), gpu.report  # what the node read in the same round
    return make_app(
        paths,
        Settings(poll_seconds=60),
        node=node,
        gpu=gpu,
        read_host=fake_host,
        ollama=lambda: ollama,
    )


def test_dashboard_no_gpu_one_server_ready(snap_compare: Any, paths: Paths) -> None:
    app = app_for(paths, FakeNode([server()]), FakeGpu(), StaticOllama(down=True))
    assert snap_compare(app, terminal_size=(120, 32), run_before=settled)


def test_dashboard_two_gpus_and_a_crashed_server(snap_compare: Any, paths: Paths) -> None:
    node = FakeNode(
        [
            *gpu_servers(),
            server("qwen3-8b", "crashed", 8103, CRASHED, model="Qwen/Qwen3-8B", runtime="cuda"),
        ]
    )
    app = app_for(paths, node, FakeGpu(TWO_GPUS), StaticOllama(down=True))
    assert snap_compare(app, terminal_size=(120, 32), run_before=settled)


def test_dashboard_cpu_node_two_servers_ram_split(snap_compare: Any, paths: Paths) -> None:
    """The embedded default doubled (smollm2-cpu-x2): RAM split by the two trees, one queueing."""
    node = FakeNode(
        [
            server("smollm2-cpu-x2-0"),
            server(
                "smollm2-cpu-x2-1",
                port=8101,
                rss_bytes=1_380_000_000,
                metrics_=busy(waiting=12.0, kv_cache_usage=0.74),
            ),
        ]
    )
    app = app_for(paths, node, FakeGpu(), StaticOllama(down=True))
    assert snap_compare(app, terminal_size=(120, 36), run_before=settled)


def test_dashboard_gpu_node_bars_split_and_ollama_loaded(snap_compare: Any, paths: Paths) -> None:
    ollama = StaticOllama(loaded=("llama3.2:latest", "deepseek-r1:latest"))
    app = app_for(paths, FakeNode(gpu_servers()), FakeGpu(TWO_GPUS), ollama)
    assert snap_compare(app, terminal_size=(120, 36), run_before=settled)


def test_swap_modal_shows_a_refusal(snap_compare: Any, paths: Paths) -> None:
    node = FakeNode(gpu_servers(), verdicts={"qwen3-8b": refused_on_gpu()})

    async def open_swap(pilot: Any) -> None:
        await settled(pilot)
        await pilot.press("down", "w")  # swap llama3.1-8b
        await until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, SwapModal) and bool(pilot.app.screen.query(OptionList))
            ),
        )
        modal = pilot.app.screen
        assert isinstance(modal, SwapModal)
        options = modal.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        options.highlighted = ids.index("qwen3-8b")
        await until(pilot, lambda: "qwen3-8b" in modal.checked)

    app = app_for(paths, node, FakeGpu(TWO_GPUS), StaticOllama(down=True))
    assert snap_compare(app, terminal_size=(120, 36), run_before=open_swap)


def test_dashboard_a_server_starting(snap_compare: Any, paths: Paths) -> None:
    """Start-up reads as start-up: ``loading 42 s`` and the log's last line, in the REASON
    column and, for the highlighted server, in full under the table."""
    starting = replace(
        server(
            "smollm2-cpu",
            "starting",
            reason="loading 42 s: Loading weights took 0.41 seconds",
            metrics_=None,
        ),
        uptime_s=42.0,
    )
    app = app_for(paths, FakeNode([starting]), FakeGpu(), StaticOllama(down=True))
    assert snap_compare(app, terminal_size=(120, 32), run_before=settled)
