"""eval: BFCL's cases through the node, headless. A progress line while it runs, then the
accuracy per category and temperature; setup, list, compare and show."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from typing import Any

from naptha_tui.backends.evals.cases import check_categories
from naptha_tui.backends.evals.config import EvalConfig, EvalInputError
from naptha_tui.backends.evals.fields import build
from naptha_tui.backends.evals.records import Progress, Record
from naptha_tui.backends.evals.results import (
    compare,
    describe,
    load_run,
    records,
    run_summaries,
    save_run,
)
from naptha_tui.backends.evals.run import EvalRun
from naptha_tui.backends.evals.setup import BfclInstall, install, locate, require
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.store import comparison
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node
from naptha_tui.tui.commands import print_json, say_err
from naptha_tui.tui.format import table

PROGRESS_EVERY_S = 2.0


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    """The run the flags describe; every problem named at once, nothing sent."""
    config, problems = build(lambda key: getattr(args, key))
    if problems:
        raise EvalInputError("; ".join(problems))
    return config


def progress_line(p: Progress) -> str:
    acc = "-" if p.accuracy is None else f"{p.accuracy:.1%}"
    return (
        f"[{p.elapsed_s:6.1f} s] {p.done}/{p.planned} done: {p.passed} passed ({acc}), "
        f"{p.failed} failed ({p.errors} request errors), {p.skipped} skipped, "
        f"{p.in_flight} in flight"
    )


def eval_run(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    config = config_from_args(args)
    found = require(paths)  # before the node is asked: says to run `eval setup`
    check_categories(list(config.categories), found.data_dir)
    result = asyncio.run(_run(config, found, paths, settings))
    if not args.no_save:
        result["name"] = save_run(paths, result, args.label or config.model)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(summary_lines(result)))
        if result.get("name"):
            print(f"saved as {result['name']} (eval show {result['name']} --failed)")
    return 0


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
        last = [0.0]

        def show(p: Progress) -> None:
            if p.elapsed_s - last[0] >= PROGRESS_EVERY_S or p.done == p.planned:
                last[0] = p.elapsed_s
                say_err(progress_line(p))

        loop = asyncio.get_running_loop()

        def interrupted() -> None:
            say_err("stopping: Ctrl-C again to quit at once")
            run.cancel()
            loop.remove_signal_handler(signal.SIGINT)

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, interrupted)
        try:
            return await run.run(show)
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)


def _pct(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "-"
    if cell.get("accuracy") is None:
        return "n/a"
    return f"{cell['accuracy']:.1%} ({cell['passed']}/{cell['scored']})"


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """Accuracy per category and temperature (unguided and, when run, guided), then totals."""
    guided = bool((doc.get("config") or {}).get("guided"))
    by_key = {(c["category"], c["temperature"], c["guided"]): c for c in doc.get("summary") or []}
    rows = []
    for cat, t in dict.fromkeys((c["category"], c["temperature"]) for c in by_key.values()):
        plain, forced = by_key.get((cat, t, False)), by_key.get((cat, t, True))
        cells = [c for c in (plain, forced) if c]
        row = [cat, f"{t:g}", _pct(plain)]
        if guided:
            row.append(_pct(forced))
        row += [sum(c["skipped"] for c in cells), sum(c["errors"] for c in cells)]
        rows.append(row)
    totals = {(x["temperature"], x["guided"]): x for x in doc.get("totals") or []}
    for label, field in (("all (pooled)", "accuracy"), ("mean of categories", None)):
        for t in dict.fromkeys(k[0] for k in totals):
            row = [label, f"{t:g}"]
            for g in (False, True) if guided else (False,):
                x = totals.get((t, g))
                if x is None:
                    row.append("-")
                elif field:
                    row.append(_pct(x))
                else:
                    m = x.get("mean_category_accuracy")
                    row.append("n/a" if m is None else f"{m:.1%}")
            row += ["", ""]
            rows.append(row)
    header = ["CATEGORY", "T", "UNGUIDED", *(["GUIDED"] if guided else []), "SKIPPED", "ERRORS"]
    lines = [f"{describe(doc)} via {doc.get('proxy_url')}", ""]
    lines += table(rows, header).splitlines()
    if doc.get("cancelled"):
        lines.append(f"stopped early: {doc.get('done')} of {doc.get('planned')} samples ran")
    for s in doc.get("skipped") or []:
        lines.append(
            f"skipped {s['case_id']}: function {s['function']!r}"
            + (f", parameter {s['parameter']!r}" if s.get("parameter") else "")
            + f": {s['message']}"
        )
    return lines


def _calls(r: Record) -> str:
    parts = []
    for c in r.tool_calls:
        args = c.get("arguments")
        if isinstance(args, str):
            with contextlib.suppress(ValueError):
                args = json.dumps(json.loads(args), ensure_ascii=False)
        parts.append(f"{c.get('name')}({args})")
    return ", ".join(parts) or "none"


def failed_lines(r: Record) -> list[str]:
    """One failed case: what was asked, what a right answer is, what came back, and why not."""
    mode = "guided" if r.guided else "unguided"
    out = [f"FAIL {r.case_id} ({r.category}, t={r.temperature:g}, {mode}): {r.verdict.error_type}"]
    for m in r.question or []:
        out.append(f"  {m.get('role')}: {str(m.get('content'))[:400]}")
    if r.functions is not None:
        out.append(f"  functions: {', '.join(r.functions) or 'none'}")
    if r.expected is not None:
        out.append(f"  expected: {json.dumps(r.expected, ensure_ascii=False)[:600]}")
    out.append(f"  tool_calls: {_calls(r)}")
    if r.decoded is not None:
        out.append(f"  decoded: {json.dumps(r.decoded, ensure_ascii=False)[:600]}")
    if r.content:
        out.append(f"  content: {json.dumps(r.content, ensure_ascii=False)[:400]}")
    if r.raw is not None and r.raw != r.content:
        out.append(f"  raw ({r.raw_source}): {json.dumps(r.raw, ensure_ascii=False)[:400]}")
    if r.raw_note:
        out.append(f"  raw: {r.raw_note}")
    out += [f"  mismatch: {m}" for m in r.mismatches]
    out.append(f"  reason: {r.verdict.reason}")
    return out


def eval_setup(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    found = install(paths, say_err if args.json else print_line, force=args.force)
    if args.json:
        print_json(found.to_json())
    return 0 if found.ready else 1


def print_line(line: str) -> None:
    print(line, flush=True)


def eval_list(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    runs = run_summaries(paths)
    if args.json:
        print(json.dumps(runs))
        return 0
    if not runs:
        found = locate(paths)
        print("no saved eval runs" + ("" if found.ready else " (first: `naptha-tui eval setup`)"))
        return 0
    rows = [
        [
            r["name"],
            str(r["model"]),
            r["preset"] or "-",
            ",".join(r["categories"] or []),
            f"{r['done']}/{r['planned']}" + (" stopped" if r["cancelled"] else ""),
            "  ".join(
                f"{k} {'n/a' if v is None else format(v, '.1%')}" for k, v in r["accuracy"].items()
            ),
        ]
        for r in runs
    ]
    print(table(rows, ["RUN", "MODEL", "PRESET", "CATEGORIES", "DONE", "ACCURACY"]))
    return 0


def eval_compare(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    a, b = load_run(paths, args.a), load_run(paths, args.b)
    rows = compare(a, b)
    if args.json:
        print(json.dumps(comparison(a, b, rows)))
        return 0

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    table_rows = [
        [
            r.category,
            f"{r.temperature:g}",
            "guided" if r.guided else "unguided",
            f"{pct(r.a)} ({r.a_scored})",
            f"{pct(r.b)} ({r.b_scored})",
            "-" if r.diff is None else f"{r.diff * 100:+.1f} pt",
            r.fixed,
            r.broken,
        ]
        for r in rows
    ]
    print(
        table(
            table_rows,
            ["CATEGORY", "T", "PASS", "A", "B", "B-A", "FIXED IN B", "BROKEN IN B"],
        )
    )
    print(f"A: {a.get('name')}: {describe(a)}")
    print(f"B: {b.get('name')}: {describe(b)}")
    return 0


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
