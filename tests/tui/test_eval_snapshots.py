"""SVG snapshots of the Eval screen in fixed states (regenerate: pytest --snapshot-update).

A live run's timing is not deterministic, so each state is fed to the screen's rendering
methods (``begin``, ``show_progress``, ``add_failed``, ``show_result``) as the run's messages
would: the data is one whole run of the core against the fake proxy (the checker's own
verdicts), its name, proxy, times and latencies fixed, replayed sample by sample.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from textual.pilot import Pilot

from naptha_tui.backends.evals.results import evals_state_dir
from naptha_tui.backends.paths import Paths
from naptha_tui.tui.screens.eval import EvalScreen
from tests.fakes.fake_proxy import FakeProxy
from tests.tui.eval_common import (
    NO_SETUP,
    SIZE,
    app_with,
    cases_in,
    fake_proxy,
    fixed_run,
    open_eval,
    ready,
    replay,
    snapshot_config,
    started,
)
from tests.tui.test_dashboard import until, workers_done


@pytest.fixture
def fake() -> Iterator[FakeProxy]:
    with fake_proxy() as f:
        yield f


async def filled(pilot: Pilot[None]) -> EvalScreen:
    screen = await open_eval(pilot)
    screen.form.fill(snapshot_config())
    await pilot.pause()
    return screen


async def running(pilot: Pilot[None], fake: FakeProxy, landed: int = 23) -> EvalScreen:
    screen = await filled(pilot)
    doc, _ = await fixed_run(fake)
    screen.begin(snapshot_config(), started(doc), cases_in(doc))
    for done in range(1, landed + 1):
        progress = replay(doc, done, done * 0.9)
        screen.show_progress(progress)
        if progress.last is not None and progress.last.failed:
            screen.add_failed(progress.last)
    await pilot.pause()
    return screen


async def finished(pilot: Pilot[None], fake: FakeProxy) -> EvalScreen:
    screen = await filled(pilot)
    doc, failed = await fixed_run(fake)
    screen.begin(snapshot_config(), started(doc), cases_in(doc))
    screen.show_progress(replay(doc, int(doc["planned"]), 41.3))
    screen.show_result(doc, failed)
    await workers_done(pilot, "saved-runs")  # a result with a name lists the runs again
    return screen


def test_eval_running_snapshot(snap_compare: Any, paths: Paths, fake: FakeProxy) -> None:
    async def mid_run(pilot: Pilot[None]) -> None:
        await running(pilot, fake)

    app, _ = app_with(ready(paths), fake)
    assert snap_compare(app, terminal_size=SIZE, run_before=mid_run)


def test_eval_finished_snapshot(snap_compare: Any, paths: Paths, fake: FakeProxy) -> None:
    async def done(pilot: Pilot[None]) -> None:
        await finished(pilot, fake)

    app, _ = app_with(ready(paths), fake)
    assert snap_compare(app, terminal_size=SIZE, run_before=done)


def test_eval_failed_case_snapshot(snap_compare: Any, paths: Paths, fake: FakeProxy) -> None:
    async def inspected(pilot: Pilot[None]) -> None:
        screen = await finished(pilot, fake)
        screen.tabs.active = "tab-failed"
        screen.failed.focus()
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: screen.detail.record is not None)

    app, _ = app_with(ready(paths), fake)
    assert snap_compare(app, terminal_size=SIZE, run_before=inspected)


def test_eval_not_set_up_snapshot(snap_compare: Any, paths: Paths, fake: FakeProxy) -> None:
    async def opened(pilot: Pilot[None]) -> None:
        await open_eval(pilot)

    app, _ = app_with(replace(paths, data_dir=NO_SETUP), fake)
    assert snap_compare(app, terminal_size=SIZE, run_before=opened)


def test_eval_compare_snapshot(snap_compare: Any, paths: Paths, fake: FakeProxy) -> None:
    folder = paths.ensure(evals_state_dir(paths), private=True)

    async def compared(pilot: Pilot[None]) -> None:
        doc, _ = await fixed_run(fake)
        # B: the same run with every failed case passing, at another seed
        better = json.loads(json.dumps(doc))
        better.update(name="20261201-180200-smollm2-135m")
        better["config"]["seed"] = 8
        for r in better["records"]:
            r["valid"] = True if r["valid"] is False else r["valid"]
        for c in better["summary"]:
            c["passed"], c["failed"] = c["scored"], 0
            c["accuracy"] = 1.0 if c["scored"] else None
        for d in (doc, better):
            (folder / f"{d['name']}.json").write_text(json.dumps(d))
        screen = await open_eval(pilot)
        await until(pilot, lambda: screen.runs.row_count == 2)
        screen.tabs.active = "tab-runs"
        screen.runs.focus()
        await pilot.pause()
        await pilot.press("up", "space", "down", "space", "c")
        await until(pilot, lambda: screen.compared.row_count > 0)

    app, _ = app_with(ready(paths), fake)
    assert snap_compare(app, terminal_size=SIZE, run_before=compared)
