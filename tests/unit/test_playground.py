"""The playground's core, without a server: a session's checks, the request it sends per mode,
each sample's verdict, calls written into content, the preset-based warnings, and the grid.

The engine over HTTP, sessions and the ``try`` command are in test_playground_run.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from naptha_tui.backends.playground import examples
from naptha_tui.backends.playground.judge import FAMILIES, mismatches, verdict
from naptha_tui.backends.playground.lint import CONTEXT_SHARE_WARN, PromptTokens, lint
from naptha_tui.backends.playground.run import Grid, Sample, Sweep
from naptha_tui.backends.playground.spec import (
    MODE_KINDS,
    MODE_NAMES,
    Mode,
    Problem,
    Spec,
    check,
    parse_temperatures,
    parse_tools,
    request_body,
)
from naptha_tui.backends.presets import PresetCatalog, ToolCapabilities
from naptha_tui.backends.toolcalls import FORMATS
from tests.unit.toolcall_cases import CASES, Case
from tests.unit.toolcall_streams import FUNCTIONARY, HERMES, JSON, MINICPM

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


# -- check(): every problem at once, each naming its field -----------------------------------


def test_a_valid_spec_has_no_problem() -> None:
    spec = good_spec()
    assert {m.kind for m in spec.mode_list()} == set(MODE_KINDS)
    assert check(spec, served=["m", "other"]) == []
    assert check(spec) == []  # served unknown: not checked


def test_tools_that_are_not_json_name_line_and_column() -> None:
    tools, problems = parse_tools('[\n  {"name": "f",\n   oops}\n]', "tools (t.json)")
    assert tools == []
    [p] = problems
    assert p.field == "tools (t.json)"
    assert "not JSON" in p.message and "line 3 col 4" in p.message, p.message


def test_parse_tools_wraps_a_bare_function_and_checks_it() -> None:
    tools, problems = parse_tools(json.dumps(WEATHER["function"]))
    assert problems == [] and tools == [WEATHER]
    assert parse_tools("  \n") == ([], [])
    tools, problems = parse_tools(json.dumps([{"name": "f", "parameters": {"type": "objekt"}}]))
    assert tools == [] and fields_of(problems) == ["tools[f].function.parameters"]


BAD_INPUTS: list[tuple[dict[str, Any], str, str]] = [
    # (override of a good spec, field, a piece of the message)
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}],
      "modes": ["tools-auto"]}, "tools[f].function.parameters", "not a valid JSON Schema"),
    ({"tools": [WEATHER, WEATHER], "modes": ["tools-auto"]}, "tools[1].function.name",
     "'get_weather' is defined twice"),
    ({"regex": "(unclosed", "modes": ["regex"]}, "regex", "invalid"),
    ({"choice": [], "modes": ["choice"]}, "choice", "at least one"),
    ({"choice": ["", ""], "modes": ["choice"]}, "choice", "at least one"),
    ({"modes": ["tool:NOPE"]}, "mode", "'NOPE'"),
    ({"modes": ["bogus"]}, "mode", "unknown mode 'bogus'"),
    ({"schema": None, "modes": ["json_schema"]}, "schema", "required"),
    ({"schema": {"type": "objekt"}, "modes": ["json_schema"]}, "schema", "not a valid JSON Schema"),
    ({"temperatures": [3.0]}, "temperatures", "3 is out of range [0, 2]"),
    ({"temperatures": [-1.0]}, "temperatures", "-1 is out of range [0, 2]"),
    ({"samples": 0}, "samples", "0 is out of range"),
    ({"tools": [], "modes": ["tools-required"]}, "tools", "needs at least one tool"),
    ({"grammar": "  ", "modes": ["grammar"]}, "grammar", "required"),
    ({"model": ""}, "model", "required"),
]  # fmt: skip


@pytest.mark.parametrize(("over", "field", "piece"), BAD_INPUTS, ids=lambda v: str(v)[:40])
def test_each_bad_input_is_a_problem_naming_its_field(
    over: dict[str, Any], field: str, piece: str
) -> None:
    problems = check(good_spec(**over), served=["m"])
    assert fields_of(problems) == [field], problems
    assert piece in problems[0].message, problems[0]
    assert str(problems[0]).startswith(f"{field}: ")


def test_a_model_not_served_lists_what_is() -> None:
    [p] = check(good_spec(model="gpt-x"), served=["m", "qwen"])
    assert p.field == "model"
    assert "'gpt-x' is not served" in p.message and "m, qwen" in p.message
    [p] = check(good_spec(model="gpt-x"), served=[])
    assert "nothing yet" in p.message


def test_every_problem_comes_at_once() -> None:
    spec = good_spec(
        model="gpt-x",
        tools=[WEATHER, WEATHER, {"type": "function", "function": {"name": "g",
               "parameters": {"type": "objekt"}}}],
        modes=["tools-auto", "tool:NOPE", "bogus", "json_schema", "regex", "choice"],
        schema=None,
        regex="(",
        choice=[],
        temperatures=[3.0, 0.5, -1.0],
        samples=0,
    )  # fmt: skip
    problems = check(spec, served=["m"])
    assert sorted(fields_of(problems)) == sorted(
        [
            "model",
            "tools[1].function.name",
            "tools[g].function.parameters",
            "mode",  # tool:NOPE
            "mode",  # bogus
            "schema",
            "regex",
            "choice",
            "temperatures",
            "temperatures",
            "samples",
        ]
    ), problems


def test_parse_temperatures_names_the_bad_piece() -> None:
    assert parse_temperatures("0, 0.7,1") == [0.0, 0.7, 1.0]
    with pytest.raises(ValueError, match="'x' is not a number"):
        parse_temperatures("0,x")


def test_mode_parse_round_trips_and_refuses_unknown_names() -> None:
    for name in (*(m for m in MODE_NAMES if m != "tool:NAME"), "tool:get_weather"):
        assert str(Mode.parse(name)) == name
    assert Mode.parse("tool:get_weather") == Mode("tool", "get_weather")
    for bad in ("tool", "tool:", "bogus", ""):
        with pytest.raises(ValueError, match="one of: plain"):
            Mode.parse(bad)


# -- request_body(): today's request shapes, per mode -----------------------------------------


def body_for(spec: Spec, mode: str, **kw: Any) -> dict[str, Any]:
    return request_body(spec, Mode.parse(mode), 0.5, **kw)


def test_tool_modes_send_the_tools_and_their_tool_choice() -> None:
    spec = good_spec()
    expected = {
        "tools-auto": "auto",
        "tools-required": "required",
        "tool:set_timer": {"type": "function", "function": {"name": "set_timer"}},
    }
    for mode, choice in expected.items():
        body = body_for(spec, mode)
        assert body["tool_choice"] == choice
        assert body["tools"] == spec.tools
        assert "response_format" not in body and "structured_outputs" not in body
        assert "parallel_tool_calls" not in body  # not set: the server's default
    for mode in ("plain", "json_object", "regex"):
        assert not {"tools", "tool_choice"} & set(body_for(spec, mode))


def test_strict_marks_each_function_without_changing_the_spec() -> None:
    spec = good_spec(strict=True)
    before = copy.deepcopy(spec.tools)
    body = body_for(spec, "tools-required")
    assert [t["function"].get("strict") for t in body["tools"]] == [True] * len(before)
    assert [{**t["function"], "strict": None} for t in body["tools"]] == [
        {**t["function"], "strict": None} for t in before
    ]
    assert spec.tools == before and all("strict" not in t["function"] for t in spec.tools)
    assert body_for(spec, "json_schema")["response_format"]["json_schema"]["strict"] is True
    assert all("strict" not in t["function"] for t in body_for(good_spec(), "tools-auto")["tools"])


def test_guided_outputs_use_response_format_and_structured_outputs() -> None:
    spec = good_spec()
    assert body_for(spec, "json_object")["response_format"] == {"type": "json_object"}
    fmt = body_for(spec, "json_schema")["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == spec.schema_
    assert fmt["json_schema"]["name"]
    assert body_for(spec, "regex")["structured_outputs"] == {"regex": spec.regex}
    assert body_for(spec, "choice")["structured_outputs"] == {"choice": spec.choice}
    assert body_for(spec, "grammar")["structured_outputs"] == {"grammar": spec.grammar}
    with_blank = good_spec(choice=["yes", "", "no"])
    assert body_for(with_blank, "choice")["structured_outputs"] == {"choice": ["yes", "no"]}


def test_no_mode_sends_the_removed_guided_fields() -> None:
    spec = good_spec(strict=True, stream=True, seed=1, parallel_tool_calls=False)
    for mode in spec.mode_list():
        body = request_body(spec, mode, 0.0, 3, raw_ids=True)

        def keys(value: Any) -> list[str]:
            if isinstance(value, dict):
                return [*value, *(k for v in value.values() for k in keys(v))]
            if isinstance(value, list):
                return [k for v in value for k in keys(v)]
            return []

        top = set(body)
        assert not [k for k in top if k.startswith("guided_")], (mode, top)
        assert not [k for k in keys(body) if k.startswith("guided_")], mode
        assert body["logprobs"] is True, mode
        assert body["model"] == "m" and body["messages"] == spec.messages()


def test_extra_body_is_merged_last_and_guided_fields_are_refused() -> None:
    extra = {"top_p": 0.9, "structured_outputs": {"regex": "<tool_call>.*"}}
    spec = good_spec(extra_body=extra)
    body = body_for(spec, "tools-required")
    assert body["top_p"] == 0.9 and body["structured_outputs"] == extra["structured_outputs"]
    assert body["tool_choice"] == "required"
    assert body_for(spec, "regex")["structured_outputs"] == extra["structured_outputs"]
    problems = check(good_spec(extra_body={"guided_regex": "a+", "top_k": 5}), served=["m"])
    assert fields_of(problems) == ["extra_body.guided_regex"]
    assert "structured_outputs" in problems[0].message


def test_each_sample_has_its_own_seed() -> None:
    spec = good_spec(seed=40)
    assert [body_for(spec, "plain", index=i)["seed"] for i in range(3)] == [40, 41, 42]
    assert "seed" not in body_for(good_spec(), "plain", index=2)


def test_stream_asks_for_the_usage() -> None:
    body = body_for(good_spec(stream=True), "plain")
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert not {"stream", "stream_options"} & set(body_for(good_spec(), "plain"))


def test_parallel_tool_calls_false_is_sent() -> None:
    for value in (False, True):
        spec = good_spec(parallel_tool_calls=value)
        assert body_for(spec, "tools-required")["parallel_tool_calls"] is value
        assert "parallel_tool_calls" not in body_for(spec, "plain")


def test_token_ids_only_when_asked() -> None:
    spec = good_spec()
    for mode in spec.mode_list():
        assert "return_tokens_as_token_ids" not in request_body(spec, mode, 0.0)
        assert request_body(spec, mode, 0.0, raw_ids=True)["return_tokens_as_token_ids"] is True


def test_messages_are_system_conversation_then_prompt() -> None:
    turns = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    spec = good_spec(system="be brief", conversation=turns)
    body = body_for(spec, "plain")
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][-1]["content"] == examples.WEATHER_PROMPT
    assert body["temperature"] == 0.5 and body["max_tokens"] == spec.max_tokens


# -- verdict() --------------------------------------------------------------------------------


def call(name: str, arguments: Any) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}


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


# -- lint(): the embedded preset's tool-calling notes -----------------------------------------


@pytest.fixture(scope="module")
def caps() -> ToolCapabilities:
    preset = PresetCatalog(None).get("smollm2-cpu")
    assert preset.tools is not None
    return preset.tools


def lint_spec(**over: Any) -> Spec:
    """A session the embedded preset's notes find nothing wrong with."""
    fields: dict[str, Any] = {
        "model": "m",
        "prompt": examples.WEATHER_PROMPT,
        "tools": examples.tools(1),
        "modes": ["tools-required"],
        "temperatures": [0.0],
        "parallel_tool_calls": False,
    }
    return Spec.model_validate(fields | over)


