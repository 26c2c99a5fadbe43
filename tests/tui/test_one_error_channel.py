"""One error channel: a worker that fails anywhere reaches the app, which shows it and carries on.

A worker that raises on a screen, a widget or a modal is shown by the app's one handler (a
notification and the dashboard's activity log) and the panel keeps answering keys; a bad file
the operator named is said under its field; a real crash exits non-zero with its traceback in
``<log dir>/panel-crash.log``.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Input, Log

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.backends.servers.verdict import Verdict
from naptha_tui.tui.app import NapthaTuiApp
from naptha_tui.tui.crash import CRASH_LOG, run_panel
from naptha_tui.tui.failures import ReportsWorkerFailures
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.playground import PlaygroundScreen
from naptha_tui.tui.screens.routes import RoutesScreen
from naptha_tui.tui.screens.swap import SwapModal
from naptha_tui.tui.widgets import playground_form
from naptha_tui.tui.widgets.server_table import ServerTable
from tests.fakes.bad_files import BAD_FILES, bad_file
from tests.fakes.node import FakeNode, server
from tests.tui import playground_common
from tests.tui.playground_common import SIZE, Engines, error, open_playground
from tests.tui.test_dashboard import app_with, until

REPO = Path(__file__).resolve().parents[2]


class Notes:
    """Records the app's notifications (and still shows them)."""

    def __init__(self, app: App[Any]) -> None:
        self.seen: list[tuple[str, str, str]] = []
        shown = app.notify

        def notify(
            message: str, *, title: str = "", severity: Any = "information", **kw: Any
        ) -> None:
            self.seen.append((str(severity), title, str(message)))
            shown(message, title=title, severity=severity, **kw)

        app.notify = notify  # type: ignore[method-assign]

    def errors(self) -> list[tuple[str, str]]:
        return [(title, text) for severity, title, text in self.seen if severity == "error"]


def activity(app: NapthaTuiApp) -> list[str]:
    dashboard = next(s for s in app.screen_stack if isinstance(s, DashboardScreen))
    return list(dashboard.query_one(Log).lines)


class BuggyNode(FakeNode):
    """A node whose restart and swap verdict have a bug (not a NapthaError)."""

    async def restart_server(self, name: str, progress: Any = None) -> ServerStatus:
        raise RuntimeError("restart bug")

    async def swap_verdict(self, running: str, preset: str) -> Verdict:
        raise RuntimeError("planner bug")


# -- a worker that raises: on a screen, a widget, a modal ------------------------------------
async def test_a_screen_worker_that_raises_reaches_the_app(paths: Paths) -> None:
    app = app_with(paths, BuggyNode([server()]))
    notes = Notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one(ServerTable)
        await until(pilot, lambda: table.row_count > 0)
        await pilot.press("r")  # DashboardScreen.restart_server raises
        await until(
            pilot, lambda: ("restart server", "RuntimeError: restart bug") in notes.errors()
        )
        await until(pilot, lambda: "error: RuntimeError: restart bug" in activity(app))
        assert app.is_running
        await pilot.press("o")  # a key still works
        await until(pilot, lambda: isinstance(app.screen, RoutesScreen))


async def test_a_modal_worker_that_raises_reaches_the_app(paths: Paths) -> None:
    app = app_with(paths, BuggyNode([server()]))
    notes = Notes(app)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.screen.query_one(ServerTable)
        await until(pilot, lambda: table.row_count > 0)
        await pilot.press("w")  # SwapModal.check asks the planner as a preset is highlighted
        await until(pilot, lambda: isinstance(app.screen, SwapModal))
        await until(pilot, lambda: ("swap verdict", "RuntimeError: planner bug") in notes.errors())
        await until(pilot, lambda: "error: RuntimeError: planner bug" in activity(app))
        assert isinstance(app.screen, SwapModal) and app.is_running
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_a_widget_worker_that_raises_reaches_the_app(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def buggy(path: Path, **_: Any) -> str:
        raise ValueError(f"reader bug on {path.name}")

    monkeypatch.setattr(playground_form, "read_text_file", buggy)
    app = playground_common.app_with(paths, Engines())
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        path_input = screen.form.query_one("#tools-file", Input)
        path_input.value = str(tmp_path / "tools.json")
        await path_input.action_submit()  # PlaygroundForm.read_tools_file raises
        await until(
            pilot,
            lambda: ("read tools file", "ValueError: reader bug on tools.json") in notes.errors(),
        )
        await until(pilot, lambda: "error: ValueError: reader bug on tools.json" in activity(app))
        assert app.screen is screen and app.is_running
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


def test_every_worker_reports_to_the_app_and_never_ends_the_panel() -> None:
    """Each ``@work`` in tui/ is on a class that forwards failures, with exit_on_error=False."""
    found = 0
    for file in sorted((REPO / "tui").rglob("*.py")):
        module_name = "naptha_tui.tui." + ".".join(
            file.relative_to(REPO / "tui").with_suffix("").parts
        )
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            starts = []
            for node in ast.walk(cls):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for dec in node.decorator_list:
                        func = dec.func if isinstance(dec, ast.Call) else dec
                        if isinstance(func, ast.Name) and func.id == "work":
                            starts.append((node.name, dec))
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "run_worker"
                ):
                    starts.append(("run_worker", node))
            if not starts:
                continue
            where = f"{module_name}.{cls.name}"
            klass = getattr(importlib.import_module(module_name), cls.name)
            assert issubclass(klass, ReportsWorkerFailures), (
                f"{where}: mix in ReportsWorkerFailures"
            )
            for name, call in starts:
                found += 1
                keywords = (
                    {k.arg: k.value for k in call.keywords} if isinstance(call, ast.Call) else {}
                )
                flag = keywords.get("exit_on_error")
                assert isinstance(flag, ast.Constant) and flag.value is False, (
                    f"{where}.{name}: start it with exit_on_error=False"
                )
    assert found >= 20  # the scan sees the panel's workers (31 when written)


