"""try: the playground, headless. Each sample's verdict, then the validity grid."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import yaml

from naptha_tui.backends.files import READABLE, UnreadableFile, atomic_write, read_text_file
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.playground.examples import EXAMPLES
from naptha_tui.backends.playground.explain import ExplainingPlayground
from naptha_tui.backends.playground.promptfoo import KEY_ENV, promptfoo_config
from naptha_tui.backends.playground.results import Cell, Sample, Sweep
from naptha_tui.backends.playground.run import Playground, Prepared
from naptha_tui.backends.playground.sessions import (
    curl_command,
    list_sessions,
    load_session,
    save_session,
)
from naptha_tui.backends.playground.spec import (
    Spec,
    check,
    parse_temperatures,
    parse_tools,
    schema_problem,
)
from naptha_tui.backends.runs.fields import BadInput, Problem
from naptha_tui.backends.runs.lifecycle import ctrl_c_cancels
from naptha_tui.backends.runs.text import came_back_lines
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.proxy.node import Node
from naptha_tui.tui.commands import say_err
from naptha_tui.tui.format import PLAYGROUND_GRID_HEADER, table


def _read(path: str, field: str) -> str:
    try:
        return read_text_file(Path(path))
    except UnreadableFile as exc:
        raise BadInput([Problem(field, f"cannot read {path}: {exc.reason}")]) from exc


def _json_file(path: str, field: str) -> Any:
    text = _read(path, field)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(
            [Problem(field, f"{path} is not JSON: {exc.msg} at line {exc.lineno}")]
        ) from exc


def spec_from_args(args: argparse.Namespace, paths: Paths) -> Spec:
    """The session the flags describe (on top of ``--session`` when given)."""
    spec = load_session(paths, args.session) if args.session else Spec()
    update: dict[str, Any] = {}
    problems: list[Problem] = []
    for flag, key in (
        ("model", "model"),
        ("prompt", "prompt"),
        ("system", "system"),
        ("regex", "regex"),
        ("samples", "samples"),
        ("max_tokens", "max_tokens"),
        ("seed", "seed"),
        ("expect_tool", "expect_tool"),
    ):
        if getattr(args, flag) is not None:
            update[key] = getattr(args, flag)
    if args.mode:
        update["modes"] = [m for piece in args.mode for m in piece.split(",") if m]
    if args.strict:
        update["strict"] = True
    if args.stream:
        update["stream"] = True
    if args.parallel_tool_calls is not None:
        update["parallel_tool_calls"] = args.parallel_tool_calls
    if args.choice is not None:
        update["choice"] = [c.strip() for c in args.choice.split(",")]
    if args.temperatures is not None:
        try:
            update["temperatures"] = parse_temperatures(args.temperatures)
        except ValueError as exc:
            problems.append(Problem("temperatures", str(exc)))
    if args.example:
        update["tools"] = EXAMPLES[args.example]
    if args.tools:
        tools, bad = parse_tools(_read(args.tools, "tools"), f"tools ({args.tools})")
        problems += bad
        update["tools"] = tools
    if args.schema:
        schema = _json_file(args.schema, "schema")
        why = schema_problem(schema)
        if why:
            problems.append(Problem(f"schema ({args.schema})", why))
        update["schema_"] = schema
    if args.grammar:
        path = Path(args.grammar)
        # a path that exists is a file to read (a directory is refused as one), else the text
        update["grammar"] = _read(args.grammar, "grammar") if path.exists() else args.grammar
    if args.extra_body:
        try:
            extra = json.loads(args.extra_body)
        except json.JSONDecodeError as exc:
            extra = None
            problems.append(Problem("extra_body", f"not JSON: {exc.msg}"))
        if extra is not None and not isinstance(extra, dict):
            problems.append(Problem("extra_body", "must be a JSON object"))
        elif extra is not None:
            update["extra_body"] = extra
    if args.conversation:
        doc = _json_file(args.conversation, "conversation")
        if not isinstance(doc, list):
            problems.append(Problem(f"conversation ({args.conversation})", "a JSON list"))
        else:
            update["conversation"] = doc
    if problems:
        raise BadInput(problems)
    return spec.model_copy(update=update)


def _compact(arguments: Any) -> str:
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except (TypeError, ValueError):
        return str(arguments)


def _calls_text(s: Sample) -> str:
    return ", ".join(
        f"{(c.get('function') or {}).get('name')}"
        f"({_compact((c.get('function') or {}).get('arguments'))})"
        for c in s.tool_calls
    )


def sample_lines(s: Sample) -> list[str]:
    """A sample as text: verdict line, what came back, problems, mismatches."""
    mark = {True: "VALID", False: "INVALID", None: "UNCHECKED"}[s.verdict.valid]
    ms = f"{s.latency_s * 1000:.0f} ms"
    head = (
        f"{s.mode} t={s.temperature:g} #{s.index}"
        + (f" seed={s.seed}" if s.seed is not None else "")
        + f": {mark}  finish={s.finish_reason}  {ms}  {s.completion_tokens or 0} tok"
    )
    out = [head]
    if s.tool_calls:
        out.append(f"  tool_calls: {_calls_text(s)}")
    out += came_back_lines(s.content, s.raw, s.raw_source, s.raw_note, 300)
    out += [f"  problem: {p}" for p in s.verdict.problems]
    out += [f"  mismatch: {m.message()}" for m in s.mismatches]
    if s.layer is not None:
        out.append(f"  layer: {s.layer}: {s.layer_reason}")
    return out


def grid_table(sweep: Sweep) -> str:
    cells = list(sweep.grid.cells.values())
    expected = any(c.expected for c in cells)
    rows = []
    for c in cells:
        rate = c.valid_rate
        row = [
            c.mode,
            f"{c.temperature:g}",
            c.samples,
            c.valid if c.checked else "-",
            "n/a" if rate is None else f"{rate:.0%}",
            c.errors,
            f"{c.latency_s / c.samples * 1000:.0f}" if c.samples else "-",
        ]
        if expected:
            row.append(f"{c.right_tool / c.expected:.0%}" if c.expected else "-")
        rows.append(row)
    return table(
        rows, (*PLAYGROUND_GRID_HEADER, "RIGHT TOOL") if expected else PLAYGROUND_GRID_HEADER
    )


def try_(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    if args.list_sessions:
        names = list_sessions(paths)
        print(json.dumps(names) if args.json else "\n".join(names) or "no saved sessions")
        return 0
    spec = spec_from_args(args, paths)
    problems = check(spec)  # everything but the model list: nothing is sent on bad input
    if problems:
        raise BadInput(problems)
    if args.save:
        print(f"saved {save_session(paths, args.save, spec)}", file=sys.stderr)
    if args.promptfoo:
        return export_promptfoo(Path(args.promptfoo), spec, ProxyManager(paths, settings))
    sweep = Sweep(spec)
    found: list[Prepared] = []
    try:
        asyncio.run(_try(args, paths, settings, sweep, found))
    except KeyboardInterrupt:  # before the sweep, or a second Ctrl-C during it
        if not found:
            return 130
        sweep.cancelled = True
    if sweep.cancelled:
        print(f"stopped: {len(sweep.samples)} sample(s) ran", file=sys.stderr)
    report(args, sweep, found[0])
    return 0


def export_promptfoo(path: Path, spec: Spec, proxy: ProxyManager) -> int:
    """Write the session as a promptfoo config (nothing is sent) and say how to run it."""
    doc, left_out = promptfoo_config(spec, proxy.url)
    if not doc["providers"]:
        raise BadInput(
            [Problem("promptfoo", "no tool-calling mode to export (is-valid-openai-tools-call)")]
        )
    atomic_write(path, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), READABLE)
    print(f"wrote {path}: {len(doc['providers'])} provider(s), one test", file=sys.stderr)
    if left_out:
        print(f"left out (no tool call to assert): {', '.join(left_out)}", file=sys.stderr)
    print(
        f"run it: {KEY_ENV}=$(cat {shlex.quote(str(proxy.key_file))}) "
        f"npx promptfoo@latest eval -c {shlex.quote(str(path))}",
        file=sys.stderr,
    )
    return 0


async def _try(
    args: argparse.Namespace,
    paths: Paths,
    settings: Settings,
    sweep: Sweep,
    found: list[Prepared],
) -> None:
    async with Node(paths, settings) as node:
        target = node.playground_target()
    engine = ExplainingPlayground if getattr(args, "explain", False) else Playground
    async with engine(target) as playground:
        prepared = await playground.prepare(sweep.spec)
        if prepared.problems:
            raise BadInput(prepared.problems)
        found.append(prepared)
        for w in prepared.warnings:
            print(f"naptha-tui: warning: {w}", file=sys.stderr)

        def show(s: Sample, cell: Cell) -> None:
            if args.json:
                print(json.dumps(s.to_json()), flush=True)
            else:
                print("\n".join(sample_lines(s)), flush=True)
                if args.curl:
                    print(curl_command(target.proxy_url, s.body, target.key_file), flush=True)

        with ctrl_c_cancels(sweep, say_err):  # the first Ctrl-C stops it; what landed stays
            await sweep.run(playground, show, args.concurrency)


def report(args: argparse.Namespace, sweep: Sweep, prepared: Prepared) -> None:
    """The grid: a table, or the result object as the last JSON line."""
    doc = sweep.to_json() | {"warnings": prepared.warnings}
    if prepared.tokens is not None:
        doc["prompt_tokens"] = {
            "with_tools": prepared.tokens.with_tools,
            "tools": prepared.tokens.tools,
            "max_model_len": prepared.tokens.max_model_len,
        }
    if args.json:
        print(json.dumps(doc), flush=True)
    else:
        print("\n" + grid_table(sweep))
        layers: dict[str, int] = {}
        for c in sweep.grid.cells.values():
            for layer, n in c.layers.items():
                layers[layer] = layers.get(layer, 0) + n
        if layers:
            print("layers: " + ", ".join(f"{k} {n}" for k, n in layers.items()))
