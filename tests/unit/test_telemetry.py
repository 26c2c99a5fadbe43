"""GPU telemetry robust to NVML errors, memory per process tree, and the node's observer.

NVML cannot run here: its functions are replaced on the real ``pynvml`` module by ones that
raise the real ``NVMLError`` subclasses the way a driver does (NotSupported for one metric, a
lost GPU for one handle, an unknown error for a whole call). Process trees are real processes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import pynvml
import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry import gpu
from naptha_tui.backends.telemetry.host import tree_memory
from naptha_tui.proxy.node import Node
from tests.conftest import write_preset
from tests.fakes.node import FakeGpu

GIB = 2**30


@dataclass
class Proc:
    pid: int
    usedGpuMemory: int | None


@dataclass
class Mem:
    total: int
    used: int


@dataclass
class Util:
    gpu: int


def nvml_error(code: int) -> Exception:
    err: Exception = pynvml.NVMLError(code)  # the real class picks the subclass for the code
    return err


class FakeNvml:
    """Two GPUs; GPU 1's handle is lost; power is not supported on GPU 0."""

    def __init__(self) -> None:
        self.count_fails = False
        self.calls = 0

    def install(self, mp: pytest.MonkeyPatch) -> None:
        mp.setattr(pynvml, "nvmlInit", lambda: None)
        mp.setattr(pynvml, "nvmlDeviceGetCount", self.count)
        mp.setattr(pynvml, "nvmlDeviceGetHandleByIndex", self.handle)
        mp.setattr(pynvml, "nvmlDeviceGetName", lambda h: b"NVIDIA L4")
        mp.setattr(pynvml, "nvmlDeviceGetUUID", lambda h: f"GPU-{h}")
        mp.setattr(pynvml, "nvmlDeviceGetMemoryInfo", lambda h: Mem(24 * GIB, 10 * GIB))
        mp.setattr(pynvml, "nvmlDeviceGetUtilizationRates", lambda h: Util(55))
        mp.setattr(pynvml, "nvmlDeviceGetTemperature", lambda h, sensor: 61)
        mp.setattr(pynvml, "nvmlDeviceGetPowerUsage", self.power)
        mp.setattr(pynvml, "nvmlDeviceGetComputeRunningProcesses", self.compute)
        mp.setattr(pynvml, "nvmlDeviceGetGraphicsRunningProcesses", self.graphics)

    def count(self) -> int:
        self.calls += 1
        if self.count_fails:
            raise nvml_error(pynvml.NVML_ERROR_UNKNOWN)
        return 2

    def handle(self, index: int) -> int:
        if index == 1:
            raise nvml_error(pynvml.NVML_ERROR_GPU_IS_LOST)
        return index

    def power(self, handle: int) -> int:
        raise nvml_error(pynvml.NVML_ERROR_NOT_SUPPORTED)

    def compute(self, handle: int) -> list[Proc]:
        # 2**64 - 1 is NVML_VALUE_NOT_AVAILABLE (the driver would not say)
        return [Proc(100, 6 * GIB), Proc(101, 2 * GIB), Proc(300, 2**64 - 1)]

    def graphics(self, handle: int) -> list[Proc]:
        return [Proc(100, 6 * GIB)]  # a CUDA + GL process is listed twice


def test_one_failed_call_degrades_one_field_or_one_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeNvml().install(monkeypatch)
    report = gpu.GpuReader().read()
    assert isinstance(report, list) and len(report) == 2
    g0, g1 = report
    assert (g0.name, g0.memory_total, g0.utilization_pct, g0.temperature_c) == (
        "NVIDIA L4",
        24 * GIB,
        55,
        61,
    )
    assert g0.power_w is None and g0.error is None  # NotSupported: N/A
    assert g0.memory_free == 14 * GIB
    assert [(p.pid, p.used_bytes) for p in g0.processes] == [
        (100, 6 * GIB),
        (101, 2 * GIB),
        (300, None),
    ]
    assert g1.error is not None and "GPU is lost" in g1.error and g1.memory_total is None


