"""Tool-call parsers on real output shapes of each model family, streamed and not.

Every table case is checked non-streaming (``parse``) and streamed under many chunkings: the
whole text, one character at a time, every split into two pieces, random piece sizes (fixed
seeds) and token-like pieces. Streaming must give the same calls and content as ``parse``, and
the argument pieces of each call must concatenate to exactly its final ``arguments``.

Whitespace behaviour the tests pin (the parsers' choice, not a protocol rule): content before
a call keeps its trailing whitespace; whitespace between calls and after the last call is
dropped; text after a closing tag keeps its leading whitespace (after a bare JSON call it does
not) and loses its trailing whitespace; a MiniCPM3 thought loses its tags but keeps the
newlines around it, with or without a call.
"""

from __future__ import annotations

import gc
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from naptha_tui.backends.toolcalls import FORMATS, StreamParser, ToolCall, parse, stream

HERMES, FUNCTIONARY, MINICPM, JSON = (
    "naptha_hermes",
    "naptha_functionary",
    "naptha_minicpm3",
    "naptha_json",
)
OPENAI_ID = re.compile(r"call_[A-Za-z0-9]{24}")
MISTRAL_ID = re.compile(r"[A-Za-z0-9]{9}")
# special tokens of the families' vocabularies: one token each when a tokenizer emits them
SPECIAL = (
    "<tool_call>",
    "</tool_call>",
    "</function>",
    "<|thought_start|>",
    "<|thought_end|>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
)
_SPECIAL_SPLIT = re.compile("(" + "|".join(map(re.escape, SPECIAL)) + ")")
_TOKEN = re.compile(r" ?[A-Za-z]+| ?[0-9]{1,3}|\s+|[^\sA-Za-z0-9]{1,2}")


# -- running a stream


@dataclass
class Streamed:
    """A whole stream, assembled the way an OpenAI client does it (calls by index)."""

    content: str
    calls: list[ToolCall]
    pieces: list[list[str]]  # the arguments pieces of each call, as they came
    failed: bool
    machine: StreamParser = field(repr=False)

    @property
    def content_or_none(self) -> str | None:
        """The content as ``parse`` reports it: None when blank."""
        return self.content if self.content.strip() else None


def run_stream(fmt: str, pieces: list[str], id_style: str | None = None) -> Streamed:
    """Feed ``pieces`` then finish; check the delta protocol while assembling the calls.

    A call's first delta carries its id and name (and only that delta does); indices are
    0, 1, 2, ... in order, and argument pieces go to the call most recently started.
    """
    machine = stream(fmt, id_style)
    errors = _record_errors(machine)
    content: list[str] = []
    ids: list[str] = []
    names: list[str] = []
    args: list[list[str]] = []
    deltas = [machine.feed(piece) for piece in pieces]
    deltas.append(machine.finish())
    for delta in deltas:
        assert isinstance(delta.content, str)
        content.append(delta.content)
        for piece in delta.calls:
            if piece.index == len(ids):
                assert piece.id and piece.name, f"call {piece.index} starts without id/name"
                ids.append(piece.id)
                names.append(piece.name)
                args.append([])
            else:
                assert piece.index == len(ids) - 1, f"delta for call {piece.index} out of order"
                assert piece.id is None and piece.name is None, "id/name sent twice"
            if piece.arguments:
                args[piece.index].append(piece.arguments)
    assert not errors, f"the machine swallowed an internal error: {errors[0]!r}"
    calls = [ToolCall(i, n, "".join(a)) for i, n, a in zip(ids, names, args, strict=True)]
    if not machine.failed:  # every started call completed, exactly as streamed
        assert machine.calls == calls
    return Streamed("".join(content), calls, args, machine.failed, machine)


def _record_errors(machine: StreamParser) -> list[Exception]:
    """Exceptions that ``feed``/``finish`` swallow (by design, to keep a stream alive).

    A swallowed exception is still a parser bug: the tests want none.
    """
    errors: list[Exception] = []
    for attr in ("_consume", "_flush"):
        method = getattr(machine, attr)

        def recording(*args: Any, _method: Callable[..., None] = method) -> None:
            try:
                _method(*args)
            except Exception as exc:
                errors.append(exc)
                raise

        setattr(machine, attr, recording)
    return errors


def token_pieces(text: str) -> list[str]:
    """Roughly what a BPE tokenizer emits: special tags whole, words, digits, punctuation."""
    out: list[str] = []
    for part in _SPECIAL_SPLIT.split(text):
        if part in SPECIAL:
            out.append(part)
        elif part:
            out.extend(_TOKEN.findall(part))
    assert "".join(out) == text
    return out


