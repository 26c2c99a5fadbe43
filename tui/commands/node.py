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
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node, NodeStatus
from naptha_tui.tui.commands import print_json, say, say_err, warn, with_node
from naptha_tui.tui.format import age, table

SERVER_HEADER = ("NAME", "PRESET", "MODEL", "RUNTIME", "PORT", "PID", "STATUS", "UPTIME", "REASON")


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
    node_status: NodeStatus = with_node(paths, settings, lambda node: node.status())
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
            s.reason or "",
        )
        for s in node_status.servers
    ]
    print(table(rows, SERVER_HEADER) if rows else "no servers")
    p = node_status.proxy
    print(
        f"\nproxy  {p.url}/v1  {p.status}"
        + (f"  pid {p.pid}" if p.pid else "")
        + (f"  ({p.reason})" if p.reason and p.status != "ready" else "")
        + f"\nkey    {p.key_file}"
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