# -- a bad file the operator named: said under its field -------------------------------------
@pytest.mark.parametrize("kind", sorted(BAD_FILES))
async def test_a_bad_tools_file_is_shown_under_its_field(
    paths: Paths, tmp_path: Path, kind: str
) -> None:
    """The reported crash: Enter in "or a file" on a file that is not UTF-8 ended the panel."""
    bad = bad_file(tmp_path, kind, "tools.json")
    app = playground_common.app_with(paths, Engines())
    notes = Notes(app)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        before = screen.form.tools.text
        path_input = screen.form.query_one("#tools-file", Input)
        path_input.value = str(bad)
        await path_input.action_submit()
        await until(pilot, lambda: f"cannot read {bad}: " in error(screen, "tools"))
        assert BAD_FILES[kind] in error(screen, "tools")
        assert screen.form.tools.text == before and notes.errors() == []
        assert app.screen is screen and app.is_running
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


@pytest.mark.parametrize("kind", ["not-utf8", "directory", "empty"])
async def test_a_bad_saved_session_is_shown_under_the_form(paths: Paths, kind: str) -> None:
    folder = paths.state_dir / "playground"
    folder.mkdir(parents=True, exist_ok=True)
    bad_file(paths.state_dir / "made", kind, "broken.yaml").rename(folder / "broken.yaml")
    app = playground_common.app_with(paths, Engines())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: not isinstance(app.screen, PlaygroundScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "session broken: " in error(screen, "form"))
        assert f"{folder / 'broken.yaml'}: " in error(screen, "form")
        assert BAD_FILES[kind] in error(screen, "form")
        assert app.screen is screen and app.is_running


# -- a real crash: non-zero, the traceback in a log file -------------------------------------
class CrashingApp(App[None]):
    def on_mount(self) -> None:
        self.handler_with_a_bug()

    def handler_with_a_bug(self) -> None:
        raise RuntimeError("handler bug")


class QuittingApp(App[None]):
    def on_mount(self) -> None:
        self.exit()


def test_a_crash_exits_non_zero_and_keeps_the_traceback(
    paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_panel(CrashingApp(), paths, headless=True)
    log = paths.log_dir / CRASH_LOG
    assert code == 1
    text = log.read_text()
    assert "panel crashed at" in text and "Traceback (most recent call last)" in text
    assert "handler_with_a_bug" in text and "RuntimeError: handler bug" in text
    assert log.stat().st_mode & 0o777 == 0o600
    err = capsys.readouterr().err
    assert (
        f"naptha-tui: error: the panel crashed: RuntimeError: handler bug; traceback in {log}"
        in err
    )


def test_quitting_exits_zero_and_writes_no_crash_log(paths: Paths) -> None:
    assert run_panel(QuittingApp(), paths, headless=True) == 0
    assert not (paths.log_dir / CRASH_LOG).exists()


CRASHING_PANEL = """
import sys
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import NodeStatus
from naptha_tui.tui import app as panel, crash
from naptha_tui.tui.__main__ import main
from tests.fakes.node import FakeGpu, FakeNode, StaticOllama, fake_host

class BrokenNode(FakeNode):
    async def status(self):
        return NodeStatus(None, self.proxy_status)  # the dashboard's handler cannot show it

def make_app(paths, settings, up=()):
    return real(paths, Settings(poll_seconds=60), node=BrokenNode(), gpu=FakeGpu(),
                read_host=fake_host, ollama=lambda: StaticOllama(down=True))

real, panel.make_app = panel.make_app, make_app
headless, crash.run_panel = crash.run_panel, lambda app, paths: headless(app, paths, headless=True)
sys.argv = ["naptha-tui"]
main()
"""


def test_the_panel_that_crashes_exits_non_zero_with_the_log(paths: Paths) -> None:
    """``naptha-tui`` itself, in a process of its own, with a handler that raises."""
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_PANEL],
        cwd=REPO,
        env=os.environ | {"NAPTHA_TUI_LOG_DIR": str(paths.log_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = paths.log_dir / CRASH_LOG
    assert done.returncode == 1, done.stderr
    assert "the panel crashed: TypeError: " in done.stderr and str(log) in done.stderr
    assert "show_node" in log.read_text()