def random_pieces(text: str, seed: int, most: int = 8) -> list[str]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        k = rng.randint(1, most)
        out.append(text[i : i + k])
        i += k
    return out


def chunkings(text: str, *, all_splits: bool = True) -> dict[str, list[str]]:
    """Named ways to cut ``text`` into stream pieces."""
    out = {
        "whole": [text],
        "chars": list(text),
        "tokens": token_pieces(text),
        **{f"random{seed}": random_pieces(text, seed) for seed in range(4)},
        "random-large": random_pieces(text, 99, most=40),
    }
    if all_splits and len(text) <= 1000:
        out.update({f"split@{k}": [text[:k], text[k:]] for k in range(1, len(text))})
    return out


def names_args(calls: tuple[ToolCall, ...] | list[ToolCall]) -> list[tuple[str, Any]]:
    return [(c.name, json.loads(c.arguments)) for c in calls]


# -- the table

Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Case:
    id: str
    fmt: str
    text: str
    calls: list[Call]
    content: str | None = None


WEATHER = {"location": "San Francisco, CA, USA", "unit": "celsius"}
NESTED = {
    "filter": {"tags": ["urgent", "work"], "range": {"min": -1, "max": 2.5e3}},
    "flags": [True, False, None],
    "limit": 10,
}
TRICKY_STRINGS = {
    "code": 'if (x) { return "}"; } else { s = "]{["; }',
    "quote": 'she said "hi" \\ then left',
    "tags": "</tool_call> <tool_call> </function> ```",
    "unicode": "Zürich — 東京 🌧 \u2028 é",
}


def hermes_call(name: str, args: dict[str, Any], **dump: Any) -> str:
    body = json.dumps({"name": name, "arguments": args}, **dump)
    return f"<tool_call>\n{body}\n</tool_call>"


