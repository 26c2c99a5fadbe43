"""The playground over real HTTP (a fake proxy and server on 127.0.0.1).

The headless ``try`` command: test_try_command.py. The core without a server:
test_playground_spec.py, _judge.py, _lint.py; saved sessions and
copied code: test_playground_sessions.py.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from naptha_tui.backends.endpoints import ModelInfo, ServerAccess, Target
from naptha_tui.backends.playground import examples
from naptha_tui.backends.playground.results import Sample, Sweep
from naptha_tui.backends.playground.run import Playground
from naptha_tui.backends.playground.spec import Mode
from naptha_tui.backends.presets import PresetCatalog
from tests.fakes.fake_proxy import PROXY_KEY, SERVER_KEY, FakeProxy, Reply
from tests.unit.playground_common import WEATHER_ARGS, WEATHER_CALL, weather_spec
from tests.unit.toolcall_cases import hermes_call

CALL_TEXT = hermes_call("get_weather", WEATHER_ARGS)
# what a Hermes-format model generates for that call (its parser moved it to tool_calls)
CALL_TOKENS = (
    "<tool_call>",
    "\n",
    '{"name": "get_weather",',
    ' "arguments": ',
    '{"city": "Paris"}}',
)
CALL_TOKENS += ("\n", "</tool_call>", "<|im_end|>")
assert "".join(CALL_TOKENS[:-1]) == CALL_TEXT


# -- the engine over HTTP ---------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeProxy]:
    with FakeProxy(models=["m", "other"]) as f:
        yield f


def target(fake: FakeProxy, local: bool = True, **info: Any) -> Target:
    """The fake as the proxy; with ``local``, also as model ``m``'s server (the node runs it)."""
    server = ServerAccess(fake.url, SERVER_KEY, "m") if local else None
    return Target(fake.url, PROXY_KEY, None, {"m": ModelInfo(server=server, **info)})


async def test_raw_text_comes_from_detokenize(fake: FakeProxy) -> None:
    fake.reply = Reply(tokens=CALL_TOKENS, content=None, tool_calls=(WEATHER_CALL,))
    spec = weather_spec()
    async with Playground(target(fake, parser="naptha_hermes")) as pg:
        s = await pg.sample(spec, Mode.parse("tools-required"), 0.0, 0)
    assert s.error is None and s.verdict.valid is True, s.verdict
    [chat] = fake.chat
    assert chat.body == s.body and chat.body["return_tokens_as_token_ids"] is True
    [detok] = fake.requests("/detokenize")
    assert detok.headers["Authorization"] == f"Bearer {SERVER_KEY}"
    assert detok.body["tokens"] == [fake.token_id(t) for t in CALL_TOKENS]
    assert s.raw == "".join(CALL_TOKENS) and s.raw_source == "logprobs token ids, /detokenize"
    assert s.raw_note is None and s.completion_tokens == len(CALL_TOKENS)
    assert s.tool_calls == [WEATHER_CALL] and s.content is None
    assert s.mismatches == []  # the call is in tool_calls, not content
    doc = s.to_json()
    assert doc["valid"] is True and doc["raw"] == s.raw and doc["error"] is None


async def test_a_remote_model_joins_the_token_strings(fake: FakeProxy) -> None:
    fake.reply = Reply(tokens=CALL_TOKENS, content=CALL_TEXT, finish_reason="stop")
    async with Playground(target(fake, local=False, parser="naptha_functionary")) as pg:
        s = await pg.sample(weather_spec(), Mode.parse("tools-required"), 0.0, 0)
    assert "return_tokens_as_token_ids" not in fake.chat[0].body
    assert fake.requests("/detokenize") == []
    assert s.raw == "".join(CALL_TOKENS) and s.raw_source == "logprobs tokens"
    assert s.verdict.valid is False  # the call stayed in content
    [m] = s.mismatches
    assert m.family.startswith("Hermes") and m.server_reads is False
    assert [name for name, _ in m.calls] == ["get_weather"]