def test_a_session_within_the_notes_has_no_warning(caps: ToolCapabilities) -> None:
    assert check(lint_spec()) == []
    assert lint(lint_spec(), caps) == []
    assert lint(lint_spec(tools=examples.tools(caps.tool_soft_cap)), caps) == []


def test_more_tools_than_the_soft_cap(caps: ToolCapabilities) -> None:
    n = caps.tool_soft_cap + 1
    [w] = lint(lint_spec(tools=examples.tools(n)), caps, preset="smollm2-cpu")
    assert f"{n} tools" in w and f"up to {caps.tool_soft_cap}" in w and "smollm2-cpu" in w


def test_temperature_outside_the_reliable_range(caps: ToolCapabilities) -> None:
    lo, hi = caps.temperature
    inside, outside = (lo + hi) / 2, hi + 0.4
    [w] = lint(lint_spec(temperatures=[inside, outside]), caps)
    assert f"{outside:g}" in w and f"{inside:g}," not in w
    assert f"[{lo:g}, {hi:g}]" in w


def test_parallel_tool_calls_must_be_false_for_a_family_without(caps: ToolCapabilities) -> None:
    assert caps.parallel_calls is False
    for value in (None, True):
        [w] = lint(lint_spec(parallel_tool_calls=value), caps)
        assert "parallel" in w and "false" in w
    assert lint(lint_spec(parallel_tool_calls=False), caps) == []
    with_parallel = caps.model_copy(update={"parallel_calls": True})
    assert lint(lint_spec(parallel_tool_calls=None), with_parallel) == []


