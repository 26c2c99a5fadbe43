"""One way a run goes: Ctrl-C cancels it (a second would quit), progress lines are spaced, and
the result is saved or says why not."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.lifecycle import Every, ctrl_c_cancels, keep
from naptha_tui.backends.runs.store import RunStore


class Job:
    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    def cancel(self) -> None:
        self.cancelled.set()

    async def run(self) -> dict[str, Any]:
        await self.cancelled.wait()
        return {"cancelled": True}


async def test_ctrl_c_cancels_the_run_and_keeps_its_result() -> None:
    said: list[str] = []
    job = Job()
    with ctrl_c_cancels(job, said.append):
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGINT)
        result = await asyncio.wait_for(job.run(), 5)
    assert result == {"cancelled": True}
    assert said == ["stopping: Ctrl-C again to quit at once"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back


def test_progress_lines_every_few_seconds_and_the_last_one() -> None:
    said: list[str] = []
    every = Every(said.append, seconds=2.0)
    for t in (0.5, 1.0, 2.1, 3.0, 4.2):
        every(t, f"at {t}")
    every(4.3, "done", now=True)
    every.restart()
    every(2.0, "stage 2")
    assert said == ["at 2.1", "at 4.2", "done", "stage 2"]


def test_a_result_is_kept_or_says_why_not(paths: Paths, tmp_path: Path) -> None:
    store = RunStore("tests", "test")
    result: dict[str, Any] = {"x": 1}
    assert keep(store, paths, result, "a") is None
    assert store.load(paths, result["name"]) == result
    blocked = tmp_path / "file"
    blocked.write_text("")
    stuck = replace(paths, state_dir=blocked)  # a file where the folder would be
    other: dict[str, Any] = {"x": 2}
    why = keep(store, stuck, other, "b")
    assert why is not None and why.startswith("not saved: ") and "name" not in other
