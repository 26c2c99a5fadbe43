"""Start-up reads as start-up in the panel (issue 20 item 2): a starting server's REASON is
``loading N s`` with its log's last line, never ``ConnectError``; Enter on a failed server opens
its log at the line that ends the first traceback."""

from __future__ import annotations

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.log import LogScreen
from naptha_tui.tui.widgets.server_table import ServerTable
from tests.conftest import write_preset
from tests.fakes.node import FakeGpu, FakeNode, server, without_litellm
from tests.tui.test_dashboard import app_with, until
from tests.unit.test_startup_reason import ENGINE_THEN_API


async def test_a_starting_server_reads_loading_with_its_last_line(
    paths: Paths, fake_runtime_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_preset(
        paths.user_presets_dir,
        "slow",
        "model: org/slow\nruntime: fake\nserved_model_name: m-slow\nenv: {FAKE_VLLM_DELAY: '60'}\n",
    )
    node = Node(paths, fake_runtime_settings, gpu=FakeGpu())
    without_litellm(node, monkeypatch)
    app = app_with(paths, node, up=("slow",))
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            table = app.screen.query_one(ServerTable)

            def reason() -> str:
                return str(table.get_row("slow")[-1]) if table.row_count else ""

            await until(pilot, lambda: "fake vLLM serving" in reason(), timeout=20)
            seen = set()
            for _ in range(10):  # several polls: never the probe's refused connection
                seen.add(reason())
                assert "ConnectError" not in reason()
                assert "ConnectError" not in (table.border_subtitle or "")
                await pilot.pause(0.1)  # fixed on purpose: it samples the row as time passes
            assert all(r.startswith("loading ") for r in seen), seen
            assert str(table.get_row("slow")[4]) == "starting"
            assert (table.border_subtitle or "").startswith("slow starting: loading ")
    finally:
        await node.supervisor.stop("slow")
        await node.aclose()


async def test_enter_on_a_crashed_server_opens_its_log_at_the_error(paths: Paths) -> None:
    paths.log_dir.mkdir(parents=True)
    (paths.log_dir / "qwen.log").write_text(ENGINE_THEN_API)
    why = "ValueError: max_model_len 99999 exceeds the model's 8192"
    node = FakeNode([server("qwen", "crashed", 8101, why)])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one(ServerTable)
        await until(pilot, lambda: table.row_count == 1)
        assert table.border_subtitle == f"qwen crashed: {why}"
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        screen = app.screen
        assert isinstance(screen, LogScreen) and screen.at_error
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