def test_tool_results_for_a_model_without_multi_turn(caps: ToolCapabilities) -> None:
    assert caps.multi_turn_tool_results is False
    turns = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [call("get_weather", {"city": "Paris"})]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    spec = lint_spec(conversation=turns)
    assert check(spec) == []
    [w] = lint(spec, caps)
    assert "tool results" in w
    multi = caps.model_copy(update={"multi_turn_tool_results": True})
    assert lint(spec, multi) == []


def test_tools_auto_for_a_family_that_needs_guided_decoding(caps: ToolCapabilities) -> None:
    assert caps.needs_guided_decoding is True
    [w] = lint(lint_spec(modes=["tools-auto", "tools-required"]), caps)
    assert "guided decoding" in w and "tools-auto" in w
    assert lint(lint_spec(modes=["tools-required", "tool:get_weather"]), caps) == []


def test_no_tool_warnings_without_notes_or_without_tool_modes(caps: ToolCapabilities) -> None:
    reckless = lint_spec(
        tools=examples.tools(10),
        modes=["tools-auto"],
        temperatures=[1.5],
        parallel_tool_calls=None,
    )
    assert len(lint(reckless, caps)) == 4  # cap, temperature, parallel, guided
    assert lint(reckless, None) == []
    assert lint(reckless.model_copy(update={"modes": ["plain", "json_object"]}), caps) == []


