"""The playground's settings, once: the ``try`` flags, in the shape of the other runs' tables.

:data:`TRY` is the field table (``backends/runs/fields``) of a session's settings: the command
line adds its flags from it (``tui/cli``), with the defaults of ``defaults.py``. A flag left
out is ``None`` in the parsed arguments, so ``--session NAME`` keeps what the session holds and
a flag given says the value over it (``tui/commands/playground.spec_from_args``); the help says
the default the session starts from.

The panel's form is made from the same table (``tui/widgets/playground_form``: the fields
with ``form=False`` are the command's alone); it adds what is its own (text areas for the
conversation, tools, schema and grammar; the list of modes; ``parallel_tool_calls`` as default,
true or false) and takes its first values from ``Spec``, whose defaults are ``defaults.py``.

The standard library only: the command line imports this to build its parser, and ``--help``
must stay instant.
"""

from __future__ import annotations

import argparse
from typing import Any

from naptha_tui.backends.runs.fields import Field, Fields, Kind

from .defaults import DEFAULT_CONCURRENCY as CONCURRENCY
from .defaults import MAX_TOKENS, SAMPLES, TEMPERATURES
from .examples import EXAMPLES

EXAMPLE_NAMES = tuple(sorted(EXAMPLES))
APPEND = {"action": "append"}
"""``--mode`` given again adds a mode."""


COMMAND_ONLY = frozenset({"example", "expect_tool", "extra_body", "concurrency"})
"""Flags the panel's form has no field for (its example is a choice on the tools' row)."""
TEXT_AREA_HINTS = {
    "conversation": "JSON list of earlier messages",
    "schema": "JSON Schema for json_schema",
    "grammar": "EBNF / Lark",
}
"""What the form says beside a text area's label."""


def _flag(key: str, metavar: str | None, help: str, kind: Kind = "text", **more: Any) -> Field:
    """A field whose flag is its key, dashed (``expect_tool``: ``--expect-tool``)."""
    flag = "--" + key.replace("_", "-")
    more.setdefault("hint", TEXT_AREA_HINTS.get(key, ""))
    return Field(
        key, kind, help=help, flag=flag, metavar=metavar, form=key not in COMMAND_ONLY, **more
    )


TEMPERATURES_TEXT = ", ".join(f"{t:g}" for t in TEMPERATURES)

TRY = Fields(
    _flag("model", "M", "a model the proxy serves"),
    _flag("prompt", "TEXT", "the user message", placeholder="user prompt"),
    _flag("system", "TEXT", "a system message", placeholder="system message"),
    _flag("conversation", "FILE", "earlier turns (JSON list of messages, tool results too)"),
    _flag("tools", "FILE", "tools as JSON (a list of OpenAI tools)"),
    _flag("example", "NAME", "ready tools, one of: %(choices)s", "choice", choices=EXAMPLE_NAMES),
    _flag(
        "mode", "MODE", "a mode (repeat or comma-separate for several)", cli=APPEND, label="modes"
    ),
    _flag("schema", "FILE", "JSON Schema for json_schema"),
    _flag("regex", "R", "regular expression for regex", placeholder="a Python regex"),
    _flag("choice", "A,B", "choices for choice", placeholder="yes,no,maybe"),
    _flag("grammar", "FILE_OR_TEXT", "EBNF grammar for grammar"),
    _flag("expect_tool", "NAME", "the tool a right answer calls (also count right/wrong tool)"),
    _flag("strict", None, '"strict": true on tools and schema', "switch"),
    _flag(
        "parallel_tool_calls",
        None,
        "send parallel_tool_calls true or false (vLLM's default: true)",
        "switch",
        label="parallel calls",
        cli={"action": argparse.BooleanOptionalAction},
    ),
    _flag("temperatures", "T,T", f"temperatures (default {TEMPERATURES_TEXT})"),
    _flag("samples", "N", f"samples per temperature ({SAMPLES})", "whole"),
    _flag("max_tokens", "N", f"max tokens per sample ({MAX_TOKENS})", "whole"),
    _flag("seed", "N", "sample i gets seed N+i", "whole", placeholder="none"),
    _flag("stream", None, "stream the responses", "switch"),
    _flag("extra_body", "JSON", "more request fields (JSON object), merged last"),
    _flag(
        "concurrency", "N", "samples in flight at once ({default})", "whole", default=CONCURRENCY
    ),
)
"""Every setting of a playground session, in the order of ``try --help``. Left out, a flag is
``None`` (``--session`` or the session's default applies), but ``--concurrency``: how the
command sends, not part of the session."""
