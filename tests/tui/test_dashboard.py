from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Log, OptionList
from textual.worker import WorkerCancelled

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node
from naptha_tui.tui.app import make_app
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.log import LogScreen
from naptha_tui.tui.widgets.memory import MemoryPanel
from naptha_tui.tui.widgets.ollama_panel import OllamaLike
from naptha_tui.tui.widgets.server_table import ServerTable
from naptha_tui.tui.widgets.telemetry import HostPanel, ProxyBar
from tests.conftest import write_preset
from tests.fakes.node import (
    TWO_GPUS,
    FakeGpu,
    FakeNode,
    StaticOllama,
    fake_host,
    server,
    without_litellm,
)


async def until(pilot, check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Poll the UI until ``check()`` holds (telemetry and polling workers never finish, so
    waiting for all workers would hang); fail naming the condition otherwise.

    Tests wait with this, not with fixed pauses: the timeout is generous (a loaded machine
    may take seconds), and a condition that holds at once costs nothing."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not true within {timeout} s: {condition(check)}"
        await pilot.pause(0.05)  # the polling interval, not a wait for anything in particular


def condition(check: Callable[[], object]) -> str:
    """The source of a waited-on check, for the failure message."""
    try:
        return inspect.getsource(check).strip()
    except (OSError, TypeError):
        return repr(check)


async def workers_done(pilot, *groups: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for the workers of ``groups`` to end (what a screen reads on opening, an action),
    then for what they posted to be handled. Not ``app.workers.wait_for_complete()`` alone:
    the polling workers never end, and given no workers it waits for all of them."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while True:
        # queued messages first: one may ask for another worker (what the last ones posted)
        await pilot.pause()
        busy = [w for w in app.workers if w.group in groups and not w.is_finished]
        if not busy:
            return
        left = deadline - time.monotonic()
        assert left > 0, f"still running after {timeout} s: {[w.name for w in busy]}"
        # a worker an exclusive successor cancelled has ended too; a failed one raises
        with contextlib.suppress(WorkerCancelled, TimeoutError):
            async with asyncio.timeout(left):
                await app.workers.wait_for_complete(busy)


async def polls(pilot, node: FakeNode, count: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Wait until the panel has asked ``node`` for its status ``count`` more times, and what the
    last answer brought is shown: for what must still hold several polls later."""
    start = node.statuses
    await until(pilot, lambda: node.statuses >= start + count)
    await pilot.pause()


def fed(app: App[Any]) -> bool:
    """The dashboard shows a node status (servers, proxy) and a host and GPU reading."""
    screen = app.screen
    if not isinstance(screen, DashboardScreen) or not screen.query(MemoryPanel):
        return False  # another screen, or not composed yet
    memory = screen.query_one(MemoryPanel)
    return (
        "probing…" not in str(screen.query_one(ProxyBar).render())
        and "reading…" not in str(screen.query_one(HostPanel).render())
        and memory.gpus is not None
        and memory.host is not None
    )


def app_with(  # type: ignore[no-untyped-def]
    paths: Paths,
    node: FakeNode,
    gpu: FakeGpu | None = None,
    up: tuple[str, ...] = (),
    ollama: OllamaLike | None = None,
):
    """The panel over fakes; no Ollama daemon unless a client is given."""
    client = ollama or StaticOllama(down=True)
    return make_app(
        paths,
        Settings(poll_seconds=0.1),
        node=node,
        gpu=gpu or FakeGpu(),
        read_host=fake_host,
        up=up,
        ollama=lambda: client,
    )


async def test_dashboard_shows_servers_proxy_host_and_no_gpu(paths: Paths) -> None:
    node = FakeNode([server(), server("qwen-gpu", "crashed", 8101, "out of memory: CUDA OOM")])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: fed(app))
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        table = screen.query_one(ServerTable)
        assert table.row_count == 2
        row = [str(c) for c in table.get_row("smollm2-cpu")]
        assert row[:6] == ["smollm2-cpu", "smollm2-135m", "cpu", "8100", "ready", "12m"]
        crashed = [str(c) for c in table.get_row("qwen-gpu")]
        assert crashed[4] == "crashed" and "out of memory" in crashed[-1]
        memory = str(screen.query_one(MemoryPanel).render())
        assert "no NVIDIA GPU: NVML library not found" in memory
        assert "6.5/24.0 GiB" in str(screen.query_one(HostPanel).render())
        proxy_text = str(screen.query_one(ProxyBar).render())
        assert "http://127.0.0.1:4000/v1" in proxy_text and "ready" in proxy_text


async def test_gpus_are_listed(paths: Paths) -> None:
    app = app_with(paths, FakeNode([server()]), FakeGpu(TWO_GPUS))
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: fed(app))
        panel = app.screen.query_one(MemoryPanel)
        text = str(panel.render())
        assert panel.border_title == "GPU memory · NVIDIA H100 80GB HBM3"
        assert "GPU 0" in text and "62.0/80.0 GiB" in text and "util 87%" in text
        assert "GPU 1" in text and "3.0/80.0 GiB" in text and "util 0%" in text


async def test_stop_and_restart_act_on_selected_server(paths: Paths) -> None:
    node = FakeNode([server("a", port=8100), server("b", port=8101)])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one(ServerTable)
        await until(pilot, lambda: table.row_count == 2)
        await pilot.press("down", "x")
        await until(pilot, lambda: str(table.get_row("b")[4]) == "stopped")
        assert node.calls == [("stop", "b")]
        assert table.selected == "b"  # the cursor stays on the same server across refreshes
        await pilot.press("r")
        await until(pilot, lambda: str(table.get_row("b")[4]) == "ready")
        assert node.calls[-1] == ("restart", "b")
        await until(pilot, lambda: "b: ready" in app.screen.query_one(Log).lines)
        log_text = "\n".join(app.screen.query_one(Log).lines)
        assert "b: stopping" in log_text and "b: restarting" in log_text


async def test_start_preset_from_the_picker(paths: Paths) -> None:
    node = FakeNode([])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: fed(app))
        await pilot.press("s")
        await until(pilot, lambda: not isinstance(app.screen, DashboardScreen))
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert "smollm2-cpu" in ids
        options.highlighted = ids.index("smollm2-cpu")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, DashboardScreen)
                and app.screen.query_one(ServerTable).row_count == 1
            ),
        )
        assert node.calls == [("up", "smollm2-cpu")]


async def test_up_argument_starts_presets_on_open(paths: Paths) -> None:
    node = FakeNode([])
    app = app_with(paths, node, up=("smollm2-cpu",))
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: "ready: smollm2-cpu" in app.screen.query_one(Log).lines)
        assert node.calls == [("up", "smollm2-cpu")]


async def test_failed_action_is_reported_and_panel_keeps_running(paths: Paths) -> None:
    node = FakeNode([])
    app = app_with(paths, node, up=("no-such-preset",))
    async with app.run_test(size=(120, 36)) as pilot:
        log = app.screen.query_one(Log)
        await until(pilot, lambda: any("unknown preset" in line for line in log.lines))
        log_text = "\n".join(log.lines)
        assert "error: unknown preset 'no-such-preset'" in log_text
        assert isinstance(app.screen, DashboardScreen) and app.is_running


async def test_log_screen_follows_the_file(paths: Paths, tmp_path: Path) -> None:
    log_dir = paths.log_dir
    log_dir.mkdir(parents=True)
    (log_dir / "a.log").write_text("first line\n")
    app = app_with(paths, FakeNode([server("a")]))
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one(ServerTable)
        await until(pilot, lambda: table.selected == "a")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        lines = app.screen.query_one(Log).lines
        await until(pilot, lambda: "first line" in lines)
        with (log_dir / "a.log").open("a") as fh:
            fh.write("second line\n")
        await until(pilot, lambda: "second line" in lines)
        assert list(lines)[-2:] == ["first line", "second line"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert isinstance(app.screen, DashboardScreen)


async def test_state_file_warnings_are_shown_once(paths: Paths) -> None:
    node = FakeNode([server()])
    node.warnings = ("state file /x/servers.json was unreadable (kept as /x/servers.corrupt)",)
    app = app_with(paths, node)
    async with app.run_test(size=(120, 36)) as pilot:
        log = app.screen.query_one(Log)
        await until(pilot, lambda: "servers.corrupt" in "\n".join(log.lines))
        await polls(pilot, node)  # several polls later, still one line
        assert sum("servers.corrupt" in line for line in log.lines) == 1


async def test_start_and_restart_through_the_node_restart_a_silent_start(
    paths: Paths, fake_runtime_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real Node and fake vLLM servers (no LiteLLM): a start whose log stays silent for its
    # startup_stall_timeout is restarted once, and the activity log says so
    mark = tmp_path / "hung-once"
    write_preset(
        paths.user_presets_dir,
        "hang",
        "model: org/hang\nruntime: fake\nserved_model_name: m-hang\nstartup_stall_timeout: 1\n"
        f"env: {{FAKE_VLLM_HANG_ONCE: '{mark}'}}\n",
    )
    node = Node(paths, fake_runtime_settings, gpu=FakeGpu())
    without_litellm(node, monkeypatch)
    app = app_with(paths, node)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            log = app.screen.query_one(Log)
            table = app.screen.query_one(ServerTable)
            await pilot.press("s")
            await until(pilot, lambda: not isinstance(app.screen, DashboardScreen))
            options = app.screen.query_one(OptionList)
            ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
            options.highlighted = ids.index("hang")
            await pilot.press("enter")
            await until(pilot, lambda: "ready: hang" in log.lines, timeout=30)
            notes = [line for line in log.lines if line.endswith("while starting; restarted")]
            assert len(notes) == 1 and notes[0].startswith("hang: no output for "), log.lines
            await until(pilot, lambda: table.row_count == 1 and table.selected == "hang")
            first = node.state.load().servers["hang"].pid
            mark.unlink()  # the restart key's start hangs too
            await pilot.press("r")
            await until(pilot, lambda: list(log.lines)[-1:] == ["hang: ready"], timeout=30)
            notes = [line for line in log.lines if line.endswith("while starting; restarted")]
            assert len(notes) == 2 and notes[1].startswith("hang: no output for "), log.lines
            assert mark.exists() and node.state.load().servers["hang"].pid != first
    finally:
        await node.down()