CASES = [
    # Hermes 3 / Qwen2.5 / SmolLM2-with-our-template
    Case(
        "hermes-one",
        HERMES,
        hermes_call("get_current_temperature", WEATHER),
        [("get_current_temperature", WEATHER)],
    ),
    Case(
        "hermes-two-calls",
        HERMES,
        hermes_call("get_current_temperature", {"location": "Paris, France"})
        + "\n"
        + hermes_call("get_temperature_date", {"location": "Paris, France", "date": "2024-10-01"}),
        [
            ("get_current_temperature", {"location": "Paris, France"}),
            ("get_temperature_date", {"location": "Paris, France", "date": "2024-10-01"}),
        ],
    ),
    Case(
        "hermes-three-calls-blank-lines",
        HERMES,
        "\n\n".join(hermes_call(f"step_{i}", {"n": i}) for i in range(3)) + "\n",
        [(f"step_{i}", {"n": i}) for i in range(3)],
    ),
    Case(
        "hermes-content-before",
        HERMES,
        "I'll look up the weather for you.\n" + hermes_call("get_weather", {"city": "Paris"}),
        [("get_weather", {"city": "Paris"})],
        "I'll look up the weather for you.\n",
    ),
    Case(
        "hermes-content-after",
        HERMES,
        hermes_call("get_weather", {"city": "Paris"}) + "\nI asked for the weather.\n",
        [("get_weather", {"city": "Paris"})],
        "\nI asked for the weather.",
    ),
    Case(
        "hermes-content-between",
        HERMES,
        "First:\n" + hermes_call("a", {}) + "\nthen:\n" + hermes_call("b", {"x": [1, 2]}) + "\n\n",
        [("a", {}), ("b", {"x": [1, 2]})],
        "First:\n\nthen:",
    ),
    Case(
        "hermes-no-closing-tag",
        HERMES,
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "hermes-no-closing-tag-between-calls",
        HERMES,
        '<tool_call>\n{"name": "a", "arguments": {"i": 1}}\n'
        '<tool_call>\n{"name": "b", "arguments": {"i": 2}}',
        [("a", {"i": 1}), ("b", {"i": 2})],
    ),
    Case(
        "hermes-parameters-key",
        HERMES,
        '<tool_call>\n{"name": "search", "parameters": {"query": "vLLM tool calling"}}\n'
        "</tool_call>",
        [("search", {"query": "vLLM tool calling"})],
    ),
    Case(
        "hermes-arguments-before-name",
        HERMES,
        '<tool_call>\n{"arguments": {"city": "Paris", "days": 3}, "name": "forecast"}\n'
        "</tool_call>",
        [("forecast", {"city": "Paris", "days": 3})],
    ),
    Case(
        "hermes-extra-keys-skipped",
        HERMES,
        '<tool_call>\n{"id": 7, "type": "function", "meta": {"a": [1, {"b": "}"}]}, '
        '"name": "f", "ok": true, "arguments": {"x": 1}}\n</tool_call>',
        [("f", {"x": 1})],
    ),
    Case(
        "hermes-arguments-as-string",
        HERMES,
        '<tool_call>\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}\n'
        "</tool_call>",
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "hermes-no-arguments",
        HERMES,
        '<tool_call>\n{"name": "get_time"}\n</tool_call>',
        [("get_time", {})],
    ),
    Case(
        "hermes-unicode-ascii-escaped",
        HERMES,
        hermes_call("translate", TRICKY_STRINGS),
        [("translate", TRICKY_STRINGS)],
    ),
    Case(
        "hermes-unicode-raw",
        HERMES,
        "Voilà :\n" + hermes_call("translate", TRICKY_STRINGS, ensure_ascii=False),
        [("translate", TRICKY_STRINGS)],
        "Voilà :\n",
    ),
    Case(
        "hermes-nested-indented",
        HERMES,
        hermes_call("query", NESTED, indent=2),
        [("query", NESTED)],
    ),
    Case(
        "hermes-compact-no-newlines",
        HERMES,
        '<tool_call>{"name":"f","arguments":{"a":{"b":[{"c":"{}"}]}}}</tool_call>',
        [("f", {"a": {"b": [{"c": "{}"}]}})],
    ),
    Case(
        "hermes-fallback-bare-json",
        HERMES,
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "hermes-fallback-fenced",
        HERMES,
        '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "hermes-fallback-list",
        HERMES,
        '[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}]',
        [("a", {"x": 1}), ("b", {})],
    ),
    Case(
        "hermes-fallback-bare-then-tag",
        HERMES,
        '{"name": "a", "arguments": {}}\n<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>',
        [("a", {}), ("b", {})],
    ),
    # functionary v3.1 (Llama 3.1)
    Case(
        "functionary-one",
        FUNCTIONARY,
        '<function=get_current_weather>{"location": "Hanoi"}</function>',
        [("get_current_weather", {"location": "Hanoi"})],
    ),
    Case(
        "functionary-back-to-back",
        FUNCTIONARY,
        '<function=get_current_weather>{"location": "Hanoi"}</function>'
        '<function=get_current_weather>{"location": "Istanbul"}</function>'
        '<function=get_time>{"tz": "Europe/Istanbul"}</function>',
        [
            ("get_current_weather", {"location": "Hanoi"}),
            ("get_current_weather", {"location": "Istanbul"}),
            ("get_time", {"tz": "Europe/Istanbul"}),
        ],
    ),
    Case(
        "functionary-text-before",
        FUNCTIONARY,
        "Let me check the weather in both cities."
        '<function=get_current_weather>{"location": "Hanoi"}</function>\n'
        '<function=get_current_weather>{"location": "Istanbul"}</function>',
        [
            ("get_current_weather", {"location": "Hanoi"}),
            ("get_current_weather", {"location": "Istanbul"}),
        ],
        "Let me check the weather in both cities.",
    ),
    Case(
        "functionary-no-closing-tag",
        FUNCTIONARY,
        '<function=get_current_weather>{"location": "Hanoi", "unit": "c"}',
        [("get_current_weather", {"location": "Hanoi", "unit": "c"})],
    ),
    Case(
        "functionary-empty-args-dotted-name",
        FUNCTIONARY,
        "<function=clock.now>{}</function><function=ns:tool-x>{}</function>",
        [("clock.now", {}), ("ns:tool-x", {})],
    ),
    Case(
        "functionary-nested-tricky",
        FUNCTIONARY,
        "<function=run>" + json.dumps({**NESTED, **TRICKY_STRINGS}) + "</function>",
        [("run", {**NESTED, **TRICKY_STRINGS})],
    ),
    Case(
        "functionary-args-with-newlines",
        FUNCTIONARY,
        "<function=query>\n" + json.dumps(NESTED, indent=4) + "\n</function>",
        [("query", NESTED)],
    ),
    Case(
        "functionary-fallback-bare-json",
        FUNCTIONARY,
        '{"name": "get_weather", "parameters": {"city": "Oslo"}}',
        [("get_weather", {"city": "Oslo"})],
    ),
    # MiniCPM3-4B
    Case(
        "minicpm-thought-and-call",
        MINICPM,
        "<|thought_start|>\n我需要调用天气工具来查询巴黎的天气。\n<|thought_end|>\n"
        '<|tool_call_start|>\n```python\nget_weather(city="Paris", unit="celsius")\n```\n'
        "<|tool_call_end|>",
        [("get_weather", {"city": "Paris", "unit": "celsius"})],
        "\n我需要调用天气工具来查询巴黎的天气。\n\n",
    ),
    Case(
        "minicpm-no-thought",
        MINICPM,
        '<|tool_call_start|>\n```python\nget_weather(city="Paris")\n```\n<|tool_call_end|>',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "minicpm-several-in-one-block",
        MINICPM,
        "<|thought_start|>\nTwo lookups.\n<|thought_end|>\n<|tool_call_start|>\n```python\n"
        'get_weather(city="Paris")\nget_weather(city="Berlin")\nget_time(tz="CET")\n```\n'
        "<|tool_call_end|>",
        [
            ("get_weather", {"city": "Paris"}),
            ("get_weather", {"city": "Berlin"}),
            ("get_time", {"tz": "CET"}),
        ],
        "\nTwo lookups.\n\n",
    ),
    Case(
        "minicpm-end-tag-missing",
        MINICPM,
        '<|tool_call_start|>\n```python\nget_weather(city="Paris", days=3)\n```\n',
        [("get_weather", {"city": "Paris", "days": 3})],
    ),
    Case(
        "minicpm-end-tag-and-fence-missing",
        MINICPM,
        '<|tool_call_start|>\n```python\nget_weather(city="Paris", days=3)\n',
        [("get_weather", {"city": "Paris", "days": 3})],
    ),
    Case(
        "minicpm-unfenced",
        MINICPM,
        '<|tool_call_start|>\nget_weather(city="Paris")\n<|tool_call_end|>',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "minicpm-literals",
        MINICPM,
        "<|tool_call_start|>\n```python\nbook(guest=None, vip=True, late=False, nights=-2, "
        "price=99.5, tags=['a', \"b\"], room={'floor': 3, 'view': (1, 2)}, "
        "note='it\\'s \"ok\"', empty={}, city='Zürich 東京')\n```\n<|tool_call_end|>",
        [
            (
                "book",
                {
                    "guest": None,
                    "vip": True,
                    "late": False,
                    "nights": -2,
                    "price": 99.5,
                    "tags": ["a", "b"],
                    "room": {"floor": 3, "view": [1, 2]},
                    "note": 'it\'s "ok"',
                    "empty": {},
                    "city": "Zürich 東京",
                },
            )
        ],
    ),
    Case(
        "minicpm-backslashes",
        MINICPM,
        '<|tool_call_start|>\n```python\ngrep(pattern="\\d+\\s", path=r"C:\\tmp")\n```\n'
        "<|tool_call_end|>",
        [("grep", {"pattern": "\\d+\\s", "path": "C:\\tmp"})],
    ),
    Case(
        "minicpm-no-args-dotted-name",
        MINICPM,
        "<|tool_call_start|>\n```python\nclock.now()\n```\n<|tool_call_end|>",
        [("clock.now", {})],
    ),
    Case(
        "minicpm-multiline-call",
        MINICPM,
        "<|tool_call_start|>\n```python\nsearch(\n    query='a } b ) c',\n    k=5,\n)\n```\n"
        "<|tool_call_end|>",
        [("search", {"query": "a } b ) c", "k": 5})],
    ),
    Case(
        "minicpm-text-after-fence",
        MINICPM,
        "<|tool_call_start|>\n```python\nf(a=1)\n```\nThat is the call.",
        [("f", {"a": 1})],
        "\nThat is the call.",
    ),
    Case(
        "minicpm-two-blocks",
        MINICPM,
        "<|tool_call_start|>\n```python\nf(a=1)\n```\n<|tool_call_end|>\n"
        "<|tool_call_start|>\n```python\ng(b=2)\n```\n<|tool_call_end|>",
        [("f", {"a": 1}), ("g", {"b": 2})],
    ),
    Case(
        "minicpm-thought-then-answer",
        MINICPM,
        "<|thought_start|>\nNo tool is needed.\n<|thought_end|>\nThe answer is 4.",
        [],
        "\nNo tool is needed.\n\nThe answer is 4.",  # no call: still without the tags
    ),
    Case(
        "minicpm-fallback-bare-json",
        MINICPM,
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        [("get_weather", {"city": "Paris"})],
    ),
    # bare / fenced JSON
    Case(
        "json-bare",
        JSON,
        '{"name": "get_weather", "arguments": {"city": "Paris"}}',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "json-leading-whitespace",
        JSON,
        '\n  {"name": "get_weather", "arguments": {"city": "Paris"}}\n',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "json-fenced",
        JSON,
        '```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "json-fenced-no-language",
        JSON,
        '```\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```\n',
        [("get_weather", {"city": "Paris"})],
    ),
    Case(
        "json-list",
        JSON,
        '[{"name": "get_weather", "arguments": {"city": "Paris"}}, '
        '{"name": "get_weather", "arguments": {"city": "Tokyo"}}]',
        [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"})],
    ),
    Case(
        "json-fenced-list-indented",
        JSON,
        "```json\n"
        + json.dumps(
            [{"name": "a", "arguments": NESTED}, {"name": "b", "parameters": TRICKY_STRINGS}],
            indent=2,
        )
        + "\n```",
        [("a", NESTED), ("b", TRICKY_STRINGS)],
    ),
    Case(
        "json-objects-one-per-line",
        JSON,
        '{"name": "a", "arguments": {"i": 1}}\n{"name": "b", "arguments": {"i": 2}}\n',
        [("a", {"i": 1}), ("b", {"i": 2})],
    ),
    Case(
        "json-arguments-first-parameters",
        JSON,
        '{"parameters": {"q": "x"}, "name": "search"}',
        [("search", {"q": "x"})],
    ),
    Case(
        # debatable, pinned: leading JSON whose first key is "name" is a call, even without
        # arguments (other keys are skipped); the parsers do not know the request's tools
        "json-any-object-with-name-first",
        JSON,
        '{"name": "John", "age": 30}',
        [("John", {})],
    ),
    Case(
        "json-text-after",
        JSON,
        '{"name": "a", "arguments": {}}\nDone.',
        [("a", {})],
        "Done.",  # whitespace after a bare call is dropped, unlike after a tag
    ),
]

CASES += [
    Case(
        "json-call-then-other-json",
        JSON,
        '{"name": "a", "arguments": {}}\n{"answer": 42}\n',
        [("a", {})],
        '{"answer": 42}',  # not a call, so content: kept, not dropped
    ),
    Case(
        "hermes-bare-call-then-other-json",
        HERMES,
        '{"name": "a", "arguments": {}} {"answer": [1, "}"]} and more',
        [("a", {})],
        '{"answer": [1, "}"]} and more',
    ),
]

# outputs with no call: the text is content, unchanged, and nothing fails
NO_CALLS = [
    (HERMES, "The capital of France is Paris."),
    (HERMES, '{"answer": 42}'),
    (HERMES, '  {"answer": {"name": "x", "arguments": {}}}'),
    (HERMES, '[1, 2, {"name": 3}]'),
    (HERMES, 'Here is a call: {"name": "f", "arguments": {}} (not at the start)'),
    (HERMES, "```python\nprint('hello')\n```"),
    (HERMES, "Use `code` and a < b > c, and </tool_call> is just text."),
    (HERMES, "ends on a partial tag <tool_ca"),
    (HERMES, "  ``"),  # a partial fence after blanks: released in order
    (HERMES, "\n```js"),
    (FUNCTIONARY, "No tools needed: 2 + 2 = 4."),
    (FUNCTIONARY, "a </function> b <functio"),
    (FUNCTIONARY, "\t``"),
    (MINICPM, "巴黎今天晴, 气温 21°C."),
    (MINICPM, "x <| y |> z <|tool_call_"),
    (MINICPM, " \n`"),
    (JSON, "Sure! Paris is sunny."),
    (JSON, '{"answer": 42}'),
    (JSON, '```json\n{"answer": 42}\n```'),
    (JSON, "[1, 2, 3]"),
    (JSON, "``"),
    (JSON, '{"arguments": {"a": 1}, "name": '),
    (JSON, ""),
    (JSON, "   \n"),
]

DEEP = "[" * 3000 + "]" * 3000
# malformed calls: parse gives the whole text as content; the stream marks itself failed
MALFORMED = [
    (HERMES, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"\n</tool_call>'),
    (HERMES, '<tool_call>\n{"name": "get_weather", "arguments": {"city": Paris}}\n</tool_call>'),
    (HERMES, '<tool_call>\n{"name": "get_weather", "arguments": [1, 2]}\n</tool_call>'),
    (HERMES, '<tool_call>\n{"name": "get_weather", "arguments": "not json"}\n</tool_call>'),
    (HERMES, '<tool_call>\n{"name": "", "arguments": {}}\n</tool_call>'),
    (HERMES, '<tool_call>\n{"arguments": {"city": "Paris"}}\n</tool_call>'),
    (HERMES, "<tool_call>\nget_weather(city='Paris')\n</tool_call>"),
    (HERMES, 'Thinking.\n<tool_call>\n{"name": "get_weather", "argum'),
    (
        HERMES,
        '<tool_call>\n{"name": "a", "arguments": {"x": tru}}\n</tool_call>\n'
        '<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>',
    ),
    (HERMES, '{"name": "get_weather", "arguments": {"city": "Par'),
    (HERMES, '[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}'),
    (FUNCTIONARY, '<function=get_weather>{"city": "Paris"'),
    (FUNCTIONARY, '<function=get_weather>{"city": "Paris",}</function>'),
    (FUNCTIONARY, '<function=get weather>{"city": "Paris"}</function>'),
    (FUNCTIONARY, "<function=>{}</function>"),
    (FUNCTIONARY, "<function=get_weather>city=Paris</function>"),
    (FUNCTIONARY, "<function=get_wea"),
    (MINICPM, '<|tool_call_start|>\n```python\nget_weather("Paris")\n```\n<|tool_call_end|>'),
    (MINICPM, "<|tool_call_start|>\n```python\nimport os\n```\n<|tool_call_end|>"),
    (MINICPM, "<|tool_call_start|>\n```python\nf(**opts)\n```\n<|tool_call_end|>"),
    (MINICPM, "<|tool_call_start|>\n```python\nf(a=os.getcwd())\n```\n<|tool_call_end|>"),
    (MINICPM, "<|tool_call_start|>\n```python\nf(a=1e999)\n```\n<|tool_call_end|>"),
    (MINICPM, "<|tool_call_start|>\n```python\nx = f(a=1)\n```\n<|tool_call_end|>"),
    (MINICPM, '<|tool_call_start|>\n```python\nget_weather(city="Par'),
    (MINICPM, "<|tool_call_start|>\n```python\n```\n<|tool_call_end|>"),
    (MINICPM, "<|thought_start|>\nhmm\n<|thought_end|>\n<|tool_call_start|>\n"),
    (JSON, '{"name": "get_weather", "arguments": {"city": "Paris"}'),
    (JSON, '[{"name": "a", "arguments": {}}, 5]'),
    (JSON, '{"name": "a", "arguments": {"x": 1}, "arguments": {"x": 2}}'),
    (MINICPM, "<|tool_call_start|>\n```python\nf(a=1, a=2)\n```\n<|tool_call_end|>"),
    # nested deeper than json.loads can go: no call (and no internal error)
    (HERMES, '<tool_call>{"name": "f", "arguments": {"a": ' + DEEP + "}}</tool_call>"),
    (FUNCTIONARY, '<function=f>{"a": ' + DEEP + "}</function>"),
    (JSON, '{"name": "f", "arguments": "{\\"a\\": ' + DEEP + '}"}'),
    (MINICPM, "<|tool_call_start|>\nf(a=" + DEEP + ")\n<|tool_call_end|>"),
]


def _check_against_parse(case_id: str, text: str, fmt: str, chunked: dict[str, list[str]]) -> None:
    """Every chunking streams exactly what ``parse`` answers."""
    parsed = parse(fmt, text)
    for how, pieces in chunked.items():
        assert "".join(pieces) == text
        got = run_stream(fmt, pieces)
        where = f"{case_id} chunked {how}"
        assert not got.failed, where
        assert got.content_or_none == parsed.content, where
        assert [(c.name, c.arguments) for c in got.calls] == [
            (c.name, c.arguments) for c in parsed.calls
        ], where


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_parse(case: Case) -> None:
    parsed = parse(case.fmt, case.text)
    assert names_args(parsed.calls) == case.calls
    assert parsed.content == case.content
    for call in parsed.calls:
        assert OPENAI_ID.fullmatch(call.id)
    assert len({c.id for c in parsed.calls}) == len(parsed.calls)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_stream_matches_parse_under_any_chunking(case: Case) -> None:
    _check_against_parse(case.id, case.text, case.fmt, chunkings(case.text))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_streamed_argument_pieces_concatenate_exactly(case: Case) -> None:
    parsed = parse(case.fmt, case.text)
    for how, pieces in chunkings(case.text, all_splits=False).items():
        got = run_stream(case.fmt, pieces)
        assert len(got.pieces) == len(parsed.calls), how
        for streamed, final in zip(got.pieces, parsed.calls, strict=True):
            assert "".join(streamed) == final.arguments, how
            assert all(streamed), how  # no empty pieces
        ids = [c.id for c in got.calls]
        assert all(OPENAI_ID.fullmatch(i) for i in ids), how
        assert len(set(ids)) == len(ids), how


def test_names_come_before_arguments_end() -> None:
    """Hermes streams the name as soon as it is complete, before the arguments close."""
    machine = stream(HERMES)
    delta = machine.feed('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pa')
    assert delta.content == ""
    assert [(d.index, d.name, d.arguments) for d in delta.calls] == [
        (0, "get_weather", '{"city": "Pa')
    ]
    delta = machine.feed('ris"}}\n</tool_call>')
    assert [(d.index, d.id, d.name, d.arguments) for d in delta.calls] == [(0, None, None, 'ris"}')]
    assert not machine.finish()
    assert not machine.failed


def test_arguments_before_name_are_held_then_released() -> None:
    machine = stream(JSON)
    assert not machine.feed('{"arguments": {"city": "Paris"}, ')
    delta = machine.feed('"name": "get_weather"}')
    assert [(d.name, d.arguments) for d in delta.calls] == [("get_weather", '{"city": "Paris"}')]


def test_minicpm_calls_come_whole_when_the_block_ends() -> None:
    machine = stream(MINICPM)
    assert not machine.feed('<|tool_call_start|>\n```python\nget_weather(city="Paris")\n')
    delta = machine.feed("```\n<|tool_call_end|>")
    assert [(d.name, json.loads(d.arguments)) for d in delta.calls] == [
        ("get_weather", {"city": "Paris"})
    ]


def _ids(table: list[tuple[str, str]]) -> list[str]:
    return [f"{fmt.removeprefix('naptha_')}-{i}" for i, (fmt, _) in enumerate(table)]


@pytest.mark.parametrize(("fmt", "text"), NO_CALLS, ids=_ids(NO_CALLS))
def test_no_calls_is_content_unchanged(fmt: str, text: str) -> None:
    assert parse(fmt, text).content == (text or None)
    assert parse(fmt, text).calls == ()
    for how, pieces in chunkings(text).items():
        got = run_stream(fmt, pieces)
        assert (got.content, got.calls, got.failed) == (text, [], False), how


@pytest.mark.parametrize(("fmt", "text"), MALFORMED, ids=_ids(MALFORMED))
def test_malformed_is_the_whole_text_as_content(fmt: str, text: str) -> None:
    parsed = parse(fmt, text)
    assert parsed.content == text
    assert parsed.calls == ()
    for how, pieces in chunkings(text).items():
        assert run_stream(fmt, pieces).failed, how


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}\n'
        "</tool_call>",
        '<tool_call>\n{"name": "a", "arguments": {"s": "x\\"y"}}\n</tool_call>',
        "Let me see.\n" + hermes_call("f", NESTED, indent=1),
    ],
    ids=["plain", "escaped-quote", "content-nested-indented"],
)
def test_every_truncation_of_a_hermes_call_never_returns_a_wrong_call(text: str) -> None:
    """A stream cut anywhere gives either the whole right call or none, never a wrong one."""
    full = parse(HERMES, text)
    for k in range(len(text)):
        cut = text[:k]
        parsed = parse(HERMES, cut)
        if parsed.calls:
            assert names_args(parsed.calls) == names_args(full.calls), repr(cut)
        else:
            assert parsed.content == (cut or None), repr(cut)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_example_of_each_format_parses(fmt: str) -> None:
    parsed = parse(fmt, FORMATS[fmt].example)
    assert names_args(parsed.calls) == [("get_weather", {"city": "Paris"})]
    assert parsed.content is None


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_mistral_ids(fmt: str) -> None:
    text = FORMATS[fmt].example
    parsed = parse(fmt, text, id_style="mistral")
    assert all(MISTRAL_ID.fullmatch(c.id) for c in parsed.calls)
    got = run_stream(fmt, token_pieces(text), id_style="mistral")
    assert [MISTRAL_ID.fullmatch(c.id) is not None for c in got.calls] == [True]


