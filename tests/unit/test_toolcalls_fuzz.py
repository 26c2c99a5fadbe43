"""Property tests of every tool-call format (hypothesis).

* arbitrary text (plain, built from the formats' own tags and JSON pieces, or a well-formed
  output mutated) never makes ``parse`` or a stream raise, nor a machine swallow an internal
  error, and streams keep the delta protocol (``run_stream`` checks it);
* ``parse`` of output with no call gives the whole text as content (MiniCPM3: less its
  thought tags, as its stream does, unless the output is malformed), and a stream with no
  call passes the text through unchanged;
* well-formed outputs generated from random names and JSON arguments parse back to exactly
  those calls, streamed or not, however the stream is cut; cut short, they give a prefix of
  those calls, never a wrong one;
* a stream cut anywhere gives what the same stream fed in one piece gives.

Each test runs ``NAPTHA_FUZZ_EXAMPLES`` examples (default 500; the benchmark run sets it
high): the whole file runs ``6 * NAPTHA_FUZZ_EXAMPLES`` cases. Hypothesis prints falsifying
examples; no example database is kept.
"""

from __future__ import annotations

import itertools
import json
import keyword
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from naptha_tui.backends.toolcalls import FORMATS, Parsed, ToolCall, parse
from tests.unit.toolcall_streams import OPENAI_ID, run_stream

settings.register_profile(
    "naptha-fuzz",
    max_examples=int(os.environ.get("NAPTHA_FUZZ_EXAMPLES") or 500),
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
FUZZ = settings.get_profile("naptha-fuzz")

HERMES, FUNCTIONARY, MINICPM, JSON = (
    "naptha_hermes",
    "naptha_functionary",
    "naptha_minicpm3",
    "naptha_json",
)
FMTS = st.sampled_from(sorted(FORMATS))
MINICPM_TAGS = ("<|thought_start|>", "<|thought_end|>", "<|tool_call_start|>", "<|tool_call_end|>")
# text that would open a call in each format (content before calls must not hold it)
OPENERS = {
    HERMES: ("<tool_call>",),
    FUNCTIONARY: ("<function=",),
    MINICPM: MINICPM_TAGS,
    JSON: (),
}
_MINICPM_TAG = re.compile("|".join(map(re.escape, MINICPM_TAGS)))

# -- text that reaches deep states: pieces of the formats' own syntax

FRAGMENTS = [
    *MINICPM_TAGS,
    "<tool_call>",
    "</tool_call>",
    "<tool_call>\n",
    "\n</tool_call>",
    "<function=",
    "<function=get_weather>",
    "</function>",
    ">",
    "<",
    "</",
    "<|",
    "|>",
    "<tool_",
    "</tool_ca",
    "<|tool_call_",
    "<|thought_",
    "```",
    "```json\n",
    "```python\n",
    "\n```",
    "``",
    "`",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"',
    "\\",
    '\\"',
    "\\u00e9",
    '"name"',
    '"arguments"',
    '"parameters"',
    '"get_weather"',
    '"name": "f", ',
    '{"name": "get_weather", "arguments": ',
    '{"arguments": ',
    '{"city": "Paris"}',
    '{"a": [1, {"b": "}"}]}',
    '"}"',
    "true",
    "null",
    "-1.5e3",
    "42",
    "f(a=1)",
    'get_weather(city="Paris")',
    "g(b=None, c=[1, 2], d={'k': True})",
    "f('positional')",
    "import os",
    "(",
    ")",
    "=",
    "'",
    " ",
    "\n",
    "\t",
    "\r\n",
    "é",
    "東京",
    "🌧",
]
FRAGMENT_TEXT = st.lists(
    st.sampled_from(FRAGMENTS) | st.text(max_size=3), min_size=1, max_size=40
).map("".join)

# -- well-formed outputs

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,24}", fullmatch=True)
PY_NAMES = NAMES.filter(lambda s: not keyword.iskeyword(s))  # `None(...)`, `f(if=1)`: no
TRICKY = [
    "</tool_call>",
    "<tool_call>",
    "</function>",
    "<function=x>",
    "```",
    "\n```",
    '"}',
    "{",
    "}}",
    "]",
    "\\",
    '\\"',
    "<|thought_end|>",
    "<|tool_call_start|>",
]


