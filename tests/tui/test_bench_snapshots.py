"""SVG snapshots of the Bench screen in fixed states (regenerate: pytest --snapshot-update).

A live run is not deterministic, so each state is fed to the screen's rendering methods
(``begin``, ``show_progress``, ``show_result``) as the run's messages would; the fake vLLM
only lists the model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from naptha_tui.backends.loadgen.fields import read_form
from naptha_tui.backends.loadgen.results import bench_dir
from naptha_tui.backends.paths import Paths
from naptha_tui.tui.screens.bench import BenchScreen
from tests.tui.bench_common import (
    SIZE,
    FakeVllm,
    app_with,
    fake_vllm,
    fill,
    open_bench,
    progress,
    result,
    sweep_result,
)
from tests.tui.test_dashboard import until, workers_done


@pytest.fixture
def fake() -> Iterator[FakeVllm]:
    with fake_vllm() as f:
        yield f


async def running(pilot: Pilot[None], snapshots: int = 40) -> BenchScreen:
    screen = await open_bench(pilot)
    fill(screen, num_prompts="200", max_concurrency="8", goodput="ttft:500")
    await pilot.pause()
    screen.begin(read_form(screen.form.values()), "proxy")
    for i in range(1, snapshots + 1):
        screen.show_progress(progress(i))
    await pilot.pause()
    return screen


def test_bench_running_snapshot(snap_compare: Any, paths: Paths, fake: FakeVllm) -> None:
    app, _ = app_with(paths, fake.url)
    assert snap_compare(app, terminal_size=SIZE, run_before=running)


def test_bench_finished_snapshot(snap_compare: Any, paths: Paths, fake: FakeVllm) -> None:
    async def finished(pilot: Pilot[None]) -> None:
        screen = await running(pilot, snapshots=66)
        screen.show_result(result())
        await workers_done(pilot, "saved-runs")  # a result with a name lists the runs again

    app, _ = app_with(paths, fake.url)
    assert snap_compare(app, terminal_size=SIZE, run_before=finished)


def test_bench_finished_sweep_snapshot(snap_compare: Any, paths: Paths, fake: FakeVllm) -> None:
    async def swept(pilot: Pilot[None]) -> None:
        screen = await open_bench(pilot)
        screen.form.sweep.value = True
        fill(screen, runs="5", num_prompts="40")
        await pilot.pause()
        screen.begin(read_form(screen.form.values()), "proxy")
        screen.stage("rate 7.80", 5, 5)
        for i in range(1, 14):
            screen.show_progress(progress(i, total=40))
        screen.show_result(sweep_result())
        await workers_done(pilot, "saved-runs")  # a result with a name lists the runs again

    app, _ = app_with(paths, fake.url)
    assert snap_compare(app, terminal_size=SIZE, run_before=swept)


def test_bench_saved_runs_snapshot(snap_compare: Any, paths: Paths, fake: FakeVllm) -> None:
    folder = paths.ensure(bench_dir(paths), private=True)
    for doc in (result(), {**result(cancelled=True), "name": "20261201-180200-proxy"}):
        (folder / f"{doc['name']}.json").write_text(json.dumps(doc))
    (folder / f"{sweep_result()['name']}.json").write_text(json.dumps(sweep_result()))

    async def listed(pilot: Pilot[None]) -> None:
        screen = await open_bench(pilot)
        await until(pilot, lambda: screen.runs.row_count == 3)
        screen.tabs.active = "tab-runs"
        screen.runs.focus()
        await pilot.pause()
        await pilot.press("up", "up", "space", "down", "down", "space")
        await until(pilot, lambda: len(screen.runs.marked) == 2)

    app, _ = app_with(paths, fake.url)
    assert snap_compare(app, terminal_size=SIZE, run_before=listed)
