from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from naptha_tui.backends.servers import procs

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "subprocess.Popen([sys.executable, '-c', 'import signal,time; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'])\n"
        "time.sleep(60)\n"
    ),
]


def test_spawn_own_session_and_log(tmp_path: Path) -> None:
    proc = procs.spawn(SLEEPER, tmp_path / "x.log", os.environ, tmp_path)
    try:
        assert os.getsid(proc.pid) == proc.pid != os.getsid(0)
        deadline = time.time() + 5
        while "up" not in (tmp_path / "x.log").read_text() and time.time() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "x.log").read_text().strip() == "up"
        assert procs.find_ours(proc.pid, proc.create_time(), SLEEPER) is not None
    finally:
        asyncio.run(procs.terminate(proc, 2.0))


def test_recycled_pid_is_not_ours(tmp_path: Path) -> None:
    proc = procs.spawn(SLEEPER, tmp_path / "x.log", os.environ, tmp_path)
    try:
        # same pid, another start time: a different process that got our old pid
        assert procs.find_ours(proc.pid, proc.create_time() - 3600, SLEEPER) is None
        # same pid and time, another command line
        assert procs.find_ours(proc.pid, proc.create_time(), ["/usr/bin/other"]) is None
    finally:
        asyncio.run(procs.terminate(proc, 2.0))
    assert procs.find_ours(proc.pid, proc.create_time(), SLEEPER) is None


def test_a_command_line_that_cannot_be_read_mid_exec_is_still_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two execs /proc/PID/cmdline may not read; the pid and start time still say
    it is ours, so a stop right after a launch stops it (it once ran on, holding its port)."""
    proc = procs.spawn(SLEEPER, tmp_path / "x.log", os.environ, tmp_path)
    try:

        def unreadable(self: psutil.Process) -> list[str]:
            raise psutil.NoSuchProcess(self.pid)  # what psutil raises on an empty read

        monkeypatch.setattr(psutil.Process, "cmdline", unreadable)
        found = procs.find_ours(proc.pid, proc.create_time(), SLEEPER)
        assert found is not None and found.pid == proc.pid
        # not a way round the start time: another process's pid is still not ours
        assert procs.find_ours(proc.pid, proc.create_time() - 3600, SLEEPER) is None
        monkeypatch.undo()
        asyncio.run(procs.terminate(proc, 2.0))
        assert procs.find_ours(proc.pid, proc.create_time(), SLEEPER) is None
    finally:
        if proc.is_running():
            asyncio.run(procs.terminate(proc, 2.0))


def test_terminate_kills_whole_group_after_grace(tmp_path: Path) -> None:
    proc = procs.spawn(STUBBORN, tmp_path / "x.log", os.environ, tmp_path)
    deadline = time.time() + 10
    while not proc.children() and time.time() < deadline:
        time.sleep(0.05)
    child = proc.children()[0]
    started = time.monotonic()
    killed = asyncio.run(procs.terminate(proc, 0.5))
    assert killed  # SIGTERM was ignored, SIGKILL was needed
    assert time.monotonic() - started < 8
    _, alive = psutil.wait_procs([child], timeout=5)
    assert alive == []