def test_the_tools_share_of_the_context(caps: ToolCapabilities) -> None:
    spec = lint_spec()
    window = 2048
    heavy = PromptTokens(
        with_tools=100 + int(window * 0.3), without_tools=100, max_model_len=window
    )
    [w] = lint(spec, caps, heavy)
    assert f"{heavy.tools} tokens" in w and "30%" in w and f"{window}-token" in w
    light = PromptTokens(100 + int(window * (CONTEXT_SHARE_WARN - 0.05)), 100, window)
    assert lint(spec, caps, light) == []
    assert lint(spec, caps, PromptTokens(1900, 100, None)) == []  # window unknown


def test_prompt_plus_max_tokens_over_the_window(caps: ToolCapabilities) -> None:
    spec = lint_spec(max_tokens=300)
    over = PromptTokens(with_tools=1800, without_tools=1790, max_model_len=2048)
    [w] = lint(spec, caps, over)
    assert "1800 tokens" in w and "max_tokens (300)" in w and "max_model_len 2048" in w
    fits = PromptTokens(with_tools=1748, without_tools=1740, max_model_len=2048)
    assert lint(spec, caps, fits) == []
    assert len(lint(spec, None, over)) == 1  # the window is not a tool note


# -- Grid, Cell, Sweep arithmetic -------------------------------------------------------------


