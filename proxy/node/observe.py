"""What each server holds and how it is doing: memory per process tree, GPU share, /metrics.

The node's :class:`Observer` adds to every probed server the resident memory of its process
tree, its GPU memory (NVML processes attributed by pid, workers included) and vLLM's metrics
over the window since the previous observation. Instances of one model are merged by summing
their histogram deltas (``merge``), never by averaging percentiles.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import httpx

from naptha_tui.backends.servers.keys import ServerKeys
from naptha_tui.backends.servers.remote import fetch_metrics
from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.backends.state import ProcessRecord
from naptha_tui.backends.telemetry.bounded import BoundedRead
from naptha_tui.backends.telemetry.gpu import GpuReader, GpuReport, GpuUnavailable, attribute
from naptha_tui.backends.telemetry.host import HostSample, TreeWatch, read_host
from naptha_tui.backends.telemetry.vllm_metrics import MetricsWatch, merge
from naptha_tui.backends.telemetry.vllm_scrape import Scrape
from naptha_tui.proxy.litellm.process import ProxyStatus


class GpuSource(Protocol):
    """A GPU reader (``GpuReader`` or a test double)."""

    def read(self) -> GpuReport: ...


@dataclasses.dataclass(frozen=True)
class Observation:
    """One round: the servers with their memory and metrics, the GPUs, the host."""

    servers: list[ServerStatus]
    gpus: GpuReport
    host: HostSample
    models: dict[str, dict[str, float | None]]
    """Per served model name, its local instances' metrics merged."""
    trees: dict[str, tuple[int, ...]]
    """Every pid of each local server's process tree."""


def gpu_json(report: GpuReport) -> dict[str, Any]:
    """The ``gpus`` part of ``status --json``."""
    if isinstance(report, GpuUnavailable):
        return {"available": False, "reason": report.reason, "devices": []}
    return {
        "available": True,
        "reason": None,
        "devices": [
            {
                **dataclasses.asdict(g),
                "memory_free": g.memory_free,
                "processes": [dataclasses.asdict(p) for p in g.processes],
            }
            for g in report
        ],
    }


GPU_READ_TIMEOUT_S = 5.0
"""How long a status waits for NVML before it says the GPUs are not answering."""


def _gpu_late(seconds: float) -> GpuReport:
    return GpuUnavailable(
        f"NVML has not answered for {seconds:.0f} s (a hung driver?); the GPUs are read again "
        "once it does"
    )


