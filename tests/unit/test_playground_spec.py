"""The playground's session checks and the request it sends per mode (no server).

Verdicts, calls in content, warnings and the grid: test_playground_judge.py; the engine over
HTTP, sessions and the ``try`` command: test_playground_run.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from naptha_tui.backends.playground import examples
from naptha_tui.backends.playground.spec import (
    MODE_KINDS,
    MODE_NAMES,
    Mode,
    Spec,
    check,
    parse_temperatures,
    parse_tools,
    request_body,
)
from tests.unit.playground_common import WEATHER, fields_of, good_spec

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


def test_expect_tool_must_be_offered() -> None:
    problems = check(good_spec(expect_tool="get_wether"))
    assert [p.field for p in problems] == ["expect_tool"]