def sample(mode: str, t: float, valid: bool | None, error: str | None = None, i: int = 0) -> Sample:
    from naptha_tui.backends.playground.judge import Verdict

    s = Sample(mode, t, i, None, {})
    s.verdict = Verdict(valid)
    s.error = error
    s.latency_s = 0.1
    return s


def test_the_grid_counts_valid_checked_and_errors() -> None:
    spec = good_spec(modes=["tools-required", "grammar"], temperatures=[0.0, 0.7], samples=3)
    grid = Grid(spec)
    assert list(grid.cells) == [
        ("tools-required", 0.0),
        ("tools-required", 0.7),
        ("grammar", 0.0),
        ("grammar", 0.7),
    ]
    for valid, error in ((True, None), (False, None), (False, "HTTP 400: bad")):
        grid.add(sample("tools-required", 0.0, valid, error))
    grid.add(sample("grammar", 0.0, None))
    cell = grid.cells[("tools-required", 0.0)]
    assert (cell.samples, cell.valid, cell.checked, cell.errors) == (3, 1, 3, 1)
    assert cell.valid_rate == pytest.approx(1 / 3)
    grammar = grid.cells[("grammar", 0.0)]
    assert (grammar.samples, grammar.checked, grammar.valid_rate) == (1, 0, None)
    assert grid.cells[("grammar", 0.7)].valid_rate is None  # nothing yet


def test_sweep_json() -> None:
    spec = good_spec(modes=["plain", "regex"], temperatures=[0.0, 1.0], samples=2)
    sweep = Sweep(spec)
    sweep.add(sample("regex", 1.0, True, i=1))
    sweep.add(sample("plain", 0.0, False))
    sweep.add(sample("regex", 1.0, False, i=0))
    doc = sweep.to_json()
    assert doc["complete"] is False and doc["samples"] == 3 and doc["model"] == "m"
    assert len(doc["grid"]) == 4
    for entry in doc["grid"]:
        assert {"temperature", "mode", "samples", "valid", "valid_rate"} <= set(entry)
    by_cell = {(e["mode"], e["temperature"]): e for e in doc["grid"]}
    assert by_cell[("regex", 1.0)] | {"mean_latency_ms": None} == {
        "temperature": 1.0,
        "mode": "regex",
        "samples": 2,
        "valid": 1,
        "valid_rate": 0.5,
        "errors": 0,
        "mean_latency_ms": None,
        "right_tool_rate": None,
    }
    assert by_cell[("plain", 1.0)]["valid_rate"] is None
    assert [(s.mode, s.temperature, s.index) for s in sweep.ordered()] == [
        ("plain", 0.0, 0),
        ("regex", 1.0, 0),
        ("regex", 1.0, 1),
    ]
    for m, t in ((m, t) for m in ("plain", "regex") for t in (0.0, 1.0)):
        for i in range(2):
            if (m, t, i) not in {(s.mode, s.temperature, s.index) for s in sweep.samples}:
                sweep.add(sample(m, t, True, i=i))
    assert sweep.to_json()["complete"] is True


def test_a_mode_given_twice_and_session_keys_in_extra_body_are_refused() -> None:
    spec = Spec(
        model="m",
        prompt="hi",
        modes=["plain", "plain"],
        extra_body={"stream": True, "logprobs": False, "top_p": 0.9},
    )
    found = {(p.field, p.message) for p in check(spec)}
    assert ("mode", "plain given twice") in found
    assert {f for f, _ in found} == {"mode", "extra_body.stream", "extra_body.logprobs"}


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


def test_expect_tool_must_be_offered() -> None:
    problems = check(good_spec(expect_tool="get_wether"))
    assert [p.field for p in problems] == ["expect_tool"]