async def test_a_stream_missing_logprobs_says_raw_is_incomplete(fake: FakeProxy) -> None:
    dropped = frozenset(range(1, 6))
    fake.reply = Reply(
        tokens=CALL_TOKENS,
        content=None,
        tool_calls=(WEATHER_CALL,),
        finish_reason="tool_calls",
        stream_dropped=dropped,
    )
    spec = weather_spec(stream=True)
    async with Playground(target(fake)) as pg:
        s = await pg.sample(spec, Mode.parse("tools-required"), 0.0, 0)
    assert fake.chat[0].body["stream_options"] == {"include_usage": True}
    assert s.error is None and s.tool_calls[0]["function"] == WEATHER_CALL["function"]
    assert s.tool_calls[0]["id"] == "call_0" and s.verdict.valid is True
    assert s.finish_reason == "tool_calls" and s.ttft_s is not None
    kept = [t for i, t in enumerate(CALL_TOKENS) if i not in dropped]
    assert s.raw == "".join(kept)
    assert s.raw_note is not None and s.raw_note.startswith("incomplete")
    assert f"{len(kept)} of {len(CALL_TOKENS)}" in s.raw_note


async def test_a_complete_stream_has_no_note(fake: FakeProxy) -> None:
    fake.reply = Reply()
    async with Playground(target(fake)) as pg:
        s = await pg.sample(weather_spec(stream=True, modes=["plain"]), Mode("plain"), 0.0, 0)
    assert s.content == Reply().content and s.raw == "".join(Reply().tokens)
    assert s.raw_note is None and s.verdict.valid is True
    assert (s.prompt_tokens, s.completion_tokens) == (11, len(Reply().tokens))


@pytest.mark.parametrize("stream", [False, True])
async def test_an_http_error_is_a_failed_sample(fake: FakeProxy, stream: bool) -> None:
    fake.reply = Reply(status=400, error="tool_choice required needs tools")
    async with Playground(target(fake)) as pg:
        s = await pg.sample(weather_spec(stream=stream), Mode.parse("tools-required"), 0.0, 0)
    assert s.error is not None and "HTTP 400" in s.error and "needs tools" in s.error
    assert s.verdict.valid is False and "request failed" in s.verdict.problems[0]
    assert s.raw is None and s.tool_calls == []
    assert len(fake.chat) == 1


@pytest.mark.parametrize("verbatim", ["<html>Bad Gateway</html>", '{"error": {"message": "x"}}'])
async def test_a_broken_answer_is_a_failed_sample_not_a_hung_sweep(
    fake: FakeProxy, verbatim: str
) -> None:
    fake.reply = Reply(verbatim=verbatim)
    sweep = Sweep(weather_spec(modes=["plain"], samples=2))
    async with Playground(target(fake)) as pg:
        await asyncio.wait_for(sweep.run(pg), 1.5)
    assert len(sweep.samples) == 2
    assert all(s.error is not None and s.verdict.valid is False for s in sweep.samples)


async def test_an_error_in_the_stream_is_a_failed_sample(fake: FakeProxy) -> None:
    fake.reply = Reply(stream_error="engine died")
    async with Playground(target(fake)) as pg:
        s = await pg.sample(weather_spec(modes=["plain"], stream=True), Mode("plain"), 0.0, 0)
    assert s.error is not None and "engine died" in s.error
    assert s.verdict.valid is False


async def test_prepare_refuses_a_model_not_served_and_sends_nothing(fake: FakeProxy) -> None:
    async with Playground(target(fake)) as pg:
        prepared = await pg.prepare(weather_spec(model="gpt-x"))
    [p] = prepared.problems
    assert p.field == "model" and "m, other" in p.message
    assert fake.chat == [] and fake.requests("/tokenize") == []
    [models] = fake.requests("/v1/models")
    assert models.headers["Authorization"] == f"Bearer {PROXY_KEY}"


async def test_prepare_with_no_proxy_names_the_model(fake: FakeProxy) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Playground(Target(f"http://127.0.0.1:{port}", PROXY_KEY)) as pg:
        [p] = (await pg.prepare(weather_spec())).problems
    assert p.field == "model" and "does not answer" in p.message


