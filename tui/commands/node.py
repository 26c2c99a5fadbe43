"""up, down, status, logs and proxy render: what runs on this node."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from rich.text import Text

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import PresetCatalog
from naptha_tui.backends.servers.logs import follow, tail
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.cpu import this_cpu
from naptha_tui.backends.telemetry.gpu import GpuUnavailable
from naptha_tui.proxy.node import Node, NodeStatus
from naptha_tui.tui.commands import print_json, say, say_err, warn, with_node
from naptha_tui.tui.format import age, cpu_line, gib, held, metric_cells, table

SERVER_HEADER = (
    "NAME",
    "PRESET",
    "MODEL",
    "RUNTIME",
    "DTYPE",
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


def _plain_metrics(m: dict[str, float | None] | None) -> list[str]:
    """The panel's metric cells without their colours."""
    return [c.plain if isinstance(c, Text) else c for c in metric_cells(m)]


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
            s.dtype or "-",
            s.port,
            s.pid or "-",
            s.status,
            age(s.uptime_s),
            held(s.gpu_memory_bytes, s.rss_bytes),
            *_plain_metrics(s.metrics),
            s.reason or "",
        )
        for s in node_status.servers
    ]
    print(table(rows, SERVER_HEADER) if rows else "no servers")
    for s in node_status.servers:
        if s.dtype_reason and s.runtime == "cpu":
            print(f"{s.name}: dtype {s.dtype} ({s.dtype_reason})")
    h = node_status.host
    if h is not None:
        print(
            f"\nhost   {h.cpu_count} CPU {h.cpu_pct:.0f}%  RAM {gib(h.memory_used, h.memory_total)}"
            f"  ({h.memory_available / 2**30:.1f} GiB available)"
        )
        print(f"cpu    {cpu_line(this_cpu())}")
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
        say(report.summary())
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
