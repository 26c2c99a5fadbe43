"""Streaming tool-call parsing: ours against vLLM's own hermes parser, one token at a time.

A Hermes-format tool call whose arguments hold 2k, 8k, 32k and 128k characters is tokenized
with the embedded model's real tokenizer and fed one token at a time, the way vLLM's server
calls a tool parser while streaming (``previous_text``, ``current_text``, ``delta_text``),
to three parsers in one process (the CPU runtime's Python, where vLLM is installed):

- ``ours``: our ``naptha_hermes`` parser through its vLLM adapter (``naptha_vllm_plugin.py``,
  building vLLM's DeltaMessage objects), as vLLM runs it;
- ``core``: the same parser's pure core alone (no vLLM objects), to price the adapter;
- ``vllm``: vLLM's ``Hermes2ProToolParser``.

Only the parser calls are timed (the harness builds ``current_text`` outside the clock). Each
run checks that every parser's argument deltas concatenate to the full arguments. Then the
timing tests of every format's worst inputs run (``pytest -m timing``: 8x the input within
20x the time; CI leaves them out), and the property-based fuzz tests with enough examples to
total at least 100,000 cases.

Goal (issue 4): linear growth (4x text costs at most 4.5x time: ``growth_4x`` is ours at 32k
over ours at 8k) and at least 10x faster than vLLM's at 32k (``speedup_32k``).

    .venv/bin/python benchmarks/tool_parsers.py [--quick] [--runs 3] [--fuzz-examples 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

GOAL = {"growth_4x_max": 4.5, "speedup_32k_min": 10.0}
SIZES = (2048, 8192, 32768, 131072)
REPO = Path(__file__).resolve().parent.parent
FUZZ_TESTS = REPO / "tests" / "unit" / "test_toolcalls_fuzz.py"


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- child (CPU runtime python)


def arguments_of(size: int) -> str:
    """A JSON object of about ``size`` characters: records with strings, numbers, escapes."""
    records, length, i = [], 0, 0
    while length < size:
        record = {
            "id": i,
            "name": f"agent-{i:05d}",
            "note": f'said "hello" to agent {i + 1}\\n and waited {i % 7} ticks',
            "scores": [i % 10 / 10, (i * 7) % 100, -i],
            "active": i % 3 == 0,
        }
        records.append(record)
        length += len(json.dumps(record)) + 2
        i += 1
    return json.dumps({"query": "population report", "records": records})


def child(config: dict[str, Any]) -> None:
    from transformers import AutoTokenizer  # type: ignore[import-untyped]
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.tool_parsers.abstract_tool_parser import ToolParserManager

    ToolParserManager.import_tool_parser(config["plugin"])
    core = sys.modules["naptha_toolcalls_core"]
    ours_cls = ToolParserManager.get_tool_parser("naptha_hermes")
    vllm_cls = ToolParserManager.get_tool_parser("hermes")
    tokenizer = AutoTokenizer.from_pretrained(config["tokenizer"])
    tools = [{"type": "function", "function": {"name": "report", "parameters": {}}}]
    request = ChatCompletionRequest(
        model="m", messages=[{"role": "user", "content": "go"}], tools=tools
    )

    for size in config["sizes"]:
        args = arguments_of(size)
        text = f'<tool_call>\n{{"name": "report", "arguments": {args}}}\n</tool_call>'
        ids = tokenizer.encode(text, add_special_tokens=False)
        pieces = _token_pieces(tokenizer, ids)
        assert "".join(pieces) == text, "token pieces must rebuild the text"
        row: dict[str, Any] = {"chars": len(args), "tokens": len(pieces)}
        for label in config["parsers"]:
            if label == "vllm" and size > config["vllm_max"]:
                continue
            times = []
            for _ in range(config["runs"]):
                if label == "core":
                    seconds, got = _run_core(core, pieces)
                else:
                    parser = (ours_cls if label == "ours" else vllm_cls)(tokenizer, request.tools)
                    seconds, got = _run_vllm_api(parser, pieces, request)
                assert json.loads(got) == json.loads(args), f"{label}: arguments differ"
                if label != "vllm":
                    assert got == args, f"{label}: deltas must concatenate to the exact text"
                times.append(seconds)
            row[f"{label}_s"] = statistics.median(times)
        print(json.dumps(row), flush=True)


def _token_pieces(tokenizer: Any, ids: list[int]) -> list[str]:
    """Each token's text, as the server's incremental detokenizer hands it over."""
    pieces = []
    for k in range(len(ids)):
        # decode a short window: exact for byte-level BPE once a character is complete
        window = tokenizer.decode(ids[max(0, k - 4) : k + 1])
        before = tokenizer.decode(ids[max(0, k - 4) : k])
        piece = window[len(before) :]
        pieces.append(piece)
    return pieces


def _run_core(core: Any, pieces: list[str]) -> tuple[float, str]:
    machine = core.stream("naptha_hermes")
    args: list[str] = []
    clock = time.perf_counter
    spent = 0.0
    for piece in pieces:
        start = clock()
        delta = machine.feed(piece)
        spent += clock() - start
        args += [c.arguments for c in delta.calls]
    return spent, "".join(args)


def _run_vllm_api(parser: Any, pieces: list[str], request: Any) -> tuple[float, str]:
    previous, args = "", []
    clock = time.perf_counter
    spent = 0.0
    for piece in pieces:
        current = previous + piece
        start = clock()
        delta = parser.extract_tool_calls_streaming(previous, current, piece, [], [], [], request)
        spent += clock() - start
        previous = current
        if delta is not None:
            for call in delta.tool_calls or []:
                if call.function and call.function.arguments:
                    args.append(call.function.arguments)
    return spent, "".join(args)


# ---------------------------------------------------------------- parent (project venv)


def run_scaling() -> dict[str, Any]:
    """The timing tests (8x the input must cost well under 64x): every format's worst cases."""
    tests = REPO / "tests" / "unit" / "test_toolcalls_timing.py"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "timing",
            str(tests),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    say(f"scaling cases: {last}")
    return {"scaling_ok": done.returncode == 0, "scaling": last}


