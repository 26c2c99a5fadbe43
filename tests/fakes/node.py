"""Fakes for the panel: a node, a GPU reader and a host reader with recorded-looking data."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.playground.run import ModelInfo, ServerAccess, Target
from naptha_tui.backends.presets import Preset, PresetCatalog
from naptha_tui.backends.servers.supervisor import ServerStatus
from naptha_tui.backends.telemetry.gpu import GpuReport, GpuSample, GpuUnavailable
from naptha_tui.backends.telemetry.host import HostSample
from naptha_tui.proxy.node import NodeStatus, Progress
from naptha_tui.proxy.process import ProxyStatus

GIB = 1024**3


def server(
    name: str = "smollm2-cpu", status: str = "ready", port: int = 8100, reason: str | None = None
) -> ServerStatus:
    return ServerStatus(
        name=name,
        status=status,
        preset=name,
        model="smollm2-135m",
        runtime="cpu",  # type: ignore[arg-type]
        served_model_name="smollm2-135m",
        host="127.0.0.1",
        port=port,
        pid=4242 if status in ("ready", "starting", "unhealthy") else None,
        uptime_s=754.0 if status != "stopped" else None,
        reason=reason,
        log_path=Path(f"/tmp/naptha-fake/{name}.log"),
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

    def __init__(
        self,
        servers: Sequence[ServerStatus] = (),
        proxy_status: ProxyStatus | None = None,
        catalog_dir: Path | None = None,
        feed_file: Path | None = None,
        metrics: dict[str, float] | None = None,
    ) -> None:
        self.servers = list(servers)
        self.proxy_status = proxy_status or proxy()
        self.catalog = PresetCatalog(catalog_dir)
        self.calls: list[tuple[str, str]] = []
        # tests that read the feed pass their own (under tmp_path); the default is never written
        self.feed_file = feed_file or Path(tempfile.gettempdir()) / "naptha-fake/proxy/routes.jsonl"
        self.metrics = metrics

    async def status(self) -> NodeStatus:
        return NodeStatus(list(self.servers), self.proxy_status, tuple(self.warnings))

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

    async def restart_server(self, name: str) -> ServerStatus:
        self.calls.append(("restart", name))
        self.servers = [server(name) if s.name == name else s for s in self.servers]
        return server(name)

    async def aclose(self) -> None:
        pass

    async def proxy_metrics(self) -> dict[str, float] | None:
        """LiteLLM's /metrics totals; None (the default) is a proxy without /metrics."""
        return self.metrics

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
    GpuSample(0, "NVIDIA H100 80GB HBM3", "GPU-0", 80 * GIB, 62 * GIB, 87, 61, 512.0),
    GpuSample(1, "NVIDIA H100 80GB HBM3", "GPU-1", 80 * GIB, 3 * GIB, 0, 34, 71.0),
]


def fake_host() -> HostSample:
    return HostSample(
        cpu_count=2, cpu_pct=37.5, memory_total=24 * GIB, memory_used=int(6.5 * GIB), load_1m=0.82
    )
