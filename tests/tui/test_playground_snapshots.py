"""SVG snapshots of the playground (regenerate deliberately: pytest --snapshot-update)."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot

from naptha_tui.backends.paths import Paths
from naptha_tui.tui.screens.playground import PlaygroundScreen
from tests.tui.playground_common import (
    SIZE,
    Engines,
    app_with,
    filled,
    open_playground,
    run_and_settle,
)
from tests.tui.test_dashboard import until


def shown(screen: PlaygroundScreen) -> bool:
    """Whether the detail pane shows a sample (its raw text's source is said above it)."""
    return bool(screen.query_one("#raw-source").display)


def test_playground_empty_snapshot(snap_compare: Any, paths: Paths) -> None:
    async def opened(pilot: Pilot[None]) -> None:
        await open_playground(pilot)

    assert snap_compare(app_with(paths, Engines()), terminal_size=SIZE, run_before=opened)


def test_playground_mid_sweep_snapshot(snap_compare: Any, paths: Paths) -> None:
    engines = Engines(gate=asyncio.Event(), hold_after=2)

    async def held(pilot: Pilot[None]) -> None:
        screen = await filled(pilot)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: engines.last.held.is_set() and screen.samples.row_count == 2)
        screen.samples.focus()
        await until(pilot, lambda: screen.samples.has_focus)

    assert snap_compare(app_with(paths, engines), terminal_size=SIZE, run_before=held)


def test_playground_results_with_a_sample_selected_snapshot(
    snap_compare: Any, paths: Paths
) -> None:
    async def selected(pilot: Pilot[None]) -> None:
        screen = await filled(pilot)
        await run_and_settle(pilot, screen)
        screen.samples.focus()
        screen.samples.move_cursor(row=0)
        await until(pilot, lambda: screen.samples.has_focus and shown(screen))

    assert snap_compare(app_with(paths, Engines()), terminal_size=SIZE, run_before=selected)


def test_playground_a_sample_explained_snapshot(snap_compare: Any, paths: Paths) -> None:
    """The third pane, opened by x: the layer verdict, then each layer's evidence."""

    async def explained(pilot: Pilot[None]) -> None:
        screen = await filled(pilot)
        await run_and_settle(pilot, screen)
        screen.samples.focus()
        screen.samples.move_cursor(row=2)
        await pilot.press("x")
        await until(pilot, lambda: screen.query_one("#evidence-pane").display)

    assert snap_compare(app_with(paths, Engines()), terminal_size=SIZE, run_before=explained)
