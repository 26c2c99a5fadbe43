"""Tool-call parsers: a pure parsing core per output format, importable without vLLM.

``FORMATS`` maps each vLLM parser name our plugin registers to its stream machine and the
tool-call id style its family's templates expect. ``parse(name, text)`` is the non-streaming
answer; ``stream(name)`` a fresh machine to ``feed`` pieces into. ``naptha_vllm_plugin.py``
(loaded by vLLM with ``--tool-parser-plugin``) adapts these to vLLM's ToolParser API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .base import (
    ID_STYLES,
    CallDelta,
    Delta,
    IdFactory,
    Parsed,
    StreamParser,
    ToolCall,
    parse_with,
)
from .fallback import JsonCallsParser
from .minicpm import MiniCPM3Parser
from .tagged import FunctionaryParser, HermesParser

__all__ = [
    "FORMATS",
    "CallDelta",
    "Delta",
    "Format",
    "Parsed",
    "StreamParser",
    "ToolCall",
    "parse",
    "stream",
]


@dataclass(frozen=True)
class Format:
    """One output format: its machine, the id style of its family, and what it looks like."""

    machine: Callable[[IdFactory], StreamParser]
    id_style: str
    example: str


FORMATS: dict[str, Format] = {
    "naptha_hermes": Format(
        HermesParser,
        "openai",
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    ),
    "naptha_functionary": Format(
        FunctionaryParser, "openai", '<function=get_weather>{"city": "Paris"}</function>'
    ),
    "naptha_minicpm3": Format(
        MiniCPM3Parser,
        "openai",
        '<|tool_call_start|>\n```python\nget_weather(city="Paris")\n```\n<|tool_call_end|>',
    ),
    "naptha_json": Format(
        JsonCallsParser, "openai", '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    ),
}


def stream(name: str, id_style: str | None = None) -> StreamParser:
    """A fresh stream machine for format ``name`` (a key of ``FORMATS``)."""
    fmt = FORMATS[name]
    return fmt.machine(ID_STYLES[id_style or fmt.id_style])


def parse(name: str, text: str, id_style: str | None = None) -> Parsed:
    """The calls in a complete output of format ``name``; malformed output is content."""
    return parse_with(stream(name, id_style), text)
