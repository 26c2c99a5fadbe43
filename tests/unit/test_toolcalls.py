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

import json

import pytest

from naptha_tui.backends.toolcalls import FORMATS, parse, stream
from tests.unit.toolcall_cases import (
    CASES,
    MALFORMED,
    NESTED,
    NO_CALLS,
    Case,
    hermes_call,
)
from tests.unit.toolcall_streams import (
    HERMES,
    JSON,
    MINICPM,
    MISTRAL_ID,
    OPENAI_ID,
    chunkings,
    names_args,
    run_stream,
    token_pieces,
)


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
