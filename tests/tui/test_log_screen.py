"""The log screen (issue 20 item 4): search with next and previous, error and warning lines
coloured, wrap on and off (remembered), the first and last traceback, pause and resume, the
previous run's log; a big log opens from its end and is read by blocks."""

from __future__ import annotations

import stat

from textual.widgets import Input

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.logfile import previous_run
from naptha_tui.backends.viewprefs import LOG_WRAP, ViewPrefs
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.log import LogScreen
from naptha_tui.tui.widgets import log_window
from naptha_tui.tui.widgets.log_view import LogView
from tests.fakes.node import FakeNode, server
from tests.tui.log_common import (
    TRACE,
    log_app,
    offsets,
    open_log,
    request,
    settle,
    visible,
    vllm_log,
    write_log,
)
from tests.tui.test_dashboard import app_with, fed, until
from tests.unit.test_startup_reason import ENGINE_THEN_API


def marked_line(view: LogView) -> str:
    assert view.marked is not None
    [line] = [view.lines[i] for i, m in enumerate(view._meta) if m.start == view.marked]
    return line


async def test_search_goes_up_then_next_and_previous_round_the_ends(paths: Paths) -> None:
    path = write_log(paths.log_dir / "smollm2-cpu.log", vllm_log())
    hits = offsets(path, "Uvicorn")
    assert len(hits) == 3
    app = log_app(paths)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_log(pilot)
        assert view.following
        await pilot.press("slash")
        search = app.screen.query_one("#log-search", Input)
        assert search.has_focus
        await pilot.press(*"uvicorn", "enter")  # lower case: any case; upwards from the end
        await settle(pilot, view)
        assert view.sought == "uvicorn" and view.has_focus and not search.has_class("-open")
        assert view.marked is not None and view.marked in [
            path.read_bytes().rfind(b"\n", 0, h) + 1 for h in hits
        ]
        assert "Uvicorn still serving" in marked_line(view)
        assert marked_line(view) in visible(view) and not view.following
        assert view.note.startswith("match for 'uvicorn' at ")
        await pilot.press("N")  # the one before
        await settle(pilot, view)
        assert "slow to answer" in marked_line(view)
        await pilot.press("N")
        await settle(pilot, view)
        assert "Uvicorn running on" in marked_line(view)
        await pilot.press("N")  # none before the first: round the end, to the last
        await settle(pilot, view)
        assert "Uvicorn still serving" in marked_line(view)
        assert view.note.endswith("(went round the end)")
        await pilot.press("n")  # none after the last: round to the first
        await settle(pilot, view)
        assert "Uvicorn running on" in marked_line(view) and marked_line(view) in visible(view)
        await pilot.press("slash", *"no such text", "enter")
        await settle(pilot, view)
        assert view.note == "no match for 'no such text'"
        await pilot.press("slash", "escape")  # Escape closes the field, not the screen
        assert isinstance(app.screen, LogScreen) and view.has_focus
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_error_and_warning_lines_are_coloured_and_matches_highlighted(
    paths: Paths,
) -> None:
    write_log(paths.log_dir / "smollm2-cpu.log", vllm_log())
    app = log_app(paths)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_log(pilot)
        await pilot.press("g")  # the start: the first traceback is in view
        await until(pilot, lambda: view.position == 0)
        await pilot.pause()  # drawn there
        levels = dict(zip(view.lines, view._levels, strict=True))
        assert levels[view.lines[2]] == "warning" and "WARNING" in view.lines[2]
        assert [levels[line] for line in view.lines[5:10]] == [
            "error",
            "error",
            "error",
            "error",
            "error",
        ]
        assert levels[view.lines[0]] is None
        error = view.get_component_rich_style("log-view--error")
        warning = view.get_component_rich_style("log-view--warning")
        assert error.color != warning.color and error.color is not None

        def colours(y: int) -> set[object]:
            return {
                seg.style.color for seg in view.render_line(y) if seg.style and seg.text.strip()
            }

        assert error.color in colours(5) and warning.color in colours(2)
        assert error.color not in colours(0) and warning.color not in colours(0)
        await pilot.press("slash", *"Loading weights", "enter")
        await settle(pilot, view)
        match = view.get_component_rich_style("log-view--match")
        y = visible(view).index(marked_line(view))
        lit = [
            seg.text
            for seg in view.render_line(y)
            if seg.style and seg.style.bgcolor == match.bgcolor
        ]
        assert "".join(lit) == "Loading weights"


async def test_wrap_toggles_and_is_remembered_across_panels(paths: Paths) -> None:
    write_log(paths.log_dir / "smollm2-cpu.log", vllm_log())
    app = log_app(paths)
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_log(pilot)
        assert not view.wrap and view.virtual_size.width > 100  # long lines scroll sideways
        rows = view.virtual_size.height
        await pilot.press("w")
        assert view.wrap and view.virtual_size.width <= 100
        assert view.virtual_size.height > rows and view.at_end  # the end stays in view
        await until(pilot, lambda: ViewPrefs(paths).flag(LOG_WRAP))
        assert stat.S_IMODE(ViewPrefs(paths).file.stat().st_mode) == 0o600
    app = log_app(paths)  # another panel run
    async with app.run_test(size=(100, 30)) as pilot:
        view = await open_log(pilot)
        assert view.wrap
        await pilot.press("w")
        await until(pilot, lambda: not ViewPrefs(paths).flag(LOG_WRAP, default=True))


