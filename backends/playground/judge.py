"""Is a sample valid? And did a call land in ``content`` instead of ``tool_calls``?

:func:`verdict` checks one sample against what its mode asked for: a tool that exists, its
arguments parse and validate against that tool's JSON Schema (jsonschema), the named tool when
one was forced; or the content parses and matches the schema / regex / choice.

:func:`mismatches` looks at ``content`` for calls written in a known family format (Hermes
tags, bare JSON calls, ``[TOOL_CALLS]``, pythonic lists, ``<function=...>``, MiniCPM3 blocks),
reads them with the project's own parsers (``backends/toolcalls``), and names the parsers that
read that format and whether the server's parser is one of them.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from naptha_tui.backends import toolcalls
from naptha_tui.backends.toolcalls.minicpm import python_calls

from .spec import Mode, Spec


@dataclass(frozen=True)
class Verdict:
    """``valid`` is None where nothing here can check it (a grammar's output)."""

    valid: bool | None
    problems: tuple[str, ...] = ()
    checked: tuple[str, ...] = ()
    """What was checked and held (``get_weather: arguments match its schema``)."""
    right_tool: bool | None = None
    """Every call is to the session's ``expect_tool`` (None: no tool expected, or no tool mode).
    A valid call can still be the wrong tool: guided decoding makes any offered tool valid."""

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "problems": list(self.problems),
            "checked": list(self.checked),
            "right_tool": self.right_tool,
        }


def _schema_errors(schema: dict[str, Any], value: Any) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    out = []
    for err in sorted(validator.iter_errors(value), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in err.path)
        out.append(f"{where + ': ' if where else ''}{err.message}")
    return out


def check_calls(spec: Spec, mode: Mode, calls: Sequence[dict[str, Any]]) -> Verdict:
    """The tool calls a tool mode got back, each against its tool's schema."""
    if not calls:
        return Verdict(False, ("no tool call (the answer went to content)",))
    problems: list[str] = []
    checked: list[str] = []
    names = spec.tool_names()
    for call in calls:
        fn = call.get("function") or {}
        name = fn.get("name")
        if mode.kind == "tool" and name != mode.tool:
            problems.append(f"called {name!r}, not the forced tool {mode.tool!r}")
        schema = spec.tool_schema(name) if isinstance(name, str) else None
        if schema is None:
            problems.append(f"hallucinated tool {name!r} (tools: {', '.join(names)})")
            continue
        raw = fn.get("arguments")
        try:
            args = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as exc:
            problems.append(f"{name}: arguments are not JSON ({exc.msg} at char {exc.pos})")
            continue
        if not isinstance(args, dict):
            problems.append(f"{name}: arguments are not a JSON object")
            continue
        errors = _schema_errors(schema, args)
        problems += [f"{name}: arguments: {e}" for e in errors]
        if not errors:
            checked.append(f"{name}: arguments match its schema")
    return Verdict(not problems, tuple(problems), tuple(checked))


def check_content(spec: Spec, mode: Mode, content: str | None) -> Verdict:
    """The content a plain or structured-output mode got back."""
    text = content or ""
    if mode.kind == "plain":
        return Verdict(bool(text.strip()), () if text.strip() else ("empty content",))
    if mode.kind == "grammar":
        return Verdict(None, (), ("not checked: naptha-tui has no EBNF checker",))
    if mode.kind == "regex":
        ok = re.fullmatch(spec.regex or "", text) is not None
        return Verdict(ok, () if ok else (f"content does not match {spec.regex!r}",))
    if mode.kind == "choice":
        ok = text in spec.choice
        return Verdict(ok, () if ok else (f"{text[:60]!r} is not one of {spec.choice}",))
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return Verdict(False, (f"content is not JSON ({exc.msg} at char {exc.pos})",))
    if mode.kind == "json_object":
        ok = isinstance(doc, dict)
        return Verdict(ok, () if ok else ("content is JSON but not an object",))
    errors = _schema_errors(spec.schema_ or {}, doc)
    return Verdict(not errors, tuple(errors), () if errors else ("content matches the schema",))


def verdict(
    spec: Spec,
    mode: Mode,
    content: str | None,
    calls: Sequence[dict[str, Any]],
    finish_reason: str | None,
) -> Verdict:
    """The sample's verdict; a cut-off output (``finish_reason: length``) says so."""
    got = check_calls(spec, mode, calls) if mode.uses_tools else check_content(spec, mode, content)
    if not mode.uses_tools and calls:
        got = Verdict(False, (*got.problems, f"{len(calls)} tool call(s) in a {mode} sample"))
    if finish_reason == "length" and got.valid is not True:
        got = Verdict(got.valid, (*got.problems, "cut off at max_tokens"), got.checked)
    if spec.expect_tool and mode.uses_tools:
        names = [(c.get("function") or {}).get("name") for c in calls]
        right = bool(names) and all(n == spec.expect_tool for n in names)
        wrong = (
            []
            if right or not names
            else [f"called {', '.join(map(str, names))}, expected {spec.expect_tool}"]
        )
        got = Verdict(got.valid, (*got.problems, *wrong), got.checked, right)
    return got