class Observer:
    """Adds memory and metrics to server statuses; keeps the previous scrape of each server."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        keys: ServerKeys,
        gpu: GpuSource | None = None,
        host: Callable[[], HostSample] = read_host,
        idle_scrape_s: float = 0.0,
    ) -> None:
        """An observer for the node's servers.

        Args:
            client: the node's HTTP client.
            keys: where the servers' keys are.
            gpu: the GPU reader (NVML's by default).
            host: the host reader.
            idle_scrape_s: scrape an idle server's /metrics only this often (0: every call).
                Idle is nothing running, waiting or finished in its last window; the panel
                sets a few seconds, a one-shot ``status`` scrapes every time.
        """
        self.client = client
        self.keys = keys
        self.gpu: GpuSource = gpu or GpuReader()
        self.gpu_read = BoundedRead(self.gpu.read, GPU_READ_TIMEOUT_S, _gpu_late)
        """The GPUs, never waited on longer than ``GPU_READ_TIMEOUT_S`` (a hung NVML call)."""
        self.read_host = host
        self.watch = MetricsWatch()
        self.trees = TreeWatch()
        self.idle_scrape_s = idle_scrape_s
        self._last: dict[str, tuple[float, tuple[Scrape | None, Scrape]]] = {}
        self._merged: dict[str, tuple[list[tuple[Scrape | None, Scrape]], dict[str, Any]]] = {}

    async def scrape(self, record: ProcessRecord) -> str | None:
        """The server's /metrics text, or None (no answer, not 200)."""
        key = self.keys.lookup(record.api_key_env)
        return await fetch_metrics(self.client, record.root_url, key)

    async def _metrics(self, record: ProcessRecord) -> tuple[Scrape | None, Scrape] | None:
        """The previous and this scrape; None when this one failed (no answer, garbled).

        An idle server scraped less than ``idle_scrape_s`` ago keeps its last window.
        """
        now = time.monotonic()
        last = self._last.get(record.name)
        if last is not None and now - last[0] < self.idle_scrape_s and _idle(last[1]):
            return last[1]
        text = await self.scrape(record)
        if self.watch.observe(record.name, text, now) is None:
            self._last.pop(record.name, None)
            return None
        pair = self.watch.pair(record.name)
        if pair is not None:
            self._last[record.name] = (now, pair)
        return pair

    async def observe(
        self, statuses: Sequence[ServerStatus], records: dict[str, ProcessRecord]
    ) -> Observation:
        """``statuses`` with memory and metrics filled in, plus the GPUs and the host."""
        local = [s for s in statuses if s.name in records and s.pid is not None]
        trees: dict[str, tuple[int, ...]] = {}
        rss: dict[str, int] = {}
        found = self.trees.read([s.pid for s in local if s.pid is not None], time.monotonic())
        for s in local:
            tree = found.get(s.pid or -1)
            if tree is not None:
                trees[s.name], rss[s.name] = tree.pids, tree.rss_bytes
        report, host = await asyncio.gather(self.gpu_read(), asyncio.to_thread(self.read_host))
        held = attribute(report, trees)
        scraped = [s for s in local if s.status == "ready"]
        pairs = dict(
            zip(
                [s.name for s in scraped],
                await asyncio.gather(*(self._metrics(records[s.name]) for s in scraped)),
                strict=True,
            )
        )
        out: list[ServerStatus] = []
        by_model: dict[str, list[tuple[Scrape | None, Scrape]]] = {}
        for s in statuses:
            extra: dict[str, Any] = {}
            if s.name in rss:
                extra["rss_bytes"] = rss[s.name]
            if not isinstance(report, GpuUnavailable) and s.name in trees:
                per_gpu = held.get(s.name, {})
                extra["gpu_memory"] = per_gpu
                extra["gpu_memory_bytes"] = sum(per_gpu.values())
            pair = pairs.get(s.name)
            if pair is not None:
                extra["metrics"] = self._merge(f"server {s.name}", [pair])
                by_model.setdefault(s.served_model_name or s.name, []).append(pair)
            out.append(dataclasses.replace(s, **extra) if extra else s)
        models = {m: self._merge(f"model {m}", found) for m, found in by_model.items()}
        return Observation(out, report, host, models, trees)

    def _merge(self, key: str, pairs: list[tuple[Scrape | None, Scrape]]) -> dict[str, Any]:
        """``merge(pairs)`` as JSON, computed again only when a pair is new.

        An idle server keeps its window between scrapes: its sums and percentiles stand.
        """
        last = self._merged.get(key)
        if last is not None and list(map(id, last[0])) == list(map(id, pairs)):  # the same ones
            return last[1]
        merged = merge(pairs).to_json()
        self._merged[key] = (pairs, merged)
        return merged


def _idle(pair: tuple[Scrape | None, Scrape]) -> bool:
    """Nothing running or waiting, and nothing finished in the window (or no window yet)."""
    prev, cur = pair
    busy = (cur.running or 0) > 0 or (cur.waiting or 0) > 0
    moved = prev is not None and cur.counters.get("requests") != prev.counters.get("requests")
    return not busy and not moved


@dataclass(frozen=True)
class NodeStatus:
    """Servers and proxy in one snapshot."""

    servers: list[ServerStatus]
    proxy: ProxyStatus
    warnings: tuple[str, ...] = ()
    """Things the operator must hear about (an unreadable state file, re-adopted servers)."""
    gpus: GpuReport | None = None
    host: HostSample | None = None
    models: dict[str, dict[str, float | None]] | None = None
    """Per served model, the metrics of its local instances merged (bucket deltas summed)."""

    def to_json(self) -> dict[str, Any]:
        """The `status --json` document."""
        return {
            "warnings": list(self.warnings),
            "host": asdict(self.host) if self.host else None,
            "gpus": gpu_json(self.gpus) if self.gpus is not None else None,
            "models": self.models or {},
            "proxy": {
                **asdict(self.proxy),
                "key_file": str(self.proxy.key_file),
                "log_path": str(self.proxy.log_path) if self.proxy.log_path else None,
                "models": list(self.proxy.models),
            },
            "servers": [
                {
                    **asdict(s),
                    "log_path": str(s.log_path) if s.log_path else None,
                    "base_url": s.base_url,
                }
                for s in self.servers
            ],
        }
