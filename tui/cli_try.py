"""The ``try`` command's flags: the playground's field table (``playground/fields``), then what
the command itself does with a session (load, save, list, curl, promptfoo, explain, JSON).

Standard library only, like ``tui/cli.py``.
"""

from __future__ import annotations

import argparse

from naptha_tui.backends.playground.fields import TRY
from naptha_tui.tui.cli_parts import Lazy, add_command, add_fields, json_flag


def try_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "try",
        "the playground: tool calls and guided outputs across temperatures",
        Lazy("playground", "try_"),
        description="Send a prompt through the proxy in one or more modes at several "
        "temperatures; print each sample's verdict (raw text, parsed tool calls, content) and "
        "the validity grid. Exit 0 when it ran (whatever the validity), 2 on bad input. "
        "Modes: plain, tools-auto, tools-required, tool:NAME, json_object, json_schema, regex, "
        "choice, grammar.",
    )
    add_fields(p, TRY)
    p.add_argument("--session", metavar="NAME_OR_FILE", help="start from a saved session")
    p.add_argument("--save", metavar="NAME", help="save the session (in the state dir)")
    p.add_argument("--list-sessions", action="store_true", help="list saved sessions")
    p.add_argument("--curl", action="store_true", help="print each sample as a curl command")
    p.add_argument(
        "--promptfoo",
        metavar="FILE",
        help="write the session as a promptfoo config (tool-calling modes) and send nothing",
    )
    p.add_argument(
        "--explain",
        action="store_true",
        help="name the layer where each sample's call broke (about 5 more requests a sample)",
    )
    json_flag(p, "one object per sample, then the grid (last line)")
