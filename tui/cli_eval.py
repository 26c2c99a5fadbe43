"""The ``eval`` command's flags, made from the evaluation's field table (``evals/fields``).

Standard library only, like ``tui/cli.py``.
"""

from __future__ import annotations

import argparse

from naptha_tui.backends.evals.fields import EVAL
from naptha_tui.tui.cli_parts import Lazy, add_command, add_fields, json_flag, run_flags

DEFAULT_CATEGORIES = ",".join(EVAL.default("categories"))
"""``--categories`` when not given."""


def eval_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "eval",
        "tool-calling accuracy on the Berkeley Function-Calling Leaderboard's cases",
        Lazy("eval", "eval_run"),
        description="Send BFCL's own cases (bfcl-eval 2026.3.23, see `eval setup`) through the "
        "proxy: each case's question with its functions as OpenAI tools; the tool calls that "
        "come back are scored by BFCL's own AST checker (irrelevance: pass when no call is "
        "made). Accuracy per category and temperature; --guided also runs each case with "
        'tool_choice "required" and strict tools (not the irrelevance categories) to show '
        "what guided decoding buys. The result is saved in the state dir (`eval list`, "
        "`eval show RUN`, `eval compare A B`). Ctrl-C stops and keeps what ran.",
    )
    add_fields(p, EVAL)
    run_flags(p, "the result document, one record per case and sample,")
    actions = p.add_subparsers(title="actions", required=False, metavar="{setup,list,compare,show}")
    q = add_command(
        actions,
        "setup",
        "install bfcl-eval (its data and checker) into the data dir",
        Lazy("eval", "eval_setup"),
        description="Install the leaderboard's package bfcl-eval==2026.3.23 with pip, without "
        "its dependencies (none is needed for its data or its checker), into "
        "<data dir>/evals/bfcl-eval; check that its AST checker imports, and mark it ready. "
        "Idempotent: seconds when already there. "
        "pip's own settings apply (PIP_INDEX_URL, PIP_FIND_LINKS for a local wheel).",
    )
    q.add_argument("--force", action="store_true", help="reinstall even if ready")
    json_flag(q, "where it is and its state")
    q = add_command(actions, "list", "saved evaluation runs", Lazy("eval", "eval_list"))
    json_flag(q, "the runs")
    q = add_command(
        actions,
        "compare",
        "two runs side by side: accuracy per category, the cases that flipped",
        Lazy("eval", "eval_compare"),
    )
    q.add_argument("a", metavar="A", help="a run name (eval list) or a result file")
    q.add_argument("b", metavar="B")
    json_flag(q, "the rows")
    q = add_command(
        actions,
        "show",
        "one saved run: its accuracy and, on request, each failed case",
        Lazy("eval", "eval_show"),
    )
    q.add_argument("run", metavar="RUN")
    q.add_argument(
        "--failed",
        action="store_true",
        help="each failed case: question, expected, what came back, the checker's reason",
    )
    json_flag(q, "the saved result (with --failed: its failed records)")