def test_ids_are_unique_across_many_calls() -> None:
    text = "\n".join(hermes_call("f", {"i": i}) for i in range(200))
    for style, pattern in (("openai", OPENAI_ID), ("mistral", MISTRAL_ID)):
        calls = parse(HERMES, text, id_style=style).calls
        assert len(calls) == 200
        assert all(pattern.fullmatch(c.id) for c in calls)
        assert len({c.id for c in calls}) == 200


def test_finish_twice_and_feed_empty_are_harmless() -> None:
    machine = stream(HERMES)
    assert not machine.feed("")
    machine.feed(FORMATS[HERMES].example)
    machine.feed("")
    assert not machine.finish()
    assert not machine.finish()
    assert not machine.failed
    assert len(machine.calls) == 1


@pytest.mark.filterwarnings("error")
def test_minicpm_invalid_escape_is_read_whatever_the_warning_filters() -> None:
    """``"\\d"`` in Python source warns (SyntaxWarning on 3.12+); under ``-W error`` it would
    fail the block, so the parser silences warnings while it reads the block."""
    text = '<|tool_call_start|>\nsearch(pattern="\\d+")\n<|tool_call_end|>'
    assert names_args(parse(MINICPM, text).calls) == [("search", {"pattern": "\\d+"})]


def test_failed_stream_never_reuses_an_index() -> None:
    """A call that broke after its name went out keeps its index: the next call gets a new one."""
    text = (
        '<tool_call>\n{"name": "a", "arguments": {"x": tru}}\n</tool_call>\n'
        '<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>'
    )
    got = run_stream(HERMES, [text])  # run_stream asserts the index protocol
    assert got.failed
    assert [c.name for c in got.calls] == ["a", "b"]


