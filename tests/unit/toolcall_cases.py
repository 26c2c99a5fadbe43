"""Real output shapes of each family: the table the parser tests run (calls and content)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.unit.toolcall_streams import (
    FUNCTIONARY,
    HERMES,
    JSON,
    MINICPM,
)

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
