"""up, down, status, logs and proxy render: what runs on this node."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import PresetCatalog
from naptha_tui.backends.servers.logs import follow, tail
from naptha_tui.backends.servers.supervisor import ServerStatus
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.gpu import GpuUnavailable
from naptha_tui.proxy.node import Node, NodeStatus
from naptha_tui.tui.commands import print_json, say, say_err, warn, with_node
from naptha_tui.tui.format import age, gib, table

SERVER_HEADER = (
    "NAME",
    "PRESET",
    "MODEL",
    "RUNTIME",
    "PORT",
    "PID",
    "STATUS",
    "UPTIME",
    "MEMORY",
    "RUN",
    "WAIT",
    "KV",
    "TOK/S",
    "TTFT P50/P95",
    "REASON",
)


def _memory(s: ServerStatus) -> str:
    """GPU memory when it holds some, else the RSS of its process tree."""
    if s.gpu_memory_bytes:
        return f"{_size(s.gpu_memory_bytes)} GPU"
    return _size(s.rss_bytes) if s.rss_bytes else "-"


def _size(n: int) -> str:
    return f"{n / 2**30:.1f}G" if n >= 2**30 else f"{n / 2**20:.0f}M"


def _metric_cells(m: dict[str, float | None] | None) -> tuple[str, str, str, str, str]:
    """RUN, WAIT, KV, TOK/S and TTFT for the table; '-' where not known."""
    m = m or {}

    def num(key: str, fmt: str) -> str:
        value = m.get(key)
        return format(value, fmt) if value is not None else "-"

    ttft = f"{num('ttft_p50_ms', '.0f')}/{num('ttft_p95_ms', '.0f')}"
    kv = m.get("kv_cache_usage")
    return (
        num("running", ".0f"),
        num("waiting", ".0f"),
        f"{kv:.0%}" if kv is not None else "-",
        num("generation_tokens_per_s", ".1f"),
        ttft if ttft != "-/-" else "-",
    )


def up(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    catalog = PresetCatalog(paths.user_presets_dir)
    presets = [catalog.get(name) for name in args.presets]
    progress = say_err if args.json else say
    status = with_node(paths, settings, lambda node: node.up(presets, progress))
    if args.json:
        print_json(status.to_json())
    else:
        say(f"endpoint: {status.proxy.url}/v1  (master key: {status.proxy.key_file})")
    return 0


def down(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    stopped = with_node(paths, settings, lambda node: node.down(args.names))
    if args.json:
        print_json({"stopped": stopped})
    else:
        say(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def status(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    async def two_scrapes(node: Node) -> NodeStatus:
        if args.window > 0:  # the first scrape opens the window the second one closes
            await node.observe()
            await asyncio.sleep(args.window)
        return await node.status()

    node_status: NodeStatus = with_node(paths, settings, two_scrapes)
    if args.json:
        print_json(node_status.to_json())  # the warnings are in it
        return 0
    for warning in node_status.warnings:
        warn(warning)
    rows = [
        (
            s.name,
            s.preset or "-",
            s.served_model_name or "-",
            s.runtime or "-",
            s.port,
            s.pid or "-",
            s.status,
            age(s.uptime_s),
            _memory(s),
            *_metric_cells(s.metrics),
            s.reason or "",
        )
        for s in node_status.servers
    ]
    print(table(rows, SERVER_HEADER) if rows else "no servers")
    h = node_status.host
    if h is not None:
        print(
            f"\nhost   {h.cpu_count} CPU {h.cpu_pct:.0f}%  RAM {gib(h.memory_used, h.memory_total)}"
            f"  ({h.memory_available / 2**30:.1f} GiB available)"
        )
    gpus = node_status.gpus
    if isinstance(gpus, GpuUnavailable):
        print(f"gpu    none ({gpus.reason})")
    elif gpus:
        for g in gpus:
            known = g.memory_total is not None and g.memory_used is not None
            used = gib(g.memory_used or 0, g.memory_total or 0) if known else "memory N/A"
            print(f"gpu {g.index}  {g.name}  {used}" + (f"  ({g.error})" if g.error else ""))
    p = node_status.proxy
    print(
        f"\nproxy  {p.url}/v1  {p.status}"
        + (f"  pid {p.pid}" if p.pid else "")
        + (f"  ({p.reason})" if p.reason and p.status != "ready" else "")
        + f"\nkey    {p.key_file}"
    )
    return 0


def swap(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    progress = say_err if args.json else say
    report = with_node(
        paths, settings, lambda node: node.swap(args.running, args.preset, progress, args.timeout)
    )
    if args.json:
        print_json(report.to_json())
    else:
        say(
            f"swapped: {report.old} {report.old_action}, {', '.join(report.new)} "
            f"{report.new_action} in {report.total_s:.1f} s"
        )
    return 0


def logs(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    path = paths.log_dir / f"{args.name}.log"
    if not path.exists():
        known = (
            sorted(p.stem for p in paths.log_dir.glob("*.log")) if paths.log_dir.exists() else []
        )
        raise NapthaError(
            f"no log for {args.name!r} in {paths.log_dir} (known: {', '.join(known) or 'none'})"
        )
    if not args.follow:
        print("\n".join(tail(path, args.lines)))
        return 0

    async def run() -> None:
        async for line in follow(path, args.lines):
            print(line, flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def proxy_render(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    catalog = PresetCatalog(paths.user_presets_dir)
    presets = [catalog.get(name) for name in args.presets]

    async def render(node: Node) -> str:
        return node.proxy.render(await node.planned_deployments(presets))

    sys.stdout.write(with_node(paths, settings, render))
    return 0