def fuzz_test_count() -> int:
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", str(FUZZ_TESTS)],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    return sum(1 for line in collected.splitlines() if "::" in line)


def run_fuzz(examples: int) -> dict[str, Any]:
    """The property tests with ``examples`` per test; returns counts from pytest's summary."""
    env = {**os.environ, "NAPTHA_FUZZ_EXAMPLES": str(examples)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(FUZZ_TESTS)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    say(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:])
    n_tests = fuzz_test_count()
    return {
        "fuzz_ok": done.returncode == 0,
        "fuzz_tests": n_tests,
        "fuzz_cases": n_tests * examples,
        "fuzz_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k-32k, 1 run, small fuzz")
    parser.add_argument("--runs", type=int, default=None, help="runs per size (median)")
    parser.add_argument("--fuzz-examples", type=int, default=None, help="examples per fuzz test")
    parser.add_argument("--no-fuzz", action="store_true")
    args = parser.parse_args()

    from naptha_tui.backends.paths import Paths
    from naptha_tui.backends.runtimes.models import hf_dir
    from naptha_tui.backends.runtimes.runtime import get_runtime
    from naptha_tui.backends.servers.vllm import shipped_plugin_path
    from naptha_tui.backends.settings import load_settings

    paths = Paths.from_env()
    runtime = get_runtime("cpu", paths, load_settings(paths))
    runtime.require_ready()
    sizes = SIZES[:3] if args.quick else SIZES
    config = {
        "plugin": str(shipped_plugin_path()),
        "tokenizer": str(hf_dir(paths, "smollm2-135m")),
        "sizes": list(sizes),
        "runs": args.runs or (1 if args.quick else 3),
        "parsers": ["ours", "core", "vllm"],
        "vllm_max": 32768 if args.quick else 131072,
    }
    say(f"feeding {list(sizes)} characters of arguments, {config['runs']} run(s) each")
    out = subprocess.run(
        [str(runtime.python), __file__, "--child", json.dumps(config)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        say(out.stderr[-4000:])
        raise SystemExit("the measuring process failed")
    rows = {r["chars"]: r for r in (json.loads(x) for x in out.stdout.splitlines() if x)}
    by_size = sorted(rows.values(), key=lambda r: r["chars"])
    for row in by_size:
        say(json.dumps(row))

    def at(nominal: int) -> dict[str, Any]:
        return min(by_size, key=lambda r: abs(r["chars"] - nominal))

    r8, r32 = at(8192), at(32768)
    result: dict[str, Any] = {
        "bench": "tool_parsers",
        "sizes": by_size,
        "growth_4x": round(r32["ours_s"] / r8["ours_s"], 2),
        "growth_4x_core": round(r32["core_s"] / r8["core_s"], 2),
        "growth_4x_vllm": round(r32["vllm_s"] / r8["vllm_s"], 2),
        "speedup_32k": round(r32["vllm_s"] / r32["ours_s"], 1),
        "goal": GOAL,
    }
    result |= run_scaling()
    if not args.no_fuzz:
        examples = args.fuzz_examples or (300 if args.quick else 0)
        if not examples:  # enough per test for 100,000 cases in all
            examples = -(-100_000 // max(1, fuzz_test_count()))
        say(f"fuzzing: {examples} examples per test")
        result |= run_fuzz(examples)
    result["met"] = (
        result["growth_4x"] <= GOAL["growth_4x_max"]
        and result["speedup_32k"] >= GOAL["speedup_32k_min"]
        and result.get("fuzz_ok", True)
        and result["scaling_ok"]
    )
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]))
    else:
        main()