async def test_first_and_last_traceback(paths: Paths) -> None:
    path = write_log(paths.log_dir / "smollm2-cpu.log", vllm_log())
    first, last = offsets(path, "Traceback")
    app = log_app(paths)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_log(pilot)
        await pilot.press("t")
        await settle(pilot, view)
        assert view.marked is not None and view.marked <= first < view.marked + 200
        assert view.note.startswith("first traceback at ")
        assert marked_line(view) == TRACE[1] and TRACE[1] in visible(view)
        await pilot.press("T")
        await settle(pilot, view)
        assert view.marked is not None and view.marked <= last < view.marked + 200
        assert view.note.startswith("last traceback at ")


async def test_pause_and_resume_the_follow(paths: Paths) -> None:
    path = write_log(paths.log_dir / "smollm2-cpu.log", vllm_log())
    app = log_app(paths)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_log(pilot)
        assert view.following
        with path.open("a") as fh:
            fh.write("followed line\n")
        await until(pilot, lambda: "followed line" in visible(view))
        await pilot.press("f")
        assert view.paused and not view.following
        status = str(app.screen.query_one("#log-status").render())
        assert "paused (f follows)" in status
        with path.open("a") as fh:
            fh.write("while paused\n")
        await until(pilot, lambda: "while paused" in view.lines)  # read, not scrolled to
        # a fixed pause on purpose: nothing to wait for, the view must stay put while time
        # passes (longer than one 0.25 s watch of the file)
        await pilot.pause(0.3)
        assert "while paused" not in visible(view) and "followed line" in visible(view)
        await pilot.press("f")
        await until(pilot, lambda: "while paused" in visible(view))
        assert view.following
        await pilot.press("pageup")
        await until(pilot, lambda: not view.following)
        await pilot.press("end")
        await until(pilot, lambda: view.following)


async def test_the_previous_run_and_a_rotation(paths: Paths) -> None:
    path = write_log(paths.log_dir / "smollm2-cpu.log", ["this run's line"])
    app = log_app(paths)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_log(pilot)
        await pilot.press("p")  # no previous run yet: said, and nothing changes
        await until(pilot, lambda: any("no previous run" in n.message for n in app._notifications))
        assert list(view.lines) == ["this run's line"]
        write_log(previous_run(path), ["the run before's line"])
        await pilot.press("p")
        await until(pilot, lambda: list(view.lines) == ["the run before's line"])
        assert app.screen.sub_title.endswith("(previous run)")
        await pilot.press("p")
        await until(pilot, lambda: list(view.lines) == ["this run's line"])
        assert app.screen.sub_title.endswith("(this run)")
        # the server starts again: its log is rotated, the view shows the new one
        path.replace(previous_run(path))
        write_log(path, ["a new run"])
        await until(pilot, lambda: list(view.lines) == ["a new run"])


async def test_a_log_not_there_yet_shows_when_it_appears(paths: Paths) -> None:
    paths.log_dir.mkdir(parents=True)
    app = app_with(paths, FakeNode([server("late")]))
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: fed(app))
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        view = app.screen.query_one(LogView)
        status = app.screen.query_one("#log-status")
        await until(pilot, lambda: "no log yet" in str(status.render()))
        write_log(paths.log_dir / "late.log", ["hello"])
        await until(pilot, lambda: list(view.lines) == ["hello"])


async def test_a_big_log_is_read_by_blocks_from_its_end(paths: Paths) -> None:
    """24 MB: the window holds a few hundred lines, scrolling up reads more, Home shows the
    first line, a search finds the match at the start."""
    path = paths.log_dir / "smollm2-cpu.log"
    path.parent.mkdir(parents=True)
    block = "".join(f"{request(i)}\n" for i in range(10_000)).encode()
    with path.open("wb") as fh:
        fh.write(b"the very first line, NEEDLE-0001\n")
        while fh.tell() < 24 << 20:
            fh.write(block)
        fh.write(b"the very last line\n")
    app = log_app(paths)
    async with app.run_test(size=(120, 30)) as pilot:
        view = await open_log(pilot)
        assert visible(view)[-1] == "the very last line"
        assert len(view.lines) <= log_window.OPEN_LINES
        for _ in range(20):
            await pilot.press("pageup")
        await until(pilot, lambda: len(view.lines) > log_window.OPEN_LINES)  # read more
        assert log_window.OPEN_LINES < len(view.lines) <= log_window.WINDOW
        assert view._meta[0].start > 20 << 20  # still only the end of the file
        await pilot.press("slash", *"needle-0001", "enter")
        await settle(pilot, view, timeout=20)
        assert view.marked == 0 and visible(view)[0] == "the very first line, NEEDLE-0001"
        await pilot.press("G")
        await until(pilot, lambda: visible(view)[-1] == "the very last line")


async def test_enter_on_a_crashed_server_marks_the_root_cause_in_view(paths: Paths) -> None:
    paths.log_dir.mkdir(parents=True)
    (paths.log_dir / "qwen.log").write_text(ENGINE_THEN_API + "(APIServer pid=10) INFO bye\n" * 80)
    node = FakeNode([server("qwen", "crashed", 8101, "ValueError: max_model_len 99999")])
    app = app_with(paths, node)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: fed(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LogScreen))
        view = app.screen.query_one(LogView)
        await until(pilot, lambda: view.marked is not None)
        assert "ValueError: max_model_len 99999 exceeds" in marked_line(view)
        assert marked_line(view) in visible(view) and not view.following
