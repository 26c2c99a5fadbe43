"""Getting around like k9s: ``:`` commands, ``?`` keys, Escape back, ``/`` filter, palette."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import HelpPanel, Input
from textual.widgets._key_panel import BindingsTable

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.app import make_app
from naptha_tui.tui.screens.bench import BenchScreen
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.doctor import DoctorScreen
from naptha_tui.tui.screens.eval import EvalScreen
from naptha_tui.tui.screens.history import HistoryScreen
from naptha_tui.tui.screens.log import LogScreen
from naptha_tui.tui.screens.playground import PlaygroundScreen
from naptha_tui.tui.screens.prompt_bar import PromptBarModal
from naptha_tui.tui.screens.routes import RoutesScreen
from naptha_tui.tui.widgets.server_table import ServerTable
from tests.fakes.node import FakeGpu, FakeNode, StaticOllama, fake_host, server
from tests.tui.playground_common import Engines
from tests.tui.test_dashboard import fed, polls, until
from tests.tui.test_doctor import CannedDoctor

SIZE = (120, 36)


def servers() -> FakeNode:
    return FakeNode(
        [
            server(),
            server(
                "qwen-gpu", "crashed", 8101, "out of memory", model="qwen2.5-7b", runtime="cuda"
            ),
            server("hermes-gpu", "ready", 8102, model="hermes-3-8b", runtime="cuda"),
        ]
    )


def app_with(paths: Paths, node: FakeNode | None = None) -> Any:
    return make_app(
        paths,
        Settings(poll_seconds=0.1),
        node=node or servers(),
        gpu=FakeGpu(),
        read_host=fake_host,
        ollama=lambda: StaticOllama(down=True),
        playground=Engines(),
        doctor=CannedDoctor,
    )


async def ready(pilot: Any) -> ServerTable:
    await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    table = pilot.app.screen.query_one(ServerTable)
    await until(pilot, lambda: table.row_count == 3)
    return table


def help_text(app: Any) -> str:
    """What the keys panel shows, as text ("" until it has its table)."""
    tables = app.screen.query("HelpPanel BindingsTable")
    if not tables:
        return ""
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(tables.first(BindingsTable).render())
    return console.export_text()


async def command(pilot: Any, text: str) -> None:
    """Type ``:TEXT`` and Enter, as a person would."""
    await pilot.press("colon")
    await until(pilot, lambda: isinstance(pilot.app.screen, PromptBarModal))
    await pilot.press(*["space" if c == " " else c for c in text], "enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, PromptBarModal))
    await pilot.pause()  # what the command said (a notification) is handled


@pytest.mark.parametrize(
    ("text", "screen"),
    [
        ("routes", RoutesScreen),
        ("try", PlaygroundScreen),
        ("bench", BenchScreen),
        ("eval", EvalScreen),
        ("doctor", DoctorScreen),
        ("history", HistoryScreen),
        ("playground", PlaygroundScreen),
        ("hist", HistoryScreen),
    ],
)
async def test_each_alias_opens_its_screen_and_escape_comes_back(
    paths: Paths, text: str, screen: type
) -> None:
    app = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, text)
        await until(pilot, lambda: isinstance(app.screen, screen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_an_unknown_command_says_so_and_keeps_the_panel(paths: Paths) -> None:
    app = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        depth = len(app.screen_stack)
        await command(pilot, "nosuch")
        assert isinstance(app.screen, DashboardScreen) and len(app.screen_stack) == depth
        said = [n.message for n in app._notifications]
        assert any("unknown command: nosuch" in m for m in said), said
        await command(pilot, "logs nobody")
        assert isinstance(app.screen, DashboardScreen)
        said = [n.message for n in app._notifications]
        assert any("no server nobody" in m for m in said), said


async def test_logs_name_opens_that_servers_log(paths: Paths) -> None:
    paths.log_dir.mkdir(parents=True)
    (paths.log_dir / "qwen-gpu.log").write_text("INFO loading\nERROR out of memory\n")
    app = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, "logs qwen-gpu")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        assert app.screen.server_name == "qwen-gpu"
        assert app.screen.path == paths.log_dir / "qwen-gpu.log"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await command(pilot, "logs proxy")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        assert app.screen.server_name == "proxy"


async def test_the_command_bar_suggests_and_escape_closes_it(paths: Paths) -> None:
    app = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("colon", "r", "o")
        await until(pilot, lambda: isinstance(app.screen, PromptBarModal))
        prompt = app.screen.query_one(Input)
        await until(pilot, lambda: prompt._suggestion == "routes")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert not app._notifications


async def test_escape_goes_back_along_the_way_you_came(paths: Paths) -> None:
    app = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, "routes")
        await until(pilot, lambda: isinstance(app.screen, RoutesScreen))
        await command(pilot, "history")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RoutesScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_servers_goes_back_down_to_the_dashboard(paths: Paths) -> None:
    app = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await command(pilot, "routes")
        await until(pilot, lambda: isinstance(app.screen, RoutesScreen))
        await command(pilot, "doctor")
        await until(pilot, lambda: isinstance(app.screen, DoctorScreen))
        await command(pilot, "servers")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_question_mark_shows_the_keys_of_the_screen_you_are_on(paths: Paths) -> None:
    app = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: bool(app.screen.query(HelpPanel)))
        await until(pilot, lambda: "Start" in help_text(app))
        keys = help_text(app)
        assert all(k in keys for k in ("Start", "Stop", "Swap", "Filter", "Command")), keys
        await pilot.press("question_mark")
        await until(pilot, lambda: not app.screen.query(HelpPanel))
        await pilot.press("l")  # the selected server's log: its own keys
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: bool(app.screen.query(HelpPanel)))
        await until(pilot, lambda: "Search" in help_text(app))
        keys = help_text(app)
        assert all(k in keys for k in ("Search", "Wrap", "Follow")) and "Swap" not in keys, keys


async def test_slash_filters_the_server_table_and_escape_clears_it(paths: Paths) -> None:
    node = servers()
    app = app_with(paths, node)
    async with app.run_test(size=SIZE) as pilot:
        table = await ready(pilot)
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.screen, PromptBarModal))
        await pilot.press(*"cuda")  # the table follows the typing
        await until(pilot, lambda: table.row_count == 2)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await polls(pilot, node)  # polls keep the filter
        assert table.row_count == 2
        assert {table.get_row_at(i)[0] for i in range(2)} == {"qwen-gpu", "hermes-gpu"}
        assert "/cuda (2 of 3)" in str(table.border_title)
        await pilot.press("l")  # keys act on the filtered rows
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        assert app.screen.server_name in ("qwen-gpu", "hermes-gpu")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.press("escape")
        await until(pilot, lambda: table.row_count == 3)
        assert str(table.border_title) == "Servers"


async def test_navigation_is_in_the_palette(paths: Paths) -> None:
    app = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Command bar", "Filter servers", "Keys", "Routes", "Server log"} <= titles


def test_command_bar_open_snapshot(snap_compare: Any, paths: Paths) -> None:
    node = FakeNode([server()])

    async def run_before(pilot: Any) -> None:
        await until(pilot, lambda: pilot.app.screen.query_one(ServerTable).row_count == 1)
        await until(pilot, lambda: fed(pilot.app))
        await pilot.press("colon", "l", "o")
        await until(pilot, lambda: isinstance(pilot.app.screen, PromptBarModal))
        prompt = pilot.app.screen.query_one(Input)
        await until(pilot, lambda: prompt._suggestion == "logs smollm2-cpu")

    app = make_app(
        paths,
        Settings(poll_seconds=60),
        node=node,
        gpu=FakeGpu(),
        read_host=fake_host,
        ollama=lambda: StaticOllama(down=True),
    )
    node.host, node.gpus = fake_host(), FakeGpu().report
    assert snap_compare(app, run_before=run_before, terminal_size=SIZE)
