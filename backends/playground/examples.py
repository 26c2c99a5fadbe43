"""Ready tools for the playground's editor and the reliability benchmark.

Ten ordinary agent tools with small, strict schemas. ``tools(n)`` offers the first ``n``, with
``get_weather`` always first, so a prompt about the weather has exactly one right tool however
many are offered (the benchmark's 1, 4 and 10 tools).
"""

from __future__ import annotations

from typing import Any


def _tool(
    name: str, description: str, props: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


_S = {"type": "string"}

TOOLS: list[dict[str, Any]] = [
    _tool(
        "get_weather",
        "Current weather in a city",
        {"city": _S, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        ["city"],
    ),
    _tool(
        "search_web", "Search the web", {"query": _S, "max_results": {"type": "integer"}}, ["query"]
    ),
    _tool(
        "send_email",
        "Send an email",
        {"to": _S, "subject": _S, "body": _S},
        ["to", "subject", "body"],
    ),
    _tool("calculator", "Evaluate an arithmetic expression", {"expression": _S}, ["expression"]),
    _tool(
        "get_stock_price",
        "Latest price of a stock ticker",
        {"ticker": {"type": "string", "pattern": "^[A-Z]{1,5}$"}},
        ["ticker"],
    ),
    _tool(
        "create_event",
        "Add an event to the calendar",
        {"title": _S, "date": {"type": "string", "format": "date"}, "hours": {"type": "number"}},
        ["title", "date"],
    ),
    _tool(
        "translate",
        "Translate text",
        {"text": _S, "target_language": _S},
        ["text", "target_language"],
    ),
    _tool("read_file", "Read a file", {"path": _S}, ["path"]),
    _tool(
        "book_flight",
        "Book a flight",
        {
            "origin": _S,
            "destination": _S,
            "date": _S,
            "passengers": {"type": "integer", "minimum": 1},
        },
        ["origin", "destination", "date"],
    ),
    _tool(
        "set_timer", "Start a timer", {"minutes": {"type": "integer", "minimum": 1}}, ["minutes"]
    ),
]

WEATHER_PROMPT = "What is the weather in Paris right now?"

EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "weather": TOOLS[:1],
    "assistant-4": TOOLS[:4],
    "assistant-10": TOOLS,
}
"""Named tool sets for the editor's examples and ``try --example``."""


def tools(n: int) -> list[dict[str, Any]]:
    """The first ``n`` example tools (``get_weather`` first)."""
    return TOOLS[:n]
