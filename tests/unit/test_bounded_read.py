"""A GPU read that blocks (a hung NVML call) never stalls a status: one read in flight, a bounded
wait, then the reason; the next status after it returns reads the GPUs again."""

from __future__ import annotations

import threading
import time

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.bounded import BoundedRead
from naptha_tui.backends.telemetry.gpu import GpuReport, GpuUnavailable
from naptha_tui.proxy.node import Node
from tests.fakes.node import TWO_GPUS


class HungGpu:
    """An NVML reader whose calls block until ``release`` is set (counted)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def read(self) -> GpuReport:
        self.calls += 1
        self.release.wait(30)
        return TWO_GPUS


async def test_a_blocked_read_is_waited_on_once_then_said_late() -> None:
    gpu = HungGpu()
    reader = BoundedRead(gpu.read, 0.2, lambda s: GpuUnavailable(f"late {s:.1f}"))
    try:
        began = time.monotonic()
        first = await reader()
        second = await reader()
        took = time.monotonic() - began
        assert isinstance(first, GpuUnavailable) and isinstance(second, GpuUnavailable)
        waited = [float(r.reason.split()[1]) for r in (first, second)]
        assert 0.2 <= waited[0] < waited[1]  # the second says how long the one read has taken
        assert 0.35 < took < 2.0  # two bounded waits, not the 30 s the read blocks
        assert gpu.calls == 1 and reader.in_flight  # the second caller joined the first read
    finally:
        gpu.release.set()
    assert await reader() == TWO_GPUS  # the read that was in flight, now done
    assert await reader() == TWO_GPUS and gpu.calls == 2  # and a fresh one after it


async def test_node_status_with_a_hung_gpu_says_so_and_returns(
    paths: Paths, settings: Settings
) -> None:
    gpu = HungGpu()
    node = Node(paths, settings, gpu=gpu)
    node.observer.gpu_read.timeout_s = 0.3
    try:
        began = time.monotonic()
        first = await node.status()
        again = await node.status()
        assert time.monotonic() - began < 5.0
        for status in (first, again):
            assert isinstance(status.gpus, GpuUnavailable)
            assert status.gpus.reason.startswith("NVML has not answered for ")
        assert gpu.calls == 1
        gpu.release.set()
        for _ in range(50):
            if not node.observer.gpu_read.in_flight:
                break
            time.sleep(0.05)
        assert (await node.status()).gpus == TWO_GPUS
    finally:
        gpu.release.set()
        await node.aclose()
