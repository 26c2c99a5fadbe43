"""What the playground's unit tests share: two example tools and a session that passes."""

from __future__ import annotations

import json
from typing import Any

from naptha_tui.backends.playground import examples
from naptha_tui.backends.playground.spec import MODE_NAMES, Problem, Spec

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
