"""SVG snapshots of the log screen (issue 20 item 4): a search's match marked among coloured
error and warning lines; the same log wrapped; a failed server's log opened at its root cause.

The home folder is the test's root, so the header shows ``~/state/logs/NAME.log``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.viewprefs import LOG_WRAP, ViewPrefs
from tests.fakes.node import FakeNode, server
from tests.tui.log_common import open_log, settle, vllm_log, write_log
from tests.tui.test_dashboard import app_with
from tests.unit.test_startup_reason import ENGINE_THEN_API

SIZE = (120, 30)


@pytest.fixture
def home(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = paths.state_dir.parent
    monkeypatch.setenv("HOME", str(root))
    return root


async def search_uvicorn(pilot: Any) -> None:
    view = await open_log(pilot, "l")
    await pilot.press("slash", *"uvicorn", "enter")
    await settle(pilot, view)
    await pilot.press("N")
    await settle(pilot, view)


async def wrapped(pilot: Any) -> None:
    view = await open_log(pilot, "l")
    await pilot.press("t")  # the first traceback
    await settle(pilot, view)


async def at_error(pilot: Any) -> None:
    await open_log(pilot, "enter")


def test_log_search_match_marked_errors_and_warnings_coloured(
    snap_compare: Any, paths: Paths, home: Path
) -> None:
    write_log(paths.log_dir / "smollm2-cpu.log", vllm_log())
    app = app_with(paths, FakeNode([server()]))
    assert snap_compare(app, terminal_size=SIZE, run_before=search_uvicorn)


def test_log_wrapped_at_the_first_traceback(snap_compare: Any, paths: Paths, home: Path) -> None:
    write_log(paths.log_dir / "smollm2-cpu.log", vllm_log())
    ViewPrefs(paths).set(LOG_WRAP, True)
    app = app_with(paths, FakeNode([server()]))
    assert snap_compare(app, terminal_size=SIZE, run_before=wrapped)


def test_log_of_a_failed_server_opened_at_its_root_cause(
    snap_compare: Any, paths: Paths, home: Path
) -> None:
    paths.log_dir.mkdir(parents=True)
    (paths.log_dir / "qwen.log").write_text(ENGINE_THEN_API + "(APIServer pid=10) INFO bye\n" * 40)
    node = FakeNode([server("qwen", "crashed", 8101, "ValueError: max_model_len 99999")])
    app = app_with(paths, node)
    assert snap_compare(app, terminal_size=SIZE, run_before=at_error)
