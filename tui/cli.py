"""The `naptha-tui` command line: the panel by default, headless commands otherwise.

Textual is imported only when the panel opens, so scripted commands start fast.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from naptha_tui.backends.checks.preset_check import check_presets, exit_code, summary
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import PresetCatalog
from naptha_tui.backends.runtimes.models import EMBEDDED, is_prepared, prepare
from naptha_tui.backends.runtimes.runtime import SPECS, all_runtimes, get_runtime, install
from naptha_tui.backends.servers.logs import follow, tail
from naptha_tui.backends.settings import Settings, load_settings
from naptha_tui.proxy.node import Node
from naptha_tui.proxy.process import ProxyManager
from naptha_tui.proxy.routes import RouteEvent, load_feed


def _say(line: str) -> None:
    print(line, flush=True)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def cmd_up(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    catalog = PresetCatalog(paths.user_presets_dir)
    presets = [catalog.get(name) for name in args.presets]

    async def run() -> None:
        node = Node(paths, settings)
        try:
            status = await node.up(presets, _say)
        finally:
            await node.aclose()
        _say(f"endpoint: {status.proxy.url}/v1  (master key: {status.proxy.key_file})")

    asyncio.run(run())
    return 0


def cmd_down(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    async def run() -> list[str]:
        node = Node(paths, settings)
        try:
            return await node.down(args.names)
        finally:
            await node.aclose()

    stopped = asyncio.run(run())
    _say(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    async def run() -> Any:
        node = Node(paths, settings)
        try:
            return await node.status()
        finally:
            await node.aclose()

    status = asyncio.run(run())
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
        return 0
    rows = [
        (
            s.name,
            s.preset or "-",
            s.served_model_name or "-",
            s.runtime or "-",
            s.port,
            s.pid or "-",
            s.status,
            _age(s.uptime_s),
            s.reason or "",
        )
        for s in status.servers
    ]
    print(
        _table(
            rows,
            ("NAME", "PRESET", "MODEL", "RUNTIME", "PORT", "PID", "STATUS", "UPTIME", "REASON"),
        )
        if rows
        else "no servers"
    )
    p = status.proxy
    print(
        f"\nproxy  {p.url}/v1  {p.status}"
        + (f"  pid {p.pid}" if p.pid else "")
        + (f"  ({p.reason})" if p.reason and p.status != "ready" else "")
        + f"\nkey    {p.key_file}"
    )
    return 0


def cmd_logs(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
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


def cmd_presets(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    catalog = PresetCatalog(paths.user_presets_dir)
    if args.action == "list":
        presets, errors = catalog.load_all()
        rows = [(p.name, p.runtime, p.model, p.source) for p in presets]
        print(_table(rows, ("NAME", "RUNTIME", "MODEL", "FILE")))
        for err in errors:
            print(f"invalid: {err}", file=sys.stderr)
        return 1 if errors else 0
    if args.action == "show":
        if len(args.targets) != 1:
            raise NapthaError("presets show needs exactly one NAME")
        preset = catalog.get(args.targets[0])
        print(json.dumps(preset.model_dump(mode="json", exclude_none=True), indent=2))
        return 0
    return cmd_presets_check(args, paths, settings)


def cmd_presets_check(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    reports = check_presets(
        args.targets, paths, settings, runtime=args.runtime, static_only=args.static
    )
    if args.json:
        doc = {
            "problems": [p.to_json() for r in reports for p in r.problems],
            "presets": [r.to_json() for r in reports],
        }
        print(json.dumps(doc, indent=2))
        return exit_code(reports)
    for r in reports:
        if r.ok:
            what = f"preset {r.preset}, model {r.model}, runtime {r.runtime or '-'}"
            _say(f"{r.file}: ok ({what}) [{r.source}]")
        for problem in r.problems:
            print(problem, file=sys.stderr if problem.kind == "invalid" else sys.stdout)
    _say(summary(reports))
    return exit_code(reports)


def cmd_runtime(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.action == "install":
        started = time.monotonic()
        info = install(get_runtime(args.name, paths, settings), _say, force=args.force)
        _say(f"({time.monotonic() - started:.1f} s)")
        return 0 if info.ready else 1
    infos = [r.info() for r in all_runtimes(paths, settings)]
    if args.json:
        print(json.dumps([{**vars(i), "location": str(i.location)} for i in infos], indent=2))
        return 0
    rows = [
        (
            i.name,
            i.kind,
            "ready" if i.ready else "not ready",
            i.version or "-",
            i.location,
            i.detail,
        )
        for i in infos
    ]
    print(_table(rows, ("NAME", "KIND", "STATE", "VERSION", "LOCATION", "DETAIL")))
    return 0


def cmd_model(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.action == "list":
        rows = [
            (m.name, "prepared" if is_prepared(paths, m.name) else "not prepared", m.description)
            for m in EMBEDDED.values()
        ]
        print(_table(rows, ("NAME", "STATE", "DESCRIPTION")))
        return 0
    started = time.monotonic()
    prepare(paths, args.name, get_runtime(args.runtime, paths, settings), _say)
    _say(f"({time.monotonic() - started:.1f} s)")
    return 0


def cmd_proxy(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    catalog = PresetCatalog(paths.user_presets_dir)
    presets = [catalog.get(name) for name in args.presets]

    async def run() -> str:
        node = Node(paths, settings)
        try:
            return node.proxy.render(await node.planned_deployments(presets))
        finally:
            await node.aclose()

    print(asyncio.run(run()), end="")
    return 0


def _route_row(e: RouteEvent) -> tuple[str, ...]:
    return (
        time.strftime("%H:%M:%S", time.localtime(e.t)),
        e.model_group or "-",
        e.deployment or "-",
        e.status,
        f"{e.latency_ms:.0f}" if e.latency_ms is not None else "-",
        f"{e.ttft_ms:.0f}" if e.ttft_ms is not None else "-",
        f"{e.tokens_in or 0}/{e.tokens_out or 0}",
        str(e.retries),
        (e.error or "")[:60],
    )


ROUTE_HEADER = ("TIME", "MODEL", "DEPLOYMENT", "STATUS", "MS", "TTFT", "IN/OUT", "RETRIES", "ERROR")


def cmd_routes(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    feed = ProxyManager(paths, settings).feed_file
    stats, reader = load_feed(feed)

    def emit(events: Sequence[RouteEvent], header: bool) -> None:
        if args.json:
            for e in events:
                print(json.dumps(e.to_json()), flush=True)
        elif events:
            text = _table([_route_row(e) for e in events], ROUTE_HEADER)
            print(text if header else "\n".join(text.splitlines()[1:]), flush=True)

    last = list(stats.recent)[-args.lines :] if args.lines else []
    emit(last, True)
    if not args.follow:
        if not args.json:
            rows = [
                (
                    r.deployment,
                    r.model_group or "-",
                    r.requests,
                    r.errors,
                    r.in_flight,
                    f"{r.p50_ms:.0f}" if r.p50_ms is not None else "-",
                    f"{r.p95_ms:.0f}" if r.p95_ms is not None else "-",
                )
                for r in stats.rows()
            ]
            print(
                "\n"
                + (
                    _table(
                        rows, ("DEPLOYMENT", "MODEL", "REQS", "ERRORS", "IN FLIGHT", "P50", "P95")
                    )
                    if rows
                    else f"no requests in {feed}"
                )
            )
        if stats.bad_lines:
            print(f"skipped {stats.bad_lines} malformed feed line(s) in {feed}", file=sys.stderr)
        return 0
    try:
        while True:
            time.sleep(0.5)
            emit(stats.add_lines(reader.read_new()), not last)
    except KeyboardInterrupt:
        return 0


def cmd_panel(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    from naptha_tui.tui.app import make_app  # Textual loads only here

    make_app(paths, settings, up=args.up or ()).run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="naptha-tui",
        description="Control panel for a local LLM inference node (vLLM + LiteLLM proxy). "
        "With no command, opens the panel.",
    )
    parser.add_argument(
        "--up",
        nargs="+",
        metavar="PRESET",
        help="open the panel and start these presets and the proxy",
    )
    parser.set_defaults(func=cmd_panel)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("up", help="start servers from presets, then the proxy; wait until ready")
    p.add_argument("presets", nargs="+", metavar="PRESET")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("down", help="stop servers (all, and the proxy, when none are named)")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.set_defaults(func=cmd_down)

    p = sub.add_parser("status", help="servers and proxy")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("logs", help="a server's log (NAME 'proxy' for the proxy)")
    p.add_argument("name")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--lines", type=int, default=50)
    p.set_defaults(func=cmd_logs)

    p = sub.add_parser(
        "presets",
        help="list | show NAME | check [NAME_OR_FILE ...]",
        description="check: would vLLM accept each preset (all of them without names)? "
        "Flags are checked against the preset's runtime when it is installed, else against a "
        "table of removed flags. Exit code 1 when a preset has problems, 2 when one does not load.",
    )
    p.add_argument("action", choices=("list", "show", "check"))
    p.add_argument("targets", nargs="*", metavar="NAME_OR_FILE")
    p.add_argument("--runtime", help="check: against this runtime instead of each preset's own")
    p.add_argument("--static", action="store_true", help="check: only the static table")
    p.add_argument("--json", action="store_true", help="check: the problems as JSON")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("runtime", help="install cpu|cuda|proxy | status")
    p.add_argument("action", choices=("install", "status"))
    p.add_argument("name", nargs="?", choices=sorted(SPECS))
    p.add_argument("--force", action="store_true", help="reinstall even if ready")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_runtime)

    p = sub.add_parser("proxy", help="render [PRESET ...]: the config `up` would give LiteLLM")
    p.add_argument("action", choices=("render",))
    p.add_argument("presets", nargs="*", metavar="PRESET")
    p.set_defaults(func=cmd_proxy)

    p = sub.add_parser("routes", help="where the proxy sent each request (the routing feed)")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--lines", type=int, default=20, help="recent requests to show")
    p.add_argument("--json", action="store_true", help="one JSON object per request")
    p.set_defaults(func=cmd_routes)

    p = sub.add_parser("model", help="prepare NAME | list")
    p.add_argument("action", choices=("prepare", "list"))
    p.add_argument("name", nargs="?", choices=sorted(EMBEDDED))
    p.add_argument("--runtime", default="cpu", help="runtime whose Python converts (default cpu)")
    p.set_defaults(func=cmd_model)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    needs_target = {
        "show": "NAME",
        "install": "a runtime name",
        "prepare": "a model name",
    }
    action = getattr(args, "action", None)
    if action in needs_target and not (
        getattr(args, "targets", None) or getattr(args, "name", None)
    ):
        parser.error(f"{action} needs {needs_target[action]}")
    paths = Paths.from_env()
    try:
        settings = load_settings(paths)
        code: int = args.func(args, paths, settings)
    except NapthaError as exc:
        print(f"naptha-tui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
