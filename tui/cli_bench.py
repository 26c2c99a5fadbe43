"""The ``bench`` command's flags: ``vllm bench serve``'s names where they mean the same.

Standard library only, like ``tui/cli.py``.
"""

from __future__ import annotations

import argparse
import math

from naptha_tui.tui.cli_parts import Lazy, add_command, fraction, json_flag, positive, rate, seconds


def bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "bench",
        "the load test: random prompts or simulated agents, vLLM's metrics",
        Lazy("bench", "bench"),
        description="Load the proxy (or one server, --server) with random prompts like "
        "`vllm bench serve`, or with simulated agents (--agents) that hold conversations, call "
        "a tool and think between turns; or sweep request rates like GuideLLM (--sweep). "
        "Metrics follow vLLM's definitions (TTFT, TPOT excluding the first token, ITL, E2EL). "
        "The result is saved in the state dir (see `bench list`, `bench compare A B`). "
        "Ctrl-C stops and reports what completed.",
    )
    p.add_argument(
        "--workload",
        choices=("random", "agents"),
        help="random prompts (default) or the agent simulation (default when --agents is given)",
    )
    p.add_argument("--server", metavar="NAME", help="send to this server directly, not the proxy")
    p.add_argument("--model", metavar="M", help="the model (default: the first one served)")
    p.add_argument(
        "--endpoint",
        choices=("chat", "completions"),
        default="chat",
        help="/v1/chat/completions (default) or /v1/completions",
    )
    g = p.add_argument_group("random prompts (as vllm bench serve)")
    g.add_argument("--num-prompts", type=positive, default=100, metavar="N", help="(100)")
    g.add_argument("--random-input-len", type=positive, default=64, metavar="N", help="(64)")
    g.add_argument("--random-output-len", type=positive, default=16, metavar="N", help="(16)")
    g.add_argument(
        "--random-range-ratio", type=float, default=0.0, metavar="R", help="length spread (0)"
    )
    g = p.add_argument_group("agent simulation")
    g.add_argument("--agents", type=positive, metavar="N", help="simulated agents")
    g.add_argument("--turns", type=positive, default=3, metavar="T", help="turns each (3)")
    g.add_argument(
        "--think-time",
        default="0",
        metavar="SPEC",
        help="between turns: seconds, exp:MEAN or uniform:LOW,HIGH (0)",
    )
    g.add_argument(
        "--tool-probability",
        type=fraction,
        default=0.5,
        metavar="P",
        help="chance a turn calls the lookup tool first (0.5)",
    )
    g = p.add_argument_group("arrivals")
    g.add_argument(
        "--request-rate",
        type=rate,
        default=math.inf,
        metavar="RPS",
        help="open loop, requests (agents: first turns) per second; inf sends all at once",
    )
    g.add_argument(
        "--burstiness", type=rate, default=1.0, metavar="B", help="1 is Poisson, else gamma (1)"
    )
    g.add_argument(
        "--max-concurrency", type=positive, metavar="N", help="closed loop: at most N in flight"
    )
    g.add_argument("--ramp-up-strategy", choices=("linear", "exponential"))
    g.add_argument("--ramp-up-start-rps", type=rate, metavar="RPS")
    g.add_argument("--ramp-up-end-rps", type=rate, metavar="RPS")
    g.add_argument(
        "--seed", type=int, default=0, metavar="N", help="the same seed, the same prompts (0)"
    )
    g = p.add_argument_group("requests and report")
    g.add_argument("--temperature", type=float, default=0.0, metavar="T", help="(0)")
    g.add_argument(
        "--ignore-eos", action="store_true", help="generate exactly the output length (vLLM)"
    )
    g.add_argument(
        "--goodput",
        nargs="+",
        metavar="METRIC:MS",
        help="SLOs for goodput, e.g. ttft:500 tpot:50 (ttft, tpot, e2el)",
    )
    g.add_argument(
        "--metric-percentiles", default="99", metavar="P,P", help="percentiles to report (99)"
    )
    g.add_argument(
        "--sweep",
        type=positive,
        nargs="?",
        const=10,
        metavar="RUNS",
        help="GuideLLM-style sweep of RUNS runs (10)",
    )
    g.add_argument("--max-duration", type=seconds, metavar="S", help="stop after S seconds")
    g.add_argument("--connections", type=positive, metavar="N", help="connection pool size")
    g.add_argument("--timeout", type=seconds, default=600.0, metavar="S", help="per request (600)")
    g.add_argument("--label", metavar="TEXT", help="a word for the saved run's name")
    g.add_argument("--no-save", action="store_true", help="do not save the result")
    json_flag(p, "the result (last line)")
    actions = p.add_subparsers(title="actions", required=False, metavar="{list,compare,show}")
    q = add_command(actions, "list", "saved load-test runs", Lazy("bench", "bench_list"))
    json_flag(q, "the runs")
    q = add_command(
        actions,
        "compare",
        "two runs side by side, with the differences",
        Lazy("bench", "bench_compare"),
    )
    q.add_argument("a", metavar="A", help="a run name (bench list) or a result file")
    q.add_argument("b", metavar="B")
    json_flag(q, "the rows")
    q = add_command(actions, "show", "one saved run's report", Lazy("bench", "bench_show"))
    q.add_argument("run", metavar="RUN")
    json_flag(q, "the saved result")