# -- linear time: feed never rescans what it has seen


def _seconds(work: Callable[[], object]) -> float:
    """Best of three, with the garbage collector out of the way."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            start = time.perf_counter()
            work()
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


@dataclass(frozen=True)
class Scaling:
    id: str
    fmt: str
    build: Callable[[int], str]  # the input for size n
    piece: int  # feed in pieces of this size; 0: the whole text in one feed
    n: int  # sized so that the 8n run takes a tenth of a second or so

    def work(self, n: int) -> Callable[[], object]:
        text = self.build(n)
        if not self.piece:
            return lambda: parse(self.fmt, text)
        pieces = [text[i : i + self.piece] for i in range(0, len(text), self.piece)]
        return lambda: run_stream(self.fmt, pieces)


SCALING = [
    Scaling(
        "hermes-long-string-arg",
        HERMES,
        lambda n: '<tool_call>{"name": "f", "arguments": {"s": "' + 'ab\\"{}[]' * n,
        2,
        800,
    ),
    Scaling("hermes-many-calls", HERMES, lambda n: hermes_call("f", {"a": [1]}) * n, 0, 150),
    Scaling("hermes-partial-tags", HERMES, lambda n: "x" + "<tool_cal" * n, 1, 500),
    Scaling("functionary-long-name", FUNCTIONARY, lambda n: "<function=" + "a" * n, 3, 5000),
    # 20000: the size at which a machine that copies the rest of the text at each "<|" fails
    Scaling("minicpm-many-non-tags", MINICPM, lambda n: "x" + "<|" * n, 0, 20000),
    Scaling(
        "minicpm-many-blocks",
        MINICPM,
        lambda n: "<|tool_call_start|>\n```python\nf(a=1)\n```\n" * n,
        0,
        150,
    ),
    Scaling(
        "minicpm-long-block",
        MINICPM,
        lambda n: "<|tool_call_start|>\n```python\nf(a='" + "x\n``" * n,
        3,
        2000,
    ),
    Scaling(
        "json-held-arguments",
        JSON,
        lambda n: '{"arguments": {"s": "' + "x" * n + '"}, "name": "f"}',
        1,
        1500,
    ),
    Scaling(
        "json-whitespace-after-call", JSON, lambda n: FORMATS[JSON].example + " \n" * n, 1, 1000
    ),
]


@pytest.mark.timing
@pytest.mark.parametrize("case", SCALING, ids=lambda c: c.id)
def test_feed_is_linear(case: Scaling) -> None:
    """8x the input costs about 8x the time, far from the 64x of a rescanning machine."""
    small, large = _seconds(case.work(case.n)), _seconds(case.work(8 * case.n))
    # the margin absorbs timer noise on a busy machine; constant costs blur tiny runs
    assert large < 20 * small + 0.01, f"{small:.4f}s -> {large:.4f}s"