async def test_prepare_counts_the_tools_and_warns_from_the_notes(fake: FakeProxy) -> None:
    preset = PresetCatalog(None).get("smollm2-cpu")
    spec = weather_spec(tools=examples.tools(10), modes=["tools-auto"])
    fake.max_model_len = FakeProxy.count({"tools": spec.tools}) * 3  # tools: about a third
    info = {"preset": preset.name, "parser": preset.tool_call_parser, "caps": preset.tools}
    async with Playground(target(fake, **info)) as pg:
        prepared = await pg.prepare(spec)
    assert prepared.problems == []
    tokens = prepared.tokens
    assert tokens is not None and tokens.max_model_len == fake.max_model_len
    bodies = sorted((s.body for s in fake.requests("/tokenize")), key=lambda b: "tools" in b)
    assert [("tools" in b) for b in bodies] == [False, True]
    assert tokens.without_tools == FakeProxy.count(bodies[0])
    assert tokens.with_tools == FakeProxy.count(bodies[1]) > tokens.without_tools
    warned = " | ".join(prepared.warnings)
    for piece in ("10 tools", "guided decoding", "of the", "smollm2-cpu"):
        assert piece in warned, prepared.warnings
    assert fake.chat == []


async def test_a_sweep_judges_every_sample_into_the_grid(fake: FakeProxy) -> None:
    def reply(body: dict[str, Any]) -> Reply:  # a call only at the lowest temperature
        if body["temperature"] == 0.0:
            return Reply(tokens=CALL_TOKENS, content=None, tool_calls=(WEATHER_CALL,))
        return Reply()

    fake.reply = reply
    spec = weather_spec(temperatures=[0.0, 0.7], samples=3, seed=10)
    sweep = Sweep(spec)
    seen: list[tuple[str, int]] = []
    async with Playground(target(fake)) as pg:
        await sweep.run(pg, lambda s, cell: seen.append((cell.mode, cell.samples)), 2)
    assert len(fake.chat) == 6 and len(seen) == 6
    assert sorted(b.body["seed"] for b in fake.chat) == [10, 10, 11, 11, 12, 12]
    doc = sweep.to_json()
    assert doc["complete"] is True and doc["samples"] == 6
    rates = {(e["mode"], e["temperature"]): e["valid_rate"] for e in doc["grid"]}
    assert rates == {("tools-required", 0.0): 1.0, ("tools-required", 0.7): 0.0}
    assert [(s.temperature, s.index) for s in sweep.ordered()] == [
        (t, i) for t in (0.0, 0.7) for i in range(3)
    ]


async def _stopped_after_two(fake: FakeProxy, stop: str) -> tuple[Sweep, asyncio.Task[None]]:
    """A sweep of 8 slow samples, stopped once two have landed: its task cancelled from
    outside (``task``) or its own ``cancel()`` (``sweep``, Escape in the panel)."""
    fake.reply = Reply(delay_s=0.15)
    sweep = Sweep(weather_spec(modes=["plain"], samples=8))
    two = asyncio.Event()

    def on_sample(s: Sample, cell: Any) -> None:
        if len(sweep.samples) == 2:
            two.set()

    async with Playground(target(fake)) as pg:
        task = asyncio.create_task(sweep.run(pg, on_sample, concurrency=1))
        await asyncio.wait_for(two.wait(), 10)
        if stop == "task":
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            sweep.cancel()
            await asyncio.wait_for(task, 10)  # it returns: no CancelledError
    await asyncio.sleep(0.3)
    assert len(fake.chat) < sweep.spec.samples  # the rest were never sent
    return sweep, task


async def test_cancelling_a_sweep_keeps_the_finished_samples(fake: FakeProxy) -> None:
    sweep, _ = await _stopped_after_two(fake, "task")
    assert sweep.cancelled is True
    assert [s.index for s in sweep.samples] == [0, 1]
    assert all(s.verdict.valid is True for s in sweep.samples)
    assert sweep.to_json()["complete"] is False and sweep.to_json()["samples"] == 2
    assert sweep.grid.cells[("plain", 0.0)].samples == 2


async def test_a_sweep_stopped_by_cancel_returns_what_landed(fake: FakeProxy) -> None:
    """``cancel()`` stops sending and ``run()`` returns, marked cancelled, with the samples
    that landed; the caller's task is not left cancelled."""
    sweep, task = await _stopped_after_two(fake, "sweep")
    assert not task.cancelled() and task.cancelling() == 0
    assert sweep.cancelled is True
    assert [s.index for s in sweep.samples] == [0, 1]
    assert sweep.to_json()["complete"] is False