def _values(strings: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | strings
    )
    return st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(strings, kids, max_size=3),
        max_leaves=10,
    )


JSON_STRINGS = st.text(max_size=12) | st.sampled_from([*TRICKY, "<|tool_call_end|>"])
# MiniCPM3 stops generating at <|tool_call_end|>: it never appears inside its calls
PY_STRINGS = st.text(max_size=12) | st.sampled_from(TRICKY)
JSON_ARGS = st.dictionaries(JSON_STRINGS, _values(JSON_STRINGS), max_size=4)
PY_ARGS = st.dictionaries(PY_NAMES, _values(PY_STRINGS), max_size=4)

Calls = list[tuple[str, dict[str, Any]]]


def _content_ok(fmt: str, text: str) -> bool:
    """Content that may precede calls: no tag of the format, and not a JSON candidate."""
    if any(tag in text for tag in OPENERS[fmt]):
        return False
    return text.lstrip()[:1] not in ("{", "[", "`")


def _content(fmt: str) -> st.SearchStrategy[str]:
    return (st.text(max_size=30) | FRAGMENT_TEXT).filter(lambda t: _content_ok(fmt, t))


@st.composite
def _call_object(draw: st.DrawFn, name: str, args: dict[str, Any]) -> str:
    """One JSON call object, in one of the shapes models write."""
    key = draw(st.sampled_from(["arguments", "parameters"]))
    value: Any = json.dumps(args) if draw(st.booleans()) else args
    pairs = [("name", name), (key, value)]
    if not args and draw(st.booleans()):
        pairs = pairs[:1]  # no arguments at all: "{}"
    if draw(st.booleans()):
        pairs.reverse()
    return json.dumps(
        dict(pairs),
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 2])),
        separators=draw(st.sampled_from([None, (",", ":")])),
    )


@st.composite
def _json_output(draw: st.DrawFn, calls: Calls) -> str:
    """Bare objects, a list, or either in a fence: the fallback every format accepts."""
    objects = [draw(_call_object(n, a)) for n, a in calls]
    if draw(st.booleans()):
        body = "[" + draw(st.sampled_from([", ", ",\n", ","])).join(objects) + "]"
    else:
        body = draw(st.sampled_from(["\n", " ", "", "\n\n"])).join(objects)
    if draw(st.booleans()):
        body = "```" + draw(st.sampled_from(["json", ""])) + "\n" + body + "\n```"
    return draw(st.sampled_from(["", "\n", "  "])) + body + draw(st.sampled_from(["", "\n"]))


@st.composite
def _hermes_output(draw: st.DrawFn, calls: Calls) -> str:
    parts = []
    for name, args in calls:
        head = draw(st.sampled_from(["\n", ""]))
        close = draw(st.sampled_from(["\n</tool_call>", "</tool_call>", "\n", ""]))
        parts.append("<tool_call>" + head + draw(_call_object(name, args)) + close)
    return draw(st.sampled_from(["\n", "", "\n\n"])).join(parts)


@st.composite
def _functionary_output(draw: st.DrawFn, calls: Calls) -> str:
    parts = []
    for name, args in calls:
        body = json.dumps(
            args,
            ensure_ascii=draw(st.booleans()),
            indent=draw(st.sampled_from([None, 2])),
        )
        close = draw(st.sampled_from(["</function>", ""]))
        parts.append(f"<function={name}>" + draw(st.sampled_from(["", "\n"])) + body + close)
    return draw(st.sampled_from(["", "\n"])).join(parts)


def _python_call(name: str, args: dict[str, Any]) -> str:
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


