"""OpenAI tool calls in the form BFCL's checker reads: ``[{func_name: {param: value}}]``.

The leaderboard's OpenAI FC handler (``openai_completion.py`` ``decode_ast``) does exactly
``{call.function.name: json.loads(call.function.arguments)}`` for each call, and a reply
without ``tool_calls`` (text) fails to decode. This does the same, plus the way back from the
sent name to BFCL's (``math_factorial`` to ``math.factorial``): the checker is loaded with
``underscore_to_dot = False`` for every model (see :mod:`.checker`), so it compares BFCL's own
names, and this module owns the translation the leaderboard does with that flag.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Call = dict[str, dict[str, Any]]
"""One call in the checker's form: ``{func_name: {param: value}}``."""


@dataclass(frozen=True)
class Decoded:
    """What came back, decoded; ``error`` when BFCL's decoder would have failed."""

    calls: list[Call]
    error: str | None = None
    error_type: str | None = None
    """BFCL's: ``ast_decoder:decoder_failed`` or ``ast_decoder:decoder_wrong_output_format``."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def empty(self) -> bool:
        """No call decoded (BFCL's ``is_empty_output``): what the irrelevance categories want."""
        return self.error is not None or not self.calls


def sent_calls(tool_calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Names and arguments exactly as sent back (for the saved record)."""
    out = []
    for c in tool_calls:
        fn = c.get("function") or {}
        out.append({"name": fn.get("name"), "arguments": fn.get("arguments")})
    return out


def decode(tool_calls: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> Decoded:
    """``tool_calls`` of a chat completion message, as the checker's list of calls.

    Args:
        tool_calls: the message's ``tool_calls`` (empty when the model answered in text).
        names: sent tool name to BFCL's function name; a name not in it is kept as is.
    """
    if not tool_calls:
        return Decoded(
            [],
            "Invalid syntax. Failed to decode AST. No tool call came back "
            "(the model answered in text).",
            "ast_decoder:decoder_failed",
        )
    calls: list[Call] = []
    for i, c in enumerate(tool_calls):
        fn = c.get("function") if isinstance(c, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            return Decoded(
                calls,
                f"Invalid syntax. Failed to decode AST. Tool call #{i} has no function name.",
                "ast_decoder:decoder_failed",
            )
        name = names.get(fn["name"], fn["name"])
        raw = fn.get("arguments")
        if isinstance(raw, str):
            try:
                args = json.loads(raw)
            except json.JSONDecodeError as exc:
                return Decoded(
                    calls,
                    f"Invalid syntax. Failed to decode AST. The arguments of {fn['name']!r} "
                    f"are not JSON: {exc.msg} at char {exc.pos}.",
                    "ast_decoder:decoder_failed",
                )
        else:
            args = raw
        if not isinstance(args, dict):
            return Decoded(
                calls,
                "Did not output in the specified format. The arguments of "
                f"{fn['name']!r} are not a JSON object: {json.dumps(args)[:200]}.",
                "ast_decoder:decoder_wrong_output_format",
            )
        calls.append({name: args})
    return Decoded(calls)
