"""The layer verdict per sample (issue 21): each layer on recorded outputs, the OpenAI-SDK-style
reassembly of a stream, and ``--explain`` over real HTTP against fakes where the proxy and the
stream behave as LiteLLM #35711 and #38926 describe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from naptha_tui.backends.endpoints import ModelInfo, ServerAccess, Target
from naptha_tui.backends.playground.explain import ExplainingPlayground
from naptha_tui.backends.playground.layers import Answer, Evidence, attribute, reassemble
from naptha_tui.backends.playground.results import Sweep
from naptha_tui.backends.playground.spec import Mode
from tests.fakes.fake_proxy import PROXY_KEY, SERVER_KEY, FakeProxy, Reply
from tests.unit import test_try_command as run_tests
from tests.unit.playground_common import WEATHER_ARGS, WEATHER_CALL, weather_spec
from tests.unit.toolcall_cases import hermes_call

REQUIRED = Mode.parse("tools-required")
AUTO = Mode.parse("tools-auto")
CALL_TEXT = hermes_call("get_weather", WEATHER_ARGS)
RAW = CALL_TEXT + "<|im_end|>"
PROMPT = (
    "<|im_start|>system\n# Tools\n<tools>\n"
    + json.dumps(weather_spec().tools[0])
    + "\n</tools><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n"
)
GOOD = Answer(None, (WEATHER_CALL,))


def evidence(**over: Any) -> Evidence:
    """A sample where every layer agrees on a valid call."""
    fields: dict[str, Any] = {
        "prompt": PROMPT,
        "prompt_tokens": 300,
        "max_model_len": 2048,
        "max_tokens": 256,
        "raw": RAW,
        "server_parser": "naptha_hermes",
        "direct": GOOD,
        "proxied": GOOD,
        "streamed": GOOD,
    }
    return Evidence(**(fields | over))


# -- each layer on recorded outputs --------------------------------------------------------------


def test_every_layer_agreeing_on_a_valid_call_is_none() -> None:
    got = attribute(weather_spec(), REQUIRED, evidence())
    assert got.layer == "none", got
    assert got.to_json() == {"layer": "none", "layer_reason": got.reason}


def test_a_template_that_drops_the_tools_is_the_template() -> None:
    bare = "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n"
    got = attribute(weather_spec(), REQUIRED, evidence(prompt=bare))
    assert got.layer == "template"
    assert "does not hold tool 'get_weather'" in got.reason


def test_a_template_that_drops_a_parameter_is_the_template() -> None:
    prompt = PROMPT.replace('"unit"', '"u"')
    got = attribute(weather_spec(), REQUIRED, evidence(prompt=prompt))
    assert got.layer == "template" and "parameter(s) unit" in got.reason


def test_a_prompt_that_leaves_no_room_for_max_tokens_is_the_template() -> None:
    got = attribute(weather_spec(), REQUIRED, evidence(prompt_tokens=1900))
    assert got.layer == "template"
    assert "1900 tokens of max_model_len 2048: 148 left for max_tokens 256" in got.reason


def test_the_presets_render_check_failing_is_the_template() -> None:
    ev = evidence(template_problems=("tools: the prompt does not mention set_timer",))
    got = attribute(weather_spec(), REQUIRED, ev)
    assert got.layer == "template" and "set_timer" in got.reason


def test_a_text_answer_with_no_call_in_any_format_is_the_model() -> None:
    text = Answer("It is sunny in Paris.")
    ev = evidence(raw="It is sunny in Paris.<|im_end|>", direct=text, proxied=text, streamed=text)
    got = attribute(weather_spec(modes=["tools-auto"]), AUTO, ev)
    assert got.layer == "model" and "no call in any known format" in got.reason


def test_a_call_cut_off_at_max_tokens_is_the_model_running_out_not_a_format() -> None:
    # recorded: tools-required with four tools, 128 tokens; the guided JSON list stops mid-way
    raw = '[\n  {\n    "name": "get_weather",\n    "parameters": {\n      "city": "Par'
    cut = Answer(None, (), None)
    ev = evidence(raw=raw, finish_reason="length", max_tokens=128, direct=cut, proxied=cut)
    got = attribute(weather_spec(), REQUIRED, ev)
    assert got.layer == "model"
    assert got.reason.startswith("the model ran out of max_tokens (128) before its call was ")
    stopped = attribute(weather_spec(), REQUIRED, replace(ev, finish_reason="stop"))
    assert "no call in any known format" in stopped.reason


def test_a_call_that_fails_its_schema_in_every_layer_is_the_model() -> None:
    bad = {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    raw = hermes_call("get_weather", {}) + "<|im_end|>"
    ev = evidence(raw=raw, direct=Answer(None, (bad,)), proxied=Answer(None, (bad,)))
    got = attribute(weather_spec(), REQUIRED, ev)
    assert got.layer == "model" and "'city' is a required property" in got.reason


def test_a_call_in_the_raw_text_that_vllms_hermes_parser_lost_is_the_parser() -> None:
    # </tool_call> inside an argument string: vLLM's hermes splits on it; naptha_hermes reads
    # the JSON and finds the call whole. The server's answer is the raw text as content.
    args = {"city": "Paris </tool_call> x"}
    raw = hermes_call("get_weather", args)
    lost = Answer(raw)
    ev = evidence(raw=raw, server_parser="hermes", direct=lost, proxied=lost, streamed=lost)
    got = attribute(weather_spec(), REQUIRED, ev)
    assert got.layer == "parser", got
    assert got.reason.startswith(
        "the raw text holds a Hermes <tool_call> tags call get_weather("
    ), got.reason
    assert "that the server's tool_calls lack; naptha_hermes reads it; the server runs hermes" in (
        got.reason
    )


def test_a_server_parser_that_does_not_read_the_family_is_named() -> None:
    raw = '<function=get_weather>{"city": "Paris"}</function>'
    lost = Answer(raw)
    ev = evidence(raw=raw, server_parser="naptha_hermes", direct=lost, proxied=lost)
    got = attribute(weather_spec(), REQUIRED, ev)
    assert got.layer == "parser"
    assert "naptha_functionary reads it" in got.reason
    assert "the server runs naptha_hermes, which does not read <function=NAME> tags" in got.reason


def test_the_server_and_the_proxy_differing_is_the_proxy() -> None:
    # the proxy hands the call back as content (the translation of LiteLLM #35711, unstreamed)
    moved = Answer(CALL_TEXT)
    got = attribute(weather_spec(), REQUIRED, evidence(proxied=moved, streamed=moved))
    assert got.layer == "proxy"
    assert got.reason.startswith("the server directly and the proxy differ: get_weather(")


def test_streamed_and_unstreamed_differing_is_the_stream() -> None:
    got = attribute(weather_spec(), REQUIRED, evidence(streamed=Answer(CALL_TEXT)))
    assert got.layer == "stream"
    assert "against no call" in got.reason


# -- reassembly as the OpenAI SDK does ----------------------------------------------------------


def chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}], **extra}


def piece(index: int, arguments: str, **fn: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, "function": {"arguments": arguments, **fn}}]}


def test_reassembly_keys_deltas_by_index_and_concatenates_arguments() -> None:
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f"}}
                ]
            }
        ),
        chunk(
            {
                "tool_calls": [
                    {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g"}}
                ]
            }
        ),
        chunk(piece(1, '{"y": ')),
        chunk(piece(0, '{"x": 1}')),
        chunk(piece(1, "2}")),
    ]
    got = reassemble(chunks)
    assert got.content is None and got.error is None
    assert [
        (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in got.tool_calls
    ] == [
        ("call_a", "f", '{"x": 1}'),
        ("call_b", "g", '{"y": 2}'),
    ]


def test_a_name_repeated_in_every_delta_doubles_as_in_the_sdk() -> None:
    got = reassemble([chunk(piece(0, "{}", name="f")), chunk(piece(0, "", name="f"))])
    assert got.tool_calls[0]["function"]["name"] == "ff"


def test_argument_deltas_collapsed_into_an_end_burst_reassemble_to_the_same_call() -> None:
    # LiteLLM #38926: with include_usage the arguments arrive late, in a few big chunks; the
    # timing changes, the reassembled call does not: not the stream layer.
    args = json.dumps(WEATHER_ARGS)
    head = {"index": 0, "id": "call_0", "type": "function", "function": {"name": "get_weather"}}
    burst = [chunk({"tool_calls": [head]}), chunk(piece(0, args)), {"choices": [], "usage": {}}]
    streamed = reassemble(burst)
    assert attribute(weather_spec(), REQUIRED, evidence(streamed=streamed)).layer == "none"


def test_an_error_chunk_ends_the_answer_with_it() -> None:
    got = reassemble([chunk({"content": "Par"}), {"error": {"message": "boom"}}])
    assert got == Answer("Par", (), "error in the stream: boom")


# -- --explain over HTTP -------------------------------------------------------------------------

CALL_TOKENS = (CALL_TEXT, "<|im_end|>")


@pytest.fixture
def fake() -> Iterator[FakeProxy]:
    with FakeProxy(models=["m"], server_models=("served-m",)) as f:
        yield f


def target(fake: FakeProxy) -> Target:
    """The fake as the proxy (model ``m``) and as the server (served as ``served-m``)."""
    server = ServerAccess(fake.url, SERVER_KEY, "served-m")
    return Target(fake.url, PROXY_KEY, None, {"m": ModelInfo(server=server, parser="hermes")})


def replies(streamed_as_content: bool = False) -> Any:
    """A Hermes call, parsed by the server; streamed through the proxy, it arrives as content
    when ``streamed_as_content`` (LiteLLM #35711)."""

    def reply(body: dict[str, Any]) -> Reply:
        proxied_stream = body["model"] == "m" and body.get("stream")
        if streamed_as_content and proxied_stream:
            return Reply(tokens=CALL_TOKENS, content=CALL_TEXT)
        return Reply(tokens=CALL_TOKENS, content=None, tool_calls=(WEATHER_CALL,))

    return reply


async def explain(fake: FakeProxy, **spec: Any) -> Sweep:
    sweep = Sweep(weather_spec(**spec))
    async with ExplainingPlayground(target(fake)) as pg:
        await sweep.run(pg)
    return sweep


async def test_explain_sends_the_extra_requests_and_names_none(fake: FakeProxy) -> None:
    fake.reply = replies()
    sweep = await explain(fake)
    [s] = sweep.samples
    assert (s.layer, s.layer_reason) == ("none", "every layer agrees and the call validates")
    chats = fake.chat
    direct = [c.body for c in chats if c.body["model"] == "served-m"]
    streamed = [c.body for c in chats if c.body["model"] == "m" and c.body.get("stream")]
    # the sample; straight to the server, unstreamed and streamed; its streamed proxy twin
    assert len(chats) == 4 and len(direct) == 2 and len(streamed) == 1
    assert [d.get("stream", False) for d in direct] in ([False, True], [True, False])
    assert all(d["tool_choice"] == "required" and d.get("seed") == s.seed for d in direct)
    [tok] = fake.requests("/tokenize")
    assert tok.body["tools"] == weather_spec().tools
    assert s.to_json()["layer"] == "none"
    assert sweep.to_json()["grid"][0]["layers"] == {"none": 1}


async def test_explain_blames_the_stream_when_streamed_calls_arrive_as_content(
    fake: FakeProxy,
) -> None:
    fake.reply = replies(streamed_as_content=True)
    sweep = await explain(fake, samples=2)
    assert [s.layer for s in sweep.samples] == ["stream", "stream"]
    reason = sweep.samples[0].layer_reason or ""
    assert reason.endswith(
        "streamed from the server directly it agrees: the proxy's stream translation"
    ), reason
    assert sweep.to_json()["grid"][0]["layers"] == {"stream": 2}


async def test_a_plain_sweep_sends_nothing_extra_and_has_no_layer(fake: FakeProxy) -> None:
    from naptha_tui.backends.playground.run import Playground

    fake.reply = replies()
    sweep = Sweep(weather_spec())
    async with Playground(target(fake)) as pg:
        await sweep.run(pg)
    [s] = sweep.samples
    assert len(fake.chat) == 1 and s.layer is None
    assert "layer" not in s.to_json() and "layers" not in sweep.to_json()["grid"][0]


# -- try --explain -------------------------------------------------------------------------------

node_proxy = run_tests.node_proxy
run_try = run_tests.run_try
BASE = (*run_tests.BASE, "--example", "weather", "--no-parallel-tool-calls")


def test_try_explain_json_gives_each_sample_its_layer_and_the_grid_a_count(
    capsys: pytest.CaptureFixture[str], node_proxy: FakeProxy
) -> None:
    """A model the node does not run: the proxied and the streamed answers alone."""
    node_proxy.reply = replies(streamed_as_content=True)
    argv = ("--mode", "tools-required", "--samples", "2", "--json", "--explain")
    code, out, err = run_try(capsys, *BASE, *argv)
    assert code == 0, err
    *samples, grid = [json.loads(line) for line in out.splitlines()]
    assert [s["layer"] for s in samples] == ["stream", "stream"]
    assert samples[0]["layer_reason"].startswith("streamed through the proxy (deltas reassembled")
    assert grid["grid"][0]["layers"] == {"stream": 2}
    assert len(node_proxy.chat) == 4  # each sample, and its streamed twin


def test_try_without_explain_sends_no_extra_request(
    capsys: pytest.CaptureFixture[str], node_proxy: FakeProxy
) -> None:
    node_proxy.reply = replies()
    code, out, err = run_try(capsys, *BASE, "--mode", "tools-required", "--explain")
    assert code == 0, err
    assert "  layer: none: every layer agrees and the call validates" in out
    assert out.rstrip().endswith("layers: none 1")
    capsys.readouterr()
    node_proxy.seen.clear()
    code, out, _ = run_try(capsys, *BASE, "--mode", "tools-required")
    assert code == 0 and "layer" not in out and len(node_proxy.chat) == 1


async def test_explain_reads_the_rendered_prompt_and_blames_a_template_without_tools(
    fake: FakeProxy,
) -> None:
    fake.reply = replies()
    fake.rendered = "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n"
    [s] = (await explain(fake)).samples
    assert s.layer == "template", s.layer_reason
    assert s.layer_reason == (
        "the rendered prompt does not hold tool 'get_weather': the template dropped tools"
    )
    [detok_prompt] = [r for r in fake.requests("/detokenize") if len(r.body["tokens"]) == 1]
    assert detok_prompt.body["model"] == "served-m"


async def test_explain_runs_the_presets_render_check(fake: FakeProxy, tmp_path: Any) -> None:
    fake.reply = replies()
    fake.rendered = PROMPT
    (tmp_path / "bare.jinja").write_text(
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
    )
    info = ModelInfo(
        server=ServerAccess(fake.url, SERVER_KEY, "served-m"),
        parser="hermes",
        chat_template="bare.jinja",
        template_base=tmp_path,
    )
    sweep = Sweep(weather_spec())
    async with ExplainingPlayground(Target(fake.url, PROXY_KEY, None, {"m": info})) as pg:
        await sweep.run(pg)
    [s] = sweep.samples
    assert s.layer == "template", s.layer_reason
    assert s.layer_reason is not None
    assert s.layer_reason.startswith("the preset's template fails the render check: ")


def test_a_server_parser_that_answers_differently_streamed_is_the_parser() -> None:
    ev = evidence(streamed_direct=Answer(CALL_TEXT), streamed=Answer(CALL_TEXT))
    got = attribute(weather_spec(), REQUIRED, ev)
    assert got.layer == "parser"
    assert got.reason.startswith("the server's parser (naptha_hermes) answers differently streamed")


async def test_explain_blames_the_parser_when_the_servers_stream_loses_the_call(
    fake: FakeProxy,
) -> None:
    def reply(body: dict[str, Any]) -> Reply:
        if body.get("stream"):  # the streaming parser gives the call back as content
            return Reply(tokens=CALL_TOKENS, content=CALL_TEXT)
        return Reply(tokens=CALL_TOKENS, content=None, tool_calls=(WEATHER_CALL,))

    fake.reply = reply
    [s] = (await explain(fake)).samples
    assert s.layer == "parser", s.layer_reason
    assert s.layer_reason == (
        "the server's parser (hermes) answers differently streamed: "
        'get_weather({"city": "Paris"}) against no call'
    )