# ---------------------------------------------------------------------------------------------
# Calls written into content


@dataclass(frozen=True)
class Family:
    """A tool-call text format, how to spot it, and the parsers that read it."""

    name: str
    marker: re.Pattern[str]
    parsers: tuple[str, ...]
    """Parser names for ``--tool-call-parser`` (vLLM's and naptha's) that read it."""


FAMILIES = (
    Family("Hermes <tool_call> tags", re.compile(r"<tool_call>"), ("hermes", "naptha_hermes")),
    Family("<function=NAME> tags", re.compile(r"<function=[\w.-]+>"), ("naptha_functionary",)),
    Family("[TOOL_CALLS] prefix", re.compile(r"\[TOOL_CALLS\]"), ("mistral",)),
    Family("MiniCPM3 tool-call block", re.compile(r"<\|tool_call_start\|>"), ("naptha_minicpm3",)),
    Family("pythonic call list", re.compile(r"^\s*\[\s*[A-Za-z_][\w.]*\("), ("pythonic",)),
    Family(
        "bare JSON call",
        re.compile(r'"name"\s*:'),
        ("llama3_json", "naptha_json", "naptha_hermes", "naptha_functionary", "naptha_minicpm3"),
    ),
)


@dataclass(frozen=True)
class Mismatch:
    """Calls found in ``content``: the format, the calls, who reads it, what the server runs."""

    family: str
    calls: tuple[tuple[str, str], ...]
    """(name, JSON arguments) as our parser read them."""
    parsers: tuple[str, ...]
    server_parser: str | None
    server_reads: bool | None
    """None when the server's parser is unknown (a remote or cloud model)."""

    def message(self) -> str:
        names = ", ".join(n for n, _ in self.calls)
        head = (
            f"content holds {len(self.calls)} call(s) in {self.family} format ({names}); "
            f"read by: {', '.join(self.parsers)}"
        )
        if self.server_parser is None:
            return head + "; the server's parser is not known here"
        if self.server_reads:
            return (
                head + f"; the server runs {self.server_parser}, which reads this format: "
                "were tools sent, and is enable_auto_tool_choice on?"
            )
        return (
            head + f"; the server runs {self.server_parser}, which does not read it: "
            f"use tool_call_parser: {self.parsers[0]} (or a template that teaches its format)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "calls": [{"name": n, "arguments": a} for n, a in self.calls],
            "parsers": list(self.parsers),
            "server_parser": self.server_parser,
            "server_reads": self.server_reads,
            "message": self.message(),
        }


def _pythonic(text: str) -> list[tuple[str, str]] | None:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(tree.body, ast.List) or not tree.body.elts:
        return None
    lines = [ast.unparse(e) for e in tree.body.elts if isinstance(e, ast.Call)]
    if len(lines) != len(tree.body.elts):
        return None
    return python_calls("\n".join(lines))


def read_family(family: Family, text: str) -> list[tuple[str, str]]:
    """The calls in ``text`` written in ``family``'s format, read by our parsers."""
    if family.name.startswith("pythonic"):
        return _pythonic(text) or []
    if family.name.startswith("[TOOL_CALLS]"):
        text = text.split("[TOOL_CALLS]", 1)[1]
        fmt = "naptha_json"
    elif family.name.startswith("Hermes"):
        fmt = "naptha_hermes"
    elif family.name.startswith("<function="):
        fmt = "naptha_functionary"
    elif family.name.startswith("MiniCPM3"):
        fmt = "naptha_minicpm3"
    else:
        fmt = "naptha_json"
    return [(c.name, c.arguments) for c in toolcalls.parse(fmt, text).calls]


def server_reads(parser: str, text: str, family: Family) -> bool:
    """Would the server's parser find calls in ``text``? Ours are run; vLLM's are looked up."""
    if parser in toolcalls.FORMATS:
        return bool(toolcalls.parse(parser, text).calls)
    return parser in family.parsers


def mismatches(content: str | None, server_parser: str | None) -> list[Mismatch]:
    """Calls written in ``content`` in a known family format (at most one finding per format)."""
    if not content:
        return []
    found = []
    for family in FAMILIES:
        if not family.marker.search(content):
            continue
        calls = read_family(family, content)
        if not calls:
            continue
        found.append(
            Mismatch(
                family.name,
                tuple(calls),
                family.parsers,
                server_parser,
                None if server_parser is None else server_reads(server_parser, content, family),
            )
        )
        if family.name.startswith(("Hermes", "[TOOL_CALLS]")):
            break  # their JSON is also a bare JSON call: one finding is enough
    return found
