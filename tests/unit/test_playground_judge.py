"""Each sample's verdict and the calls written into content (no server).

Session checks and request shapes: test_playground_spec.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from naptha_tui.backends.playground.judge import FAMILIES, mismatches, verdict
from naptha_tui.backends.playground.results import Grid, Sample
from naptha_tui.backends.playground.spec import (
    Mode,
)
from naptha_tui.backends.toolcalls import FORMATS
from tests.unit.playground_common import call, good_spec
from tests.unit.toolcall_cases import CASES, Case
from tests.unit.toolcall_streams import FUNCTIONARY, HERMES, JSON, MINICPM

# -- verdict() --------------------------------------------------------------------------------


def tool_verdict(mode: str, *calls: dict[str, Any], finish: str = "tool_calls") -> Any:
    return verdict(good_spec(), Mode.parse(mode), None, list(calls), finish)


def test_a_valid_tool_call() -> None:
    v = tool_verdict("tools-required", call("get_weather", {"city": "Paris", "unit": "celsius"}))
    assert v.valid is True and v.problems == ()
    assert any("get_weather" in c for c in v.checked)
    two = tool_verdict(
        "tools-auto", call("get_weather", {"city": "Oslo"}), call("set_timer", {"minutes": 5})
    )
    assert two.valid is True and len(two.checked) == 2  # fmt: skip


@pytest.mark.parametrize(
    ("calls", "pieces"),
    [
        ([call("get_weather", '{"city": "Paris"')], ["get_weather", "not JSON"]),
        ([call("get_weather", "[1, 2]")], ["get_weather", "not a JSON object"]),
        ([call("get_weather", {"unit": "celsius"})], ["get_weather", "'city'", "required"]),
        ([call("get_weather", {"city": 42})], ["city", "not of type 'string'"]),
        ([call("set_timer", {"minutes": "five"})], ["minutes", "not of type 'integer'"]),
        ([call("get_weather", {"city": "Paris", "zip": "75"})], ["zip"]),  # additionalProperties
        ([call("get_wether", {"city": "Paris"})], ["hallucinated", "get_wether", "get_weather"]),
    ],
)
def test_an_invalid_tool_call_says_why(calls: list[dict[str, Any]], pieces: list[str]) -> None:
    v = tool_verdict("tools-required", *calls)
    assert v.valid is False
    [problem] = v.problems
    assert all(p in problem for p in pieces), problem


def test_the_forced_tool_must_be_the_one_called() -> None:
    v = tool_verdict("tool:get_weather", call("set_timer", {"minutes": 5}))
    assert v.valid is False
    assert any("'set_timer'" in p and "forced tool 'get_weather'" in p for p in v.problems)
    assert tool_verdict("tool:set_timer", call("set_timer", {"minutes": 5})).valid is True


def test_no_call_in_a_tool_mode_is_invalid() -> None:
    for mode in ("tools-auto", "tools-required", "tool:get_weather"):
        v = verdict(good_spec(), Mode.parse(mode), "It is sunny in Paris.", [], "stop")
        assert v.valid is False and any("no tool call" in p for p in v.problems), mode


def content_verdict(mode: str, content: str | None, finish: str = "stop", **over: Any) -> Any:
    return verdict(good_spec(**over), Mode.parse(mode), content, [], finish)


def test_json_schema_content() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
        "required": ["city", "temp"],
    }
    ok = content_verdict("json_schema", '{"city": "Paris", "temp": 21.5}', schema=schema)
    assert ok.valid is True and ok.checked
    bad = content_verdict("json_schema", '{"city": "Paris", "temp": "warm"}', schema=schema)
    assert bad.valid is False and any("temp" in p for p in bad.problems)
    missing = content_verdict("json_schema", '{"city": "Paris"}', schema=schema)
    assert missing.valid is False and any("'temp'" in p for p in missing.problems)
    not_json = content_verdict("json_schema", '{"city": ', schema=schema)
    assert not_json.valid is False and "not JSON" in not_json.problems[0]


def test_regex_content_must_match_whole() -> None:
    assert content_verdict("regex", "Paris", regex=r"[A-Z][a-z]+").valid is True
    for text in ("Paris!", "the Paris", "paris", ""):
        v = content_verdict("regex", text, regex=r"[A-Z][a-z]+")
        assert v.valid is False and "does not match" in v.problems[0], text


def test_choice_content() -> None:
    assert content_verdict("choice", "no", choice=["yes", "no"]).valid is True
    v = content_verdict("choice", "maybe", choice=["yes", "no"])
    assert v.valid is False and "'maybe'" in v.problems[0]


def test_json_object_content() -> None:
    assert content_verdict("json_object", '{"a": [1]}').valid is True
    for text in ("[1, 2]", '"a"', "3"):
        v = content_verdict("json_object", text)
        assert v.valid is False and "not an object" in v.problems[0], text
    assert content_verdict("json_object", "{oops").valid is False


def test_plain_and_grammar_content() -> None:
    assert content_verdict("plain", "Sunny.").valid is True
    assert content_verdict("plain", "  ").valid is False
    g = content_verdict("grammar", "yes")
    assert g.valid is None and g.problems == () and g.checked  # says it was not checked


def test_a_call_in_a_content_mode_is_invalid() -> None:
    v = verdict(good_spec(), Mode.parse("plain"), "ok", [call("get_weather", {})], "tool_calls")
    assert v.valid is False and any("tool call" in p for p in v.problems)


def test_a_cut_off_output_says_so() -> None:
    cut = content_verdict("json_object", '{"a": [1, 2', finish="length")
    assert cut.valid is False and any("cut off" in p for p in cut.problems)
    assert not any("cut off" in p for p in content_verdict("json_object", '{"a": [1, 2').problems)
    cut_call = tool_verdict("tools-required", finish="length")
    assert any("cut off" in p for p in cut_call.problems)


# -- mismatches(): calls written into content, in each family's format ------------------------

FAMILY_OF = {
    HERMES: "Hermes <tool_call> tags",
    FUNCTIONARY: "<function=NAME> tags",
    MINICPM: "MiniCPM3 tool-call block",
    JSON: "bare JSON call",
}
SKIPPED = {
    # a bare JSON call whose first key is not "name": the bare-JSON marker needs it first
    "json-arguments-first-parameters",
    # "<tool_call>" inside an argument string: the finding is labelled Hermes (its parser falls
    # back to the bare JSON list, and a Hermes finding ends the search)
    "json-fenced-list-indented",
    # not a call to a tool the session has: pinned in the parser table as debatable
    "json-any-object-with-name-first",
}
# each format's own output shapes from the parser table (a fallback case reads another
# family's format: bare JSON)
TABLE = [c for c in CASES if c.fmt in FAMILY_OF and c.calls and c.id not in SKIPPED]


def family_of(case: Case) -> str:
    if case.fmt == HERMES:
        return FAMILY_OF[HERMES if "<tool_call>" in case.text else JSON]
    return FAMILY_OF[JSON if "fallback" in case.id else case.fmt]


MISTRAL = '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}}]'
PYTHONIC = '[get_weather(city="Paris"), set_timer(minutes=5)]'
TWO_CALLS = [("get_weather", {"city": "Paris"}), ("set_timer", {"minutes": 5})]


def found_calls(m: Any) -> list[tuple[str, Any]]:
    return [(name, json.loads(args)) for name, args in m.calls]


def test_the_table_covers_each_format() -> None:
    assert {c.fmt for c in TABLE} == set(FAMILY_OF)
    assert set(FAMILY_OF.values()) | {"[TOOL_CALLS] prefix", "pythonic call list"} == {
        f.name for f in FAMILIES
    }


@pytest.mark.parametrize("case", TABLE, ids=lambda c: c.id)
def test_calls_in_content_are_found_in_their_family(case: Case) -> None:
    found = mismatches(case.text, None)
    by_family = {m.family: m for m in found}
    m = by_family.get(family_of(case))
    assert m is not None, [f.family for f in found]
    assert found_calls(m) == case.calls
    assert m.parsers[0] in m.message()
    if family_of(case) == FAMILY_OF[case.fmt]:
        assert case.fmt in m.parsers  # naptha's parser of that format reads it
    assert m.server_parser is None and m.server_reads is None
    assert "not known" in m.message()


@pytest.mark.parametrize(
    ("text", "family", "calls", "reader"),
    [
        (MISTRAL, "[TOOL_CALLS] prefix", TWO_CALLS[:1], "mistral"),
        (PYTHONIC, "pythonic call list", TWO_CALLS, "pythonic"),
    ],
)
def test_mistral_and_pythonic_calls_are_found(
    text: str, family: str, calls: list[tuple[str, Any]], reader: str
) -> None:
    [m] = mismatches(text, None)
    assert m.family == family and found_calls(m) == calls
    assert reader in m.parsers
    [read] = mismatches(text, reader)
    assert read.server_reads is True and "which reads this format" in read.message()
    [unread] = mismatches(text, "naptha_hermes")
    assert unread.server_reads is False
    assert f"use tool_call_parser: {m.parsers[0]}" in unread.message()


@pytest.mark.parametrize(
    ("text", "reads", "misses"),
    [
        (CASES[0].text, ["naptha_hermes", "hermes"], ["naptha_functionary", "naptha_minicpm3",
                                                      "mistral", "pythonic"]),
        ('<function=get_weather>{"city": "Paris"}</function>', ["naptha_functionary"],
         ["naptha_hermes", "hermes", "naptha_minicpm3", "mistral"]),
        ('<|tool_call_start|>\n```python\nget_weather(city="Paris")\n```\n<|tool_call_end|>',
         ["naptha_minicpm3"], ["naptha_hermes", "naptha_functionary", "pythonic"]),
        # the functionary and MiniCPM3 parsers fall back to a bare JSON call too
        ('{"name": "get_weather", "arguments": {"city": "Paris"}}', ["naptha_json",
         "naptha_hermes", "llama3_json", "naptha_functionary", "naptha_minicpm3"],
         ["mistral", "pythonic"]),
    ],
)  # fmt: skip
def test_whether_the_servers_parser_reads_it(
    text: str, reads: list[str], misses: list[str]
) -> None:
    for parser in reads:
        [m] = mismatches(text, parser)
        assert m.server_parser == parser and m.server_reads is True, parser
    for parser in misses:
        [m] = mismatches(text, parser)
        assert m.server_reads is False, parser
    # ours are run, not looked up: each naptha parser's answer is what it parses
    for parser in FORMATS:
        [m] = mismatches(text, parser)
        assert m.server_reads is (parser in reads), parser


@pytest.mark.parametrize(
    "text",
    [
        "The weather in Paris is sunny, 21 °C.",
        "What is your name? My name is Ada.",
        'The JSON key "name" holds the tool\'s name: write {"name" as the first key.',
        'Call it like {"tool": "get_weather", "args": {"city": "Paris"}}.',
        "[1, 2, 3] are the numbers; print(x) prints them.",
        "Use the <tool_call> tag to call a tool.",
        "",
        None,
    ],
)
def test_prose_has_no_misplaced_call(text: str | None) -> None:
    assert mismatches(text, "naptha_hermes") == []


def test_mismatch_json() -> None:
    [m] = mismatches(PYTHONIC, "naptha_hermes")
    doc = m.to_json()
    assert set(doc) == {"family", "calls", "parsers", "server_parser", "server_reads", "message"}
    assert [c["name"] for c in doc["calls"]] == ["get_weather", "set_timer"]
    assert json.loads(doc["calls"][1]["arguments"]) == {"minutes": 5}


def test_a_bare_json_call_whose_name_is_not_the_first_key_is_found() -> None:
    (m,) = mismatches('{"parameters": {"q": "x"}, "name": "search_web"}', None)
    assert m.family == "bare JSON call" and [n for n, _ in m.calls] == ["search_web"]


def test_a_valid_call_to_the_wrong_tool_is_counted_as_wrong_tool() -> None:
    spec = good_spec(expect_tool="get_weather")
    right = verdict(
        spec, Mode.parse("tools-required"), None, [call("get_weather", {"city": "P"})], "tool_calls"
    )
    wrong = verdict(
        spec, Mode.parse("tools-required"), None, [call("set_timer", {"minutes": 3})], "tool_calls"
    )
    assert right.valid is True and right.right_tool is True
    assert wrong.valid is True and wrong.right_tool is False
    assert "called set_timer, expected get_weather" in wrong.problems
    plain = verdict(spec, Mode.parse("plain"), "hi", [], "stop")
    assert plain.right_tool is None  # only tool modes are judged against it
    grid = Grid(good_spec(modes=["tools-required"], temperatures=[0.0], expect_tool="get_weather"))
    for v in (right, wrong):
        grid.add(Sample("tools-required", 0.0, 0, None, {}, verdict=v))
    (cell,) = grid.to_json()
    assert cell["valid_rate"] == 1.0 and cell["right_tool_rate"] == 0.5