def test_a_failing_loop_keeps_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml()
    fake.install(monkeypatch)
    reader = gpu.GpuReader()
    fake.count_fails = True
    failed = reader.read()
    assert isinstance(failed, gpu.GpuUnavailable) and "NVML error" in failed.reason
    fake.count_fails = False
    assert isinstance(reader.read(), list)  # the next call reads again
    assert fake.calls == 2


def test_init_is_retried_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    tries = []

    def init() -> None:
        tries.append(now[0])
        if len(tries) == 1:
            raise pynvml.NVMLError_DriverNotLoaded()

    FakeNvml().install(monkeypatch)
    monkeypatch.setattr(pynvml, "nvmlInit", init)
    reader = gpu.GpuReader(clock=lambda: now[0])
    assert isinstance(reader.read(), gpu.GpuUnavailable)
    now[0] = 10.0
    assert isinstance(reader.read(), gpu.GpuUnavailable) and len(tries) == 1  # not every poll
    now[0] = gpu.RETRY_INIT_S + 1
    assert isinstance(reader.read(), list) and len(tries) == 2  # a driver loaded later is seen


def test_memory_is_attributed_to_servers_by_their_process_trees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakeNvml().install(monkeypatch)
    report = gpu.GpuReader().read()
    # pid 100 is the EngineCore of server a (its API server, 99, holds no GPU memory)
    held = gpu.attribute(report, {"a": (99, 100), "b": (101,), "idle": (7,)})
    assert held == {"a": {0: 6 * GIB}, "b": {0: 2 * GIB}}
    assert isinstance(report, list)
    assert gpu.others(report[0], held) == 2 * GIB  # 10 used - 8 ours
    assert gpu.attribute(gpu.GpuUnavailable("none"), {"a": (1,)}) == {}


def test_tree_memory_sums_the_whole_tree() -> None:
    # a parent and a child that holds ~64 MiB: the child's memory counts for the parent's tree
    code = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', "
        "'b = bytearray(64 * 2**20); import time; time.sleep(60)']); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        tree = tree_memory(proc.pid)
        while tree is None or len(tree.pids) < 2 or tree.rss_bytes < 64 * 2**20:
            assert time.monotonic() < deadline, tree
            time.sleep(0.1)
            tree = tree_memory(proc.pid)
        assert tree.pids[0] == proc.pid
    finally:
        subprocess.run(["pkill", "-P", str(proc.pid)], check=False)
        proc.kill()
        proc.wait()
    assert tree_memory(proc.pid) is None


