"""bench: the load test, headless. A progress line while it runs, then vLLM's report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from typing import Any

import httpx

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.loadgen.client import Access, resolve_model
from naptha_tui.backends.loadgen.config import BenchConfig
from naptha_tui.backends.loadgen.fields import build
from naptha_tui.backends.loadgen.live import Progress
from naptha_tui.backends.loadgen.metrics import report_lines
from naptha_tui.backends.loadgen.plot import sweep_plot
from naptha_tui.backends.loadgen.results import (
    compare,
    compare_lines,
    load_run,
    run_summaries,
    save_run,
)
from naptha_tui.backends.loadgen.run import LoadTest
from naptha_tui.backends.loadgen.sweep import Sweep
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.store import comparison
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node
from naptha_tui.tui.format import table


def config_from_args(args: argparse.Namespace, model: str) -> BenchConfig:
    """The run the flags describe; every problem named at once, nothing sent."""
    config, problems = build(lambda key: getattr(args, key), model)
    if problems:
        raise NapthaError("; ".join(problems))
    return config


def progress_line(p: Progress) -> str:
    def ms(v: float | None) -> str:
        return "—" if v is None else f"{v:.0f}"

    of = f"/{p.total}" if p.total else ""
    agents = f", agents {p.agents_done}/{p.agents}" if p.agents else ""
    return (
        f"[{p.elapsed_s:6.1f} s] {p.completed}{of} done, {p.failed} failed, "
        f"{p.in_flight} in flight, {p.request_rate:.2f} req/s{agents}; "
        f"TTFT p50 {ms(p.median_ttft_ms)} ms, TPOT p50 {ms(p.median_tpot_ms)} ms"
    )


def bench(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.agents and args.workload == "random":
        raise NapthaError("--agents goes with --workload agents, not random")
    config_from_args(args, args.model or "-")  # bad flags fail here, before the node is asked
    result = asyncio.run(_bench(args, paths, settings))
    label = args.label or result["target"]["label"]
    if not args.no_save:
        result["name"] = save_run(paths, result, label)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(result_lines(result)))
        if result.get("name"):
            print(f"saved as {result['name']} (bench show {result['name']})")
    return 0


async def _bench(args: argparse.Namespace, paths: Paths, settings: Settings) -> dict[str, Any]:
    async with Node(paths, settings) as node:
        access: Access = node.bench_access(args.target)
    async with httpx.AsyncClient() as client:
        model = await resolve_model(client, access, args.model)
    config = config_from_args(args, model)
    runner: LoadTest | Sweep
    last = [0.0]

    def show(p: Progress) -> None:
        if p.elapsed_s - last[0] >= 2.0:
            last[0] = p.elapsed_s
            print(progress_line(p), file=sys.stderr, flush=True)

    def stage(label: str, i: int, n: int) -> None:
        last[0] = 0.0
        print(f"sweep {i}/{n}: {label}", file=sys.stderr, flush=True)

    loop = asyncio.get_running_loop()
    runner = Sweep(config, access, args.runs) if args.runs else LoadTest(config, access)

    def interrupted() -> None:
        print("stopping: Ctrl-C again to quit at once", file=sys.stderr, flush=True)
        runner.cancel()
        loop.remove_signal_handler(signal.SIGINT)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, interrupted)
    try:
        if isinstance(runner, Sweep):
            return await runner.run(stage, show)
        return await runner.run(show)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


def result_lines(result: dict[str, Any]) -> list[str]:
    lines = report_lines(result)
    config = result.get("config") or {}
    target = result.get("target") or {}
    extra = [
        f"{'Target:':<40} {target.get('label')} ({target.get('base_url')})",
        f"{'Model:':<40} {config.get('model')}",
        f"{'Seed:':<40} {config.get('seed')}",
    ]
    if result.get("client_cpu_per_request_ms") is not None:
        extra.append(
            f"{'Client CPU per request (ms):':<40} {result['client_cpu_per_request_ms']:<10.2f}"
        )
        extra.append(f"{'Client CPU (% of one core):':<40} {result['client_cpu_percent']:<10.1f}")
    if result.get("agents"):
        a = result["agents"]
        extra.append(f"{'Agents finished:':<40} {a['finished']}/{a['total']} ({a['turns']} turns)")
    if result.get("cancelled"):
        extra.append(
            f"Stopped early: partial result ({result.get('incomplete', 0)} in flight dropped)"
        )
    per = result.get("per_deployment") or {}
    if len(per) > 1 or (per and "unknown" not in per):
        extra.append("")
        extra.append("Per deployment:")
        rows = [
            [
                name,
                str(d.get("completed")),
                str(d.get("failed")),
                f"{d.get('request_throughput', 0):.2f}",
                f"{d.get('median_ttft_ms', 0):.1f}",
                f"{d.get('median_tpot_ms', 0):.1f}",
            ]
            for name, d in sorted(per.items())
        ]
        extra += table(
            rows, ["DEPLOYMENT", "DONE", "FAILED", "REQ/S", "TTFT P50", "TPOT P50"]
        ).splitlines()
    if result.get("sweep"):
        extra.append("")
        extra += sweep_lines(result["sweep"])
        if result.get("sweep_note"):
            extra.append(f"Note: {result['sweep_note']}")
        extra += sweep_plot(result["sweep"], width=72, height=18).splitlines()
    return lines + extra


def sweep_lines(points: list[dict[str, Any]]) -> list[str]:
    rows = [
        [
            str(pt["stage"]),
            f"{pt.get('request_throughput') or 0:.2f}",
            f"{pt.get('median_ttft_ms') or 0:.0f}",
            f"{pt.get('median_tpot_ms') or 0:.1f}",
            f"{pt.get('median_e2el_ms') or 0:.0f}",
            str(pt.get("failed")),
        ]
        for pt in points
    ]
    return table(
        rows, ["STAGE", "REQ/S", "TTFT P50", "TPOT P50", "E2EL P50", "FAILED"]
    ).splitlines()


def bench_list(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    runs = run_summaries(paths)
    if args.json:
        print(json.dumps(runs))
        return 0
    if not runs:
        print("no saved bench runs")
        return 0

    def num(v: Any, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    rows = [
        [
            r["name"],
            str(r["model"]),
            str(r["workload"]) + (" sweep" if r["sweep"] else ""),
            f"{r['completed']}/{r['failed']}",
            num(r["request_throughput"], ".2f"),
            num(r["median_ttft_ms"], ".0f"),
            num(r["median_tpot_ms"], ".1f"),
            "stopped" if r["cancelled"] else "",
        ]
        for r in runs
    ]
    print(
        table(rows, ["RUN", "MODEL", "WORKLOAD", "OK/FAILED", "REQ/S", "TTFT P50", "TPOT P50", ""])
    )
    return 0


def bench_compare(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    a, b = load_run(paths, args.a), load_run(paths, args.b)
    if args.json:
        print(json.dumps(comparison(a, b, compare(a, b))))
    else:
        print("\n".join(compare_lines(a, b)))
    return 0


def bench_show(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    doc = load_run(paths, args.run)
    print(json.dumps(doc) if args.json else "\n".join(result_lines(doc)))
    return 0