@st.composite
def _minicpm_output(draw: st.DrawFn, calls: Calls) -> tuple[str, bool]:
    """One or more blocks, fenced or not, the end tag present or cut off by the stop token.

    Also says whether the last block is closed (so that text may follow it).
    """
    blocks = []
    rest = list(calls)
    closed = True
    while rest:
        k = draw(st.integers(1, len(rest)))
        lines, rest = [_python_call(n, a) for n, a in rest[:k]], rest[k:]
        source = "\n".join(lines)
        ends = ["\n<|tool_call_end|>", "\n<|tool_call_end|>\n"]
        if draw(st.booleans()):
            head = "<|tool_call_start|>\n"
        else:
            head = "<|tool_call_start|>\n```python\n"
            ends += ["\n```\n<|tool_call_end|>", "\n```\n", "\n```"]
        if not rest:
            ends.append("\n")  # the stop token cut the block off
        end = draw(st.sampled_from(ends))
        closed = end != "\n"
        blocks.append(head + source + end)
    return "\n".join(blocks), closed


@dataclass(frozen=True)
class Output:
    """A well-formed output and what parsing it must give."""

    fmt: str
    text: str
    calls: Calls
    content: str | None  # exactly, as ``parse`` gives it, when nothing follows the calls
    after: str  # text after the calls: then only the content's non-blank text is pinned


def _after_ok(fmt: str, text: str) -> bool:
    """Text after the calls: not a call or a tag, and not the start of a closing tag."""
    return _content_ok(fmt, text) and text.lstrip()[:1] not in ("<", "") and text.strip() != ""


@st.composite
def well_formed(draw: st.DrawFn, fmt: str) -> Output:
    minicpm = fmt == MINICPM
    calls = draw(
        st.lists(
            st.tuples(PY_NAMES if minicpm else NAMES, PY_ARGS if minicpm else JSON_ARGS),
            min_size=1,
            max_size=3,
        )
    )
    content, closed = "", True
    if fmt == JSON or draw(st.integers(0, 3)) == 0:
        body = draw(_json_output(calls))
    else:
        content = draw(_content(fmt))
        if fmt == HERMES:
            body = draw(_hermes_output(calls))
        elif fmt == FUNCTIONARY:
            body = draw(_functionary_output(calls))
        else:
            if draw(st.booleans()):
                thought = draw(_content(fmt).filter(lambda t: "<|" not in t))
                content += "<|thought_start|>\n" + thought + "\n<|thought_end|>\n"
            body, closed = draw(_minicpm_output(calls))
    after = ""
    if closed and draw(st.booleans()):
        after = draw(st.sampled_from(["", " ", "\n", "\n\n"])) + draw(
            (st.text(max_size=20) | FRAGMENT_TEXT).filter(lambda t: _after_ok(fmt, t))
        )
    text = content + body + (after or draw(st.sampled_from(["", "\n"])))
    expected = _MINICPM_TAG.sub("", content) if minicpm else content
    return Output(fmt, text, calls, expected if expected.strip() else None, after)


@st.composite
def any_well_formed(draw: st.DrawFn) -> Output:
    return draw(well_formed(draw(FMTS)))


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> str:
    """A well-formed output, damaged once or twice: truncated, cut, spliced, duplicated."""
    text = draw(well_formed(fmt)).text
    for _ in range(draw(st.integers(1, 2))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, len(text)))
        how = draw(st.sampled_from(["truncate", "delete", "insert", "duplicate", "replace"]))
        if how == "truncate":
            text = text[:i]
        elif how == "delete":
            text = text[:i] + text[j:]
        elif how == "insert":
            text = text[:i] + draw(st.sampled_from(FRAGMENTS)) + text[i:]
        elif how == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i] + draw(st.text(min_size=1, max_size=2)) + text[j:]
    return text


@st.composite
def fmt_and_text(draw: st.DrawFn) -> tuple[str, str]:
    """Any format and text: arbitrary, built from syntax fragments, or a damaged output."""
    fmt = draw(FMTS)
    source = draw(st.sampled_from(["text", "fragments", "mutated", "other-format"]))
    if source == "text":
        return fmt, draw(st.text())
    if source == "fragments":
        return fmt, draw(FRAGMENT_TEXT)
    if source == "mutated":
        return fmt, draw(mutated(fmt))
    return fmt, draw(mutated(draw(FMTS)))  # another format's output, damaged or not


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


CUTS = st.lists(st.integers(min_value=0), max_size=12)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def assert_calls(got: Sequence[ToolCall], calls: Calls) -> None:
    """Same names, and arguments equal as JSON values (1 and 1.0 and True kept apart)."""
    assert [c.name for c in got] == [name for name, _ in calls]
    for call, (_, args) in zip(got, calls, strict=True):
        assert canonical(json.loads(call.arguments)) == canonical(args)


