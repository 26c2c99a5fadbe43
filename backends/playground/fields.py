"""The playground's settings, once: the ``try`` flags, in the shape of the other runs' tables.

:data:`TRY` is the field table (``backends/runs/fields``) of a session's settings: the command
line adds its flags from it (``tui/cli_try``), with the defaults of ``defaults.py``. A flag left
out is ``None`` in the parsed arguments, so ``--session NAME`` keeps what the session holds and
a flag given says the value over it (``tui/commands/playground.spec_from_args``); the help says
the default the session starts from.

The panel's form is laid out by hand (text areas for tools, schema and grammar; a list of
modes); its first values come from ``Spec``, whose defaults are the same ``defaults.py``.

The standard library only: the command line imports this to build its parser, and ``--help``
must stay instant.
"""

from __future__ import annotations

import argparse

from naptha_tui.backends.runs.fields import Field, Fields

from .defaults import DEFAULT_CONCURRENCY, MAX_TOKENS, SAMPLES, TEMPERATURES
from .examples import EXAMPLES

TRY = Fields(
    Field("model", help="a model the proxy serves", flag="--model", metavar="M"),
    Field("prompt", help="the user message", flag="--prompt", metavar="TEXT"),
    Field("system", help="a system message", flag="--system", metavar="TEXT"),
    Field(
        "conversation",
        help="earlier turns (JSON list of messages, tool results too)",
        flag="--conversation",
        metavar="FILE",
    ),
    Field("tools", help="tools as JSON (a list of OpenAI tools)", flag="--tools", metavar="FILE"),
    Field(
        "example",
        "choice",
        help="ready tools, one of: %(choices)s",
        flag="--example",
        metavar="NAME",
        choices=tuple(sorted(EXAMPLES)),
    ),
    Field(
        "mode",
        help="a mode (repeat or comma-separate for several)",
        flag="--mode",
        metavar="MODE",
        cli={"action": "append"},
    ),
    Field("schema", help="JSON Schema for json_schema", flag="--schema", metavar="FILE"),
    Field("regex", help="regular expression for regex", flag="--regex", metavar="R"),
    Field("choice", help="choices for choice", flag="--choice", metavar="A,B"),
    Field("grammar", help="EBNF grammar for grammar", flag="--grammar", metavar="FILE_OR_TEXT"),
    Field(
        "expect_tool",
        help="the tool a right answer calls (also count right/wrong tool)",
        flag="--expect-tool",
        metavar="NAME",
    ),
    Field("strict", "switch", help='"strict": true on tools and schema', flag="--strict"),
    Field(
        "parallel_tool_calls",
        "switch",
        help="send parallel_tool_calls true or false (vLLM's default: true)",
        flag="--parallel-tool-calls",
        cli={"action": argparse.BooleanOptionalAction},
    ),
    Field(
        "temperatures",
        help=f"temperatures (default {', '.join(f'{t:g}' for t in TEMPERATURES)})",
        flag="--temperatures",
        metavar="T,T",
    ),
    Field(
        "samples",
        "whole",
        help=f"samples per temperature ({SAMPLES})",
        flag="--samples",
        metavar="N",
    ),
    Field(
        "max_tokens",
        "whole",
        help=f"max tokens per sample ({MAX_TOKENS})",
        flag="--max-tokens",
        metavar="N",
    ),
    Field("seed", "whole", help="sample i gets seed N+i", flag="--seed", metavar="N"),
    Field("stream", "switch", help="stream the responses", flag="--stream"),
    Field(
        "extra_body",
        help="more request fields (JSON object), merged last",
        flag="--extra-body",
        metavar="JSON",
    ),
    Field(
        "concurrency",
        "whole",
        DEFAULT_CONCURRENCY,
        "samples in flight at once ({default})",
        "--concurrency",
        "N",
    ),
)
"""Every setting of a playground session, in the order of ``try --help``. Left out, a flag is
``None`` (``--session`` or the session's default applies), but ``--concurrency``: how the
command sends, not part of the session."""
