"""What the playground's unit tests share: example tools, a call, and sessions that pass."""

from __future__ import annotations

import json
from typing import Any

from naptha_tui.backends.playground import examples
from naptha_tui.backends.playground.spec import MODE_NAMES, Spec
from naptha_tui.backends.runs.fields import Problem

WEATHER = examples.TOOLS[0]
TIMER = examples.TOOLS[-1]
assert WEATHER["function"]["name"] == "get_weather" and TIMER["function"]["name"] == "set_timer"


def good_spec(**over: Any) -> Spec:
    """A session that passes every check, with one tool of each mode's inputs."""
    fields: dict[str, Any] = {
        "model": "m",
        "prompt": examples.WEATHER_PROMPT,
        "tools": [WEATHER, TIMER],
        "modes": [*(m for m in MODE_NAMES if m != "tool:NAME"), "tool:get_weather"],
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        "regex": r"[A-Z][a-z]+",
        "choice": ["yes", "no"],
        "grammar": 'root ::= "yes" | "no"',
        "temperatures": [0.0, 0.7],
        "samples": 2,
    }
    return Spec.model_validate(fields | over)


def fields_of(problems: list[Problem]) -> list[str]:
    return [p.field for p in problems]


def call(name: str, arguments: Any) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}


WEATHER_ARGS = {"city": "Paris"}
WEATHER_CALL = {
    "id": "call_0",
    "type": "function",
    "function": {"name": "get_weather", "arguments": json.dumps(WEATHER_ARGS)},
}


def weather_spec(**over: Any) -> Spec:
    fields: dict[str, Any] = {
        "model": "m",
        "prompt": examples.WEATHER_PROMPT,
        "tools": examples.tools(1),
        "modes": ["tools-required"],
        "parallel_tool_calls": False,
    }
    return Spec.model_validate(fields | over)
