"""The ``bench`` command's flags, made from the load test's field table (``loadgen/fields``).

Standard library only, like ``tui/cli.py``.
"""

from __future__ import annotations

import argparse

from naptha_tui.backends.loadgen.fields import BENCH, REPORT
from naptha_tui.tui.cli_parts import Lazy, add_command, add_fields, json_flag, run_flags


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
    groups = add_fields(p, BENCH)
    run_flags(p, "the result (last line)", groups[REPORT])
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
