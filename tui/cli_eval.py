"""The ``eval`` command's flags: BFCL's cases through the node.

Standard library only, like ``tui/cli.py``.
"""

from __future__ import annotations

import argparse

from naptha_tui.tui.cli_parts import Lazy, add_command, json_flag, non_negative, positive

DEFAULT_CATEGORIES = (
    "simple_python,multiple,parallel,parallel_multiple,irrelevance,live_simple,live_multiple,"
    "live_irrelevance"
)


def _temperatures(text: str) -> tuple[float, ...]:
    out = []
    for piece in text.replace(" ", "").split(","):
        if not piece:
            continue
        try:
            value = float(piece)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{piece!r} is not a number") from None
        if not 0 <= value <= 2:
            raise argparse.ArgumentTypeError(f"{piece} is out of range [0, 2]")
        out.append(value)
    if not out:
        raise argparse.ArgumentTypeError("at least one temperature")
    return tuple(dict.fromkeys(out))


def _categories(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not names:
        raise argparse.ArgumentTypeError("at least one category")
    return names  # checked against the installed files when the command runs


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
    p.add_argument("--model", metavar="M", help="a model the proxy serves")
    p.add_argument(
        "--categories",
        type=_categories,
        default=_categories(DEFAULT_CATEGORIES),
        metavar="A,B",
        help=f"comma-separated BFCL v4 categories ({DEFAULT_CATEGORIES.replace(',', ', ')})",
    )
    p.add_argument("--limit", type=positive, metavar="N", help="the first N cases of each")
    p.add_argument("--temperatures", type=_temperatures, default=(0.0,), metavar="T,T", help="(0)")
    p.add_argument(
        "--guided",
        action="store_true",
        help="also run each case guided: tool_choice required, strict tools",
    )
    p.add_argument("--seed", type=non_negative, metavar="N", help="sent with every request")
    p.add_argument(
        "--max-tokens", type=positive, default=256, metavar="N", help="per request (256)"
    )
    p.add_argument(
        "--concurrency", type=positive, default=4, metavar="N", help="requests in flight (4)"
    )
    p.add_argument("--label", metavar="TEXT", help="a word for the saved run's name")
    p.add_argument("--no-save", action="store_true", help="do not save the result")
    json_flag(p, "the result document, one record per case and sample,")
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
