"""The embedded model on the Berkeley Function-Calling Leaderboard's own cases, guided and not.

BFCL's simple_python, multiple and irrelevance cases (bfcl-eval 2026.3.23, installed by
``eval setup``'s code) go through the node's real LiteLLM proxy to the embedded SmolLM2-135M
on vLLM-CPU at temperature 0, each case once unguided (``tool_choice: auto``) and once guided
(``tool_choice: required`` with strict tools; never for irrelevance, which needs the freedom
not to call), and BFCL's own AST checker scores what comes back. 50 cases per category, all
with ``--full``, 10 with ``--quick``. The last line is one JSON object with the accuracies
(``simple_unguided``, ``simple_guided``, ``multiple_unguided``, ``multiple_guided``,
``irrelevance_unguided``) and the cases counted.

    .venv/bin/python benchmarks/bfcl_embedded.py [--quick | --full] [--use-running]

By default a node is started in a temporary state dir (ports 4196/18960) and stopped at the
end; ``--use-running`` uses the node of the current environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from embedded_node import MODEL, embedded_node, say

from naptha_tui.backends.evals.config import EvalConfig
from naptha_tui.backends.evals.records import Progress
from naptha_tui.backends.evals.run import EvalRun
from naptha_tui.backends.evals.setup import install, require
from naptha_tui.backends.paths import Paths
from naptha_tui.proxy.node import Node

CATEGORIES = ("simple_python", "multiple", "irrelevance")
SHORT = {"simple_python": "simple", "multiple": "multiple", "irrelevance": "irrelevance"}


def table(summary: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{'category':<16} {'pass':<9} {'cases':>5} {'passed':>6} {'errors':>6} {'accuracy':>8}"
    ]
    for c in summary:
        acc = "—" if c["accuracy"] is None else f"{c['accuracy']:.2%}"
        lines.append(
            f"{c['category']:<16} {'guided' if c['guided'] else 'unguided':<9} "
            f"{c['scored']:>5} {c['passed']:>6} {c['errors']:>6} {acc:>8}"
        )
    return lines


async def measure(node: Node, paths: Paths, limit: int | None, concurrency: int) -> dict[str, Any]:
    config = EvalConfig(
        model=MODEL,
        categories=CATEGORIES,
        temperatures=(0.0,),
        guided=True,
        limit=limit,
        max_tokens=128,
        concurrency=concurrency,
    )
    last = [0.0]

    def show(p: Progress) -> None:
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            say(f"[{p.elapsed_s:6.0f} s] {p.done}/{p.planned} done, {p.passed} passed")

    async with EvalRun(config, node.playground_target(), require(paths)) as run:
        await run.prepare()
        return await run.run(show)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="10 cases per category")
    size.add_argument("--full", action="store_true", help="every case of each category")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--use-running", action="store_true", help="the current env's node")
    args = parser.parse_args()
    limit = None if args.full else 10 if args.quick else 50
    async with embedded_node("bfcl-embedded-", 4196, 18960, args.use_running) as node:
        await asyncio.to_thread(install, node.paths, say)
        doc = await measure(node, node.paths, limit, args.concurrency)
    for line in table(doc["summary"]):
        say(line)
    out: dict[str, Any] = {"bench": "bfcl_embedded", "limit": limit, "bfcl": doc["bfcl_version"]}
    for c in doc["summary"]:
        key = f"{SHORT[c['category']]}_{'guided' if c['guided'] else 'unguided'}"
        out[key] = c["accuracy"]
        out[f"{key}_cases"] = c["scored"]
    out["duration_s"] = round(doc["duration_s"], 1)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
