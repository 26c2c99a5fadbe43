"""bench: the load test, headless. A progress line while it runs, then vLLM's report."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import httpx

from naptha_tui.backends.endpoints import Access
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.loadgen.client import resolve_model
from naptha_tui.backends.loadgen.config import BenchConfig
from naptha_tui.backends.loadgen.fields import build
from naptha_tui.backends.loadgen.live import Progress
from naptha_tui.backends.loadgen.report import BENCH_RUNS, progress_line, result_lines
from naptha_tui.backends.loadgen.results import load_run
from naptha_tui.backends.loadgen.run import LoadTest
from naptha_tui.backends.loadgen.sweep import Sweep
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.lifecycle import Every, ctrl_c_cancels
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node
from naptha_tui.tui.commands import say_err
from naptha_tui.tui.commands.runs import compare_saved, list_saved, print_run


def config_from_args(args: argparse.Namespace, model: str) -> BenchConfig:
    """The run the flags describe; every problem named at once, nothing sent."""
    config, problems = build(lambda key: getattr(args, key), model)
    if problems:
        raise NapthaError("; ".join(problems))
    return config


def bench(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.agents and args.workload == "random":
        raise NapthaError("--agents goes with --workload agents, not random")
    config_from_args(args, args.model or "-")  # bad flags fail here, before the node is asked
    result = asyncio.run(_bench(args, paths, settings))
    return print_run(BENCH_RUNS, args, paths, result, args.label or result["target"]["label"])


async def _bench(args: argparse.Namespace, paths: Paths, settings: Settings) -> dict[str, Any]:
    async with Node(paths, settings) as node:
        access: Access = node.bench_access(args.target)
    async with httpx.AsyncClient() as client:
        model = await resolve_model(client, access, args.model)
    config = config_from_args(args, model)
    every = Every(say_err)

    def show(p: Progress) -> None:
        every(p.elapsed_s, progress_line(p))

    def stage(label: str, i: int, n: int) -> None:
        every.restart()
        say_err(f"sweep {i}/{n}: {label}")

    runner = Sweep(config, access, args.runs) if args.runs else LoadTest(config, access)
    with ctrl_c_cancels(runner, say_err):
        if isinstance(runner, Sweep):
            return await runner.run(stage, show)
        return await runner.run(show)


def bench_list(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    return list_saved(BENCH_RUNS, args, paths, lambda: "no saved bench runs")


def bench_compare(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    return compare_saved(BENCH_RUNS, args, paths)


def bench_show(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    doc = load_run(paths, args.run)
    print(json.dumps(doc) if args.json else "\n".join(result_lines(doc)))
    return 0