async def test_status_carries_memory_and_the_metrics_window(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    import httpx

    write_preset(
        paths.user_presets_dir, "obs", "model: org/m\nruntime: fake\nserved_model_name: m-obs\n"
    )
    node = Node(paths, fake_runtime_settings, gpu=FakeGpu())
    try:
        for plan in node.supervisor.plan([node.catalog.get("obs")]):
            node.supervisor.launch(plan)
        [ready] = await node.supervisor.wait_ready(["obs"], 20, poll_s=0.2)
        assert ready.status == "ready"
        first = await node.status()
        record = node.state.load().servers["obs"]
        key = node.supervisor.keys.lookup(record.api_key_env)
        async with httpx.AsyncClient() as http:
            for _ in range(3):
                got = await http.post(
                    f"http://127.0.0.1:{record.port}/v1/chat/completions",
                    json={"model": "m-obs", "messages": [], "max_tokens": 5},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert got.status_code == 200
        second = await node.status()
    finally:
        await node.down()
        await node.aclose()
    [s0] = first.servers
    assert s0.rss_bytes and s0.rss_bytes > 1_000_000
    assert s0.metrics is not None and s0.metrics["requests_per_s"] is None  # no window yet
    [s1] = second.servers
    m: dict[str, Any] = s1.metrics or {}
    assert round(m["requests_per_s"] * m["window_s"], 6) == 3
    assert round(m["generation_tokens_per_s"] * m["window_s"], 6) == 15
    assert m["e2el_p50_ms"] is not None
    doc = second.to_json()
    assert doc["servers"][0]["rss_bytes"] == s1.rss_bytes
    assert doc["servers"][0]["gpu_memory_bytes"] is None  # no GPU here
    assert doc["gpus"] == {
        "available": False,
        "reason": "NVML library not found (no NVIDIA driver installed)",
        "devices": [],
    }
    assert doc["models"]["m-obs"]["requests_per_s"] == m["requests_per_s"]
    assert doc["host"]["memory_total"] > 0


async def test_a_garbled_or_missing_metrics_page_is_na_not_a_crash(
    paths: Paths, fake_runtime_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_preset(paths.user_presets_dir, "bad", "model: org/m\nruntime: fake\n")
    node = Node(paths, fake_runtime_settings, gpu=FakeGpu())
    pages = iter(["garbage {{{ not prometheus", None])

    async def scrape(record: object) -> str | None:
        return next(pages)

    monkeypatch.setattr(node.observer, "scrape", scrape)
    try:
        for plan in node.supervisor.plan([node.catalog.get("bad")]):
            node.supervisor.launch(plan)
        await node.supervisor.wait_ready(["bad"], 20, poll_s=0.2)
        for _ in range(2):
            status = await node.status()
            [s] = status.servers
            assert s.status == "ready" and s.metrics is None and s.rss_bytes
    finally:
        await node.down()
        await node.aclose()


async def test_model_lists_are_reused_while_the_server_is_the_same() -> None:
    import httpx

    from naptha_tui.backends.servers.health import ModelLists

    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "m"}]})
        return httpx.Response(200)

    lists = ModelLists(relist_s=60)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        url = "http://127.0.0.1:1"
        first = await lists.probe(client, url, identity=("pid", 1))
        again = await lists.probe(client, url, identity=("pid", 1))
        restarted = await lists.probe(client, url, identity=("pid", 2))
    assert first.models == again.models == restarted.models == ("m",)
    assert asked == ["/health", "/v1/models", "/health", "/health", "/v1/models"]


def test_tree_watch_rescans_rarely_and_drops_the_gone() -> None:
    from naptha_tui.backends.telemetry.host import TreeWatch

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        watch = TreeWatch(rescan_s=10)
        first = watch.read([proc.pid], now=0.0)
        again = watch.read([proc.pid], now=5.0)  # from the known pids, no scan
        assert first[proc.pid].pids == again[proc.pid].pids == (proc.pid,)
        assert again[proc.pid].rss_bytes > 0
    finally:
        proc.kill()
        proc.wait()
    assert watch.read([proc.pid], now=6.0) == {}


async def test_an_idle_server_is_scraped_less_often(
    paths: Paths, fake_runtime_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_preset(paths.user_presets_dir, "idle", "model: org/m\nruntime: fake\n")
    node = Node(paths, fake_runtime_settings, gpu=FakeGpu(), idle_scrape_s=60)
    scraped: list[str] = []
    real = node.observer.scrape

    async def counting(record: Any) -> str | None:
        scraped.append(record.name)
        return await real(record)

    monkeypatch.setattr(node.observer, "scrape", counting)
    try:
        for plan in node.supervisor.plan([node.catalog.get("idle")]):
            node.supervisor.launch(plan)
        await node.supervisor.wait_ready(["idle"], 20, poll_s=0.2)
        for _ in range(3):
            [s] = (await node.status()).servers
            assert s.metrics is not None and s.metrics["running"] == 0
    finally:
        await node.down()
        await node.aclose()
    assert scraped == ["idle"]  # idle: the first scrape's window serves the next two


async def test_health_is_asked_less_often_when_told() -> None:
    import httpx

    from naptha_tui.backends.servers.health import ModelLists

    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        body = {"data": [{"id": "m"}]} if request.url.path == "/v1/models" else None
        return httpx.Response(200, json=body)

    lists = ModelLists(relist_s=60, rehealth_s=60)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        for _ in range(3):
            assert (await lists.probe(client, "http://127.0.0.1:1", identity=1)).models == ("m",)
        await lists.probe(client, "http://127.0.0.1:1", identity=2)  # restarted: asked again
    assert asked == ["/health", "/v1/models", "/health", "/v1/models"]
