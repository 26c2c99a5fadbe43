"""The command log screen (key h; issue 20 item 5): newest first with time and outcome, the
CLI's entries appear while it is open, ``c`` copies the highlighted one as a shell line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from naptha_tui.backends.commandlog import CommandLog, Entry
from naptha_tui.backends.paths import Paths
from naptha_tui.tui.screens.history import HistoryScreen
from tests.fakes.node import FakeNode, server
from tests.tui.test_dashboard import app_with, fed, until

AT = 1_765_200_000.0  # 2025-12-08 13:20 UTC
KEY = "/home/op/.local/state/naptha-tui/keys/smollm2-cpu.key"
START = Entry(
    at=AT,
    via="cli up",
    action="start server smollm2-cpu",
    kind="exec",
    line=(
        f'VLLM_API_KEY="$(cat {KEY})" VLLM_CPU_KVCACHE_SPACE=4 '
        "/data/runtimes/cpu/venv/bin/vllm serve /data/models/smollm2-135m --host 127.0.0.1 "
        "--port 8100 --served-model-name smollm2-135m --dtype float32"
    ),
    outcome="started pid 4242 (log /home/op/.local/state/naptha-tui/logs/smollm2-cpu.log)",
    ok=True,
    argv=["/data/runtimes/cpu/venv/bin/vllm", "serve"],
    env={"VLLM_API_KEY": f'"$(cat {KEY})"', "VLLM_CPU_KVCACHE_SPACE": "4"},
    cwd="/home/op/.local/state/naptha-tui",
)
RELOAD = Entry(
    at=AT + 41,
    via="cli up",
    action="reload proxy (config /home/op/.local/state/naptha-tui/proxy/litellm.yaml)",
    kind="signal",
    line="kill -HUP 4343",
    outcome="sent to the gunicorn master: new workers read the config",
    ok=True,
)
SLEEP = Entry(
    at=AT + 300,
    via="panel",
    action="sleep qwen2.5-7b",
    kind="http",
    line=(
        "curl -sS -X POST 'http://127.0.0.1:8101/sleep?level=1' "
        '-H "Authorization: Bearer $(cat /home/op/.local/state/naptha-tui/keys/qwen2.5-7b.key)"'
    ),
    outcome="404 in 0.01 s",
    ok=False,
)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def write(paths: Paths, *entries: Entry) -> CommandLog:
    log = CommandLog(paths)
    for e in entries:
        log.append(e)
    return log


async def test_history_lists_newest_first_and_copies_a_shell_line(paths: Paths) -> None:
    write(paths, START, SLEEP)
    app = app_with(paths, FakeNode([server()]))
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: fed(app))
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2)
        assert [str(table.get_row_at(i)[2]) for i in range(2)] == [SLEEP.action, START.action]
        assert str(table.get_row_at(1)[4]).startswith('VLLM_API_KEY="$(cat ')
        assert str(table.get_row_at(0)[3]) == "FAILED 404 in 0.01 s"
        await pilot.press("c")
        assert app.clipboard == SLEEP.line
        await pilot.press("down", "c")
        assert app.clipboard == START.line
        # what the CLI does meanwhile shows up, and the cursor stays on its entry
        CommandLog(paths, via="cli down").record(
            "stop server smollm2-cpu", "signal", "kill -TERM -- -4242", "stopped in 0.4 s"
        )
        await until(pilot, lambda: table.row_count == 3, timeout=6)
        assert str(table.get_row_at(0)[1]) == "cli down"
        await pilot.press("c")
        assert app.clipboard == START.line
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HistoryScreen))


async def test_history_from_the_palette_and_when_empty(paths: Paths) -> None:
    app = app_with(paths, FakeNode([server()]))
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: fed(app))
        app.action_open_history()
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await until(pilot, lambda: "Nothing recorded yet" in history_line(app))
        await pilot.press("c")
        assert app.clipboard == ""
        assert any(c.title == "History" for c in app.get_system_commands(app.screen_stack[0]))


def history_line(app: Any) -> str:
    """What the line under the table says (the entry under the cursor, or why none)."""
    lines = app.screen.query("#history-line")
    return str(lines.first(Static).render()) if lines else ""


async def history_open(pilot: Any) -> None:
    await until(pilot, lambda: fed(pilot.app))
    await pilot.press("h")
    await until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, HistoryScreen)
            and pilot.app.screen.query_one(DataTable).row_count == 3
        ),
    )
    await pilot.press("down", "down")  # the start, its whole line below
    await until(pilot, lambda: START.line in history_line(pilot.app))


def test_history_screen_snapshot(snap_compare: Any, paths: Paths, utc: None) -> None:
    write(paths, START, RELOAD, SLEEP)
    app = app_with(paths, FakeNode([server()]))
    assert snap_compare(app, terminal_size=(120, 30), run_before=history_open)
