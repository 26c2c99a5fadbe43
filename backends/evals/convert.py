"""BFCL function documents as OpenAI tools, the way the leaderboard sends them to FC models.

BFCL writes its parameters in its own dialect: ``"type": "dict"`` for objects, ``float``,
``tuple``, ``any``, Java's and JavaScript's names. The leaderboard's own converter
(``bfcl_eval/model_handler/utils.py`` ``convert_to_tool`` with ``GORILLA_TO_OPENAPI``) maps
them; this does the same, with three differences, each so that what is sent is valid JSON
Schema and a problem is named rather than hidden:

- a type name outside the map is an error (BFCL silently sends ``string``);
- BFCL's own ``optional`` keyword (not JSON Schema; ``required`` already says it) is dropped;
- every converted schema is checked against its meta-schema (jsonschema).

As BFCL does for OpenAI-style models: ``.`` in a function name becomes ``_`` (OpenAI names are
``^[a-zA-Z0-9_-]{1,64}$``), a parameter without a type is a string, and a ``float`` parameter
gets ``"format": "float"`` and " This is a float type value." in its description. The names
map (sent name to BFCL's name) lets the decoder give the checker BFCL's names back.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from naptha_tui.backends.errors import NapthaError

TYPE_MAP: dict[str, str] = {
    # bfcl_eval/constants/type_mappings.py GORILLA_TO_OPENAPI (2026.3.23)
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "double": "number",
    "char": "string",
    "ArrayList": "array",
    "Array": "array",
    "HashMap": "object",
    "Hashtable": "object",
    "Queue": "array",
    "Stack": "array",
    "Any": "string",
    "String": "string",
    "Bigint": "integer",
    # JSON Schema's own, so a document already in it passes through
    "null": "null",
}
DROPPED = frozenset({"optional"})
"""BFCL keywords that are not JSON Schema."""
FLOAT_NOTE = " This is a float type value."
# one validator of the meta-schema, reused: check_schema builds a new one per call, and the
# 2020-12 meta-schema's references make that ~4 ms a function (8576 in the Python categories)
_META = jsonschema.Draft202012Validator(jsonschema.Draft202012Validator.META_SCHEMA)
OPENAI_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


class ConversionError(NapthaError):
    """A function document that does not convert; names the function and the parameter."""

    def __init__(self, function: str, parameter: str | None, message: str) -> None:
        where = f"function {function!r}" + (f", parameter {parameter!r}" if parameter else "")
        super().__init__(f"{where}: {message}")
        self.function = function
        self.parameter = parameter
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "parameter": self.parameter, "message": self.message}


@dataclass(frozen=True)
class Tools:
    """A case's functions as sent, and the way back to BFCL's names."""

    tools: list[dict[str, Any]]
    names: dict[str, str] = field(default_factory=dict)
    """Sent name to BFCL's name (``math_factorial`` to ``math.factorial``)."""


def sent_name(name: str) -> str:
    """The tool name an OpenAI-style model gets for BFCL's ``name``."""
    return name.replace(".", "_")


def _type(value: Any, function: str, where: str | None) -> str | list[str]:
    names = value if isinstance(value, list) else [value]
    out = []
    for t in names:
        if not isinstance(t, str):
            raise ConversionError(function, where, f"type {t!r} is not a type name")
        if t not in TYPE_MAP:
            raise ConversionError(function, where, f"type {t!r} has no JSON Schema equivalent here")
        out.append(TYPE_MAP[t])
    return out if isinstance(value, list) else out[0]


def _schema(schema: Any, function: str, where: str | None, *, is_property: bool) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise ConversionError(function, where, f"its schema is not an object: {schema!r}")
    out = {k: copy.deepcopy(v) for k, v in schema.items() if k not in DROPPED}
    if "type" not in schema:
        out["type"] = "string"  # BFCL's rule for a parameter without one
    else:
        out["type"] = _type(schema["type"], function, where)
        if is_property and schema["type"] == "float":
            out["format"] = "float"
            out["description"] = str(schema.get("description", "")) + FLOAT_NOTE
    if "properties" in schema:
        props = schema["properties"]
        if not isinstance(props, dict):
            raise ConversionError(function, where, "'properties' is not an object")
        out["properties"] = {
            name: _schema(sub, function, _join(where, name), is_property=True)
            for name, sub in props.items()
        }
    if "items" in schema:
        items = schema["items"]
        at = _join(where, "[]")
        if isinstance(items, list):
            out["items"] = [_schema(i, function, at, is_property=False) for i in items]
        else:
            out["items"] = _schema(items, function, at, is_property=False)
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _schema(
            schema["additionalProperties"], function, _join(where, "{}"), is_property=False
        )
    return out


def _join(where: str | None, name: str) -> str:
    if where is None:
        return name
    return f"{where}{name}" if name == "[]" else f"{where}.{name}"


def schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not valid JSON Schema (the 2020-12 meta-schema says), or None."""
    error = jsonschema.exceptions.best_match(_META.iter_errors(schema))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"not valid JSON Schema: {error.message}" + (f" (at {where})" if where else "")


def to_tool(function: Any) -> dict[str, Any]:
    """One BFCL function document as an OpenAI tool (a fresh copy each call).

    Raises:
        ConversionError: no name, a name OpenAI cannot take, a type outside the map, a
            schema that is not an object, or a result that is not valid JSON Schema.
    """
    try:
        key = json.dumps(function, sort_keys=True)
    except (TypeError, ValueError):
        return _to_tool(function)
    return copy.deepcopy(_cached(key))


@functools.lru_cache(maxsize=8192)
def _cached(key: str) -> dict[str, Any]:
    """Live categories offer the same functions again and again (3108 distinct of 8576)."""
    return _to_tool(json.loads(key))


def _to_tool(function: Any) -> dict[str, Any]:
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise ConversionError(str(function)[:40], None, "not a function document (no 'name')")
    name = function["name"]
    sent = sent_name(name)
    if not OPENAI_NAME.fullmatch(sent):
        raise ConversionError(name, None, f"{sent!r} cannot be an OpenAI tool name")
    params = function.get("parameters", {"type": "dict", "properties": {}})
    if not isinstance(params, dict):
        raise ConversionError(name, None, "'parameters' is not an object")
    schema = _schema({**params, "type": "dict"}, name, None, is_property=False)
    why = schema_problem(schema)
    if why:
        raise ConversionError(name, None, f"the converted parameters are {why}")
    return {
        "type": "function",
        "function": {
            "name": sent,
            "description": str(function.get("description", "")),
            "parameters": schema,
        },
    }


def to_tools(functions: Sequence[Any]) -> Tools:
    """A case's functions as tools; the first one that does not convert raises.

    Raises:
        ConversionError: see :func:`to_tool`; also two functions with one sent name.
    """
    tools = []
    names: dict[str, str] = {}
    for f in functions:
        tool = to_tool(f)
        sent = tool["function"]["name"]
        if sent in names:
            raise ConversionError(
                f["name"], None, f"sent as {sent!r}, the name {names[sent]!r} is also sent as"
            )
        names[sent] = f["name"]
        tools.append(tool)
    return Tools(tools, names)