# -- the properties


@FUZZ
@given(fmt_and_text(), CUTS)
def test_never_raises_and_keeps_the_protocol(fmt_text: tuple[str, str], cuts: list[int]) -> None:
    fmt, text = fmt_text
    parsed = parse(fmt, text)
    assert isinstance(parsed.content, str | None)
    run_stream(fmt, [text])  # asserts the delta protocol and no swallowed internal error
    run_stream(fmt, split(text, cuts))
    run_stream(fmt, list(text[:200]))


@FUZZ
@given(fmt_and_text())
def test_parse_without_calls_gives_the_text(fmt_text: tuple[str, str]) -> None:
    """No calls: the whole text is the content (MiniCPM3 drops its tags unless malformed)."""
    fmt, text = fmt_text
    parsed = parse(fmt, text)
    whole = run_stream(fmt, [text])
    if whole.failed:
        assert parsed == Parsed(text if text else None)
    elif not parsed.calls:
        assert parsed.content == (whole.content or None)
        if fmt != MINICPM:
            assert parsed.content == (text if text else None)
    else:
        assert parsed.content is None or parsed.content.strip()
        assert all(OPENAI_ID.fullmatch(c.id) for c in parsed.calls)
        assert len({c.id for c in parsed.calls}) == len(parsed.calls)
        for call in parsed.calls:
            assert call.name
            assert isinstance(json.loads(call.arguments), dict)


def _nonblank(text: str | None) -> str:
    return "".join((text or "").split())


@FUZZ
@given(any_well_formed(), CUTS)
def test_well_formed_output_round_trips(out: Output, cuts: list[int]) -> None:
    parsed = parse(out.fmt, out.text)
    assert_calls(parsed.calls, out.calls)
    if out.after:  # whitespace around calls is the parsers' choice; the text is not
        assert _nonblank(parsed.content) == _nonblank(out.content) + _nonblank(out.after)
    else:
        assert parsed.content == out.content
    for pieces in ([out.text], split(out.text, cuts)):
        got = run_stream(out.fmt, pieces)
        assert not got.failed
        assert_calls(got.calls, out.calls)
        assert [c.arguments for c in got.calls] == [c.arguments for c in parsed.calls]
        assert got.content_or_none == parsed.content


@FUZZ
@given(any_well_formed(), st.data())
def test_truncated_output_never_gives_a_wrong_call(out: Output, data: st.DataObject) -> None:
    """A stream cut short (max_tokens) gives the first calls exactly, or fewer: never others."""
    cut = out.text[: data.draw(st.integers(0, len(out.text)))]
    parsed = parse(out.fmt, cut)
    assert_calls(parsed.calls, out.calls[: len(parsed.calls)])


@FUZZ
@given(fmt_and_text(), CUTS)
def test_chunking_does_not_matter(fmt_text: tuple[str, str], cuts: list[int]) -> None:
    fmt, text = fmt_text
    whole = run_stream(fmt, [text])
    for pieces in (split(text, cuts), list(text[:300])):
        if len(pieces) > 1 and "".join(pieces) != text:
            continue  # one character at a time: only for short texts
        got = run_stream(fmt, pieces)
        assert got.failed == whole.failed
        if not whole.failed:
            assert got.content == whole.content
            assert [(c.name, c.arguments) for c in got.calls] == [
                (c.name, c.arguments) for c in whole.calls
            ]


@FUZZ
@given(fmt_and_text(), CUTS)
def test_text_without_calls_passes_through(fmt_text: tuple[str, str], cuts: list[int]) -> None:
    """No call and nothing failed: the content is the text (MiniCPM3 drops its tags)."""
    fmt, text = fmt_text
    got = run_stream(fmt, split(text, cuts))
    if got.calls or got.failed:
        return
    if fmt == MINICPM and text.lstrip()[:1] not in ("{", "[", "`"):
        assert got.content == _MINICPM_TAG.sub("", text)
    elif fmt != MINICPM:
        assert got.content == text
