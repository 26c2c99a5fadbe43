"""eval: BFCL's cases through the node, headless. A progress line while it runs, then the
accuracy per category and temperature; setup, list, compare and show."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from naptha_tui.backends.evals.cases import check_categories
from naptha_tui.backends.evals.config import EvalConfig, EvalInputError
from naptha_tui.backends.evals.fields import build
from naptha_tui.backends.evals.records import Progress
from naptha_tui.backends.evals.report import (
    EVAL_RUNS,
    failed_lines,
    progress_line,
    summary_lines,
)
from naptha_tui.backends.evals.results import load_run, records
from naptha_tui.backends.evals.run import EvalRun
from naptha_tui.backends.evals.setup import BfclInstall, install, locate, require
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.lifecycle import Every, ctrl_c_cancels
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node
from naptha_tui.tui.commands import print_json, say_err
from naptha_tui.tui.commands.runs import compare_saved, list_saved, print_run


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    """The run the flags describe; every problem named at once, nothing sent."""
    config, problems = build(lambda key: getattr(args, key))
    if problems:
        raise EvalInputError("; ".join(problems))
    return config


def eval_run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    config = config_from_args(args)
    found = require(paths)  # before the node is asked: says to run `eval setup`
    check_categories(list(config.categories), found.data_dir)
    result = asyncio.run(_run(config, found, paths, settings))
    return print_run(EVAL_RUNS, args, paths, result, args.label or config.model)


async def _run(
    config: EvalConfig, found: BfclInstall, paths: Paths, settings: Settings
) -> dict[str, Any]:
    async with Node(paths, settings) as node:
        target = node.playground_target()
    async with EvalRun(config, target, found) as run:
        plan = await run.prepare()
        for case, exc in plan.skipped:
            say_err(f"naptha-tui: warning: {case.category} case {case.id} is skipped: {exc}")
        say_err(
            f"eval: {plan.planned} samples of {sum(len(c) for c in plan.cases.values())} "
            f"cases to {config.model} through {target.proxy_url}"
        )
        every = Every(say_err)

        def show(p: Progress) -> None:
            every(p.elapsed_s, progress_line(p), now=p.done == p.planned)

        with ctrl_c_cancels(run, say_err):
            return await run.run(show)


def eval_setup(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    found = install(paths, say_err if args.json else print_line, force=args.force)
    if args.json:
        print_json(found.to_json())
    return 0 if found.ready else 1


def print_line(line: str) -> None:
    print(line, flush=True)


def eval_list(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    def none() -> str:
        ready = locate(paths).ready
        return "no saved eval runs" + ("" if ready else " (first: `naptha-tui eval setup`)")

    return list_saved(EVAL_RUNS, args, paths, none)


def eval_compare(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    return compare_saved(EVAL_RUNS, args, paths)


def eval_show(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    doc = load_run(paths, args.run)
    if args.json:
        if args.failed:
            failed = [r for r in doc.get("records") or [] if r.get("valid") is False]
            print(json.dumps({"name": doc.get("name"), "failed": failed}))
        else:
            print(json.dumps(doc))
        return 0
    print("\n".join(summary_lines(doc)))
    if args.failed:
        failed_records = records(doc, failed_only=True)
        print(f"\n{len(failed_records)} failed sample(s)")
        for r in failed_records:
            print("\n" + "\n".join(failed_lines(r)))
    return 0
