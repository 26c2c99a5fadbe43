"""The stream shape the proxy's callback (``proxy/litellm/hooks.py``) gives LiteLLM's chunks.

LiteLLM is not installed here; chunks are shaped like LiteLLM 1.108.7's.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from naptha_tui.proxy.litellm.hooks import (
    NapthaRoutes,
    reshape_stream,
    reshape_usage_chunk,
)

USAGE = {"completion_tokens": 3, "prompt_tokens": 7, "total_tokens": 10}
BASE = {"id": "chatcmpl-1", "created": 1, "model": "m-a", "object": "chat.completion.chunk"}


def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {**BASE, "choices": choices, **extra}


# --- stream shape: dict chunks ---------------------------------------------------------------


def test_usage_on_an_empty_delta_loses_its_choices() -> None:
    # what LiteLLM 1.108.7 emits as its usage chunk
    c = chunk([{"index": 0, "delta": {}}], usage=dict(USAGE))
    out = reshape_usage_chunk(c)
    assert out == [chunk([], usage=USAGE)]


@pytest.mark.parametrize(
    "choice",
    [
        {"index": 0, "delta": {"content": " ok"}},
        {
            "index": 0,
            "delta": {
                "tool_calls": [{"index": 0, "function": {"arguments": '"}'}, "type": "function"}]
            },
        },
        {"index": 0, "delta": {}, "finish_reason": "stop"},
        {"index": 0, "delta": {"role": "assistant"}},
        {"index": 0, "delta": {"reasoning_content": "hmm"}},
    ],
    ids=["content", "tool_calls", "finish_reason", "role", "reasoning"],
)
def test_usage_on_a_carrying_delta_is_split_in_two(choice: dict[str, Any]) -> None:
    c = chunk([copy.deepcopy(choice)], usage=dict(USAGE))
    out = reshape_usage_chunk(c)
    assert out == [chunk([choice]), chunk([], usage=USAGE)]
    assert "usage" not in out[0]


def test_chunk_without_usage_is_unchanged() -> None:
    for c in (
        chunk([{"index": 0, "delta": {"content": "hi"}}]),
        chunk([{"index": 0, "delta": {"content": "hi"}}], usage=None),
    ):
        before = copy.deepcopy(c)
        [out] = reshape_usage_chunk(c)
        assert out is c and out == before


def test_already_shaped_chunk_is_unchanged() -> None:
    c = chunk([], usage=dict(USAGE))
    [out] = reshape_usage_chunk(c)
    assert out is c and out == chunk([], usage=USAGE)


# --- stream shape: pydantic chunks -----------------------------------------------------------


class DeclaredUsage(BaseModel):
    """Like ModelResponseStream, with ``usage`` a declared field."""

    id: str
    choices: list[Any]
    usage: dict[str, Any] | None = None


class ExtraUsage(BaseModel):
    """Like LiteLLM's OpenAIObject-based ModelResponseStream, where ``usage`` is an extra."""

    model_config = ConfigDict(extra="allow")

    id: str
    choices: list[Any]


MODELS = pytest.mark.parametrize("model", [DeclaredUsage, ExtraUsage])


@MODELS
def test_model_usage_on_an_empty_delta(model: type[BaseModel]) -> None:
    c = model(id="chatcmpl-1", choices=[{"index": 0, "delta": {}}], usage=dict(USAGE))
    [out] = reshape_usage_chunk(c)
    assert out is c
    assert out.model_dump() == {"id": "chatcmpl-1", "choices": [], "usage": USAGE}


@MODELS
def test_model_usage_on_a_content_delta_is_split(model: type[BaseModel]) -> None:
    delta = {"index": 0, "delta": {"content": "ok"}, "finish_reason": "length"}
    c = model(id="chatcmpl-1", choices=[dict(delta)], usage=dict(USAGE))
    first, second = reshape_usage_chunk(c)
    assert first is c and second is not c
    assert getattr(first, "usage", None) is None
    assert first.model_dump(exclude_none=True) == {"id": "chatcmpl-1", "choices": [delta]}
    assert second.model_dump() == {"id": "chatcmpl-1", "choices": [], "usage": USAGE}


@MODELS
def test_model_without_usage_or_already_shaped_is_unchanged(model: type[BaseModel]) -> None:
    plain = model(id="x", choices=[{"index": 0, "delta": {"content": "a"}}])
    assert reshape_usage_chunk(plain) == [plain]
    assert plain.model_dump(exclude_none=True)["choices"] == [
        {"index": 0, "delta": {"content": "a"}}
    ]
    shaped = model(id="x", choices=[], usage=dict(USAGE))
    assert reshape_usage_chunk(shaped) == [shaped]
    assert shaped.model_dump() == {"id": "x", "choices": [], "usage": USAGE}


# --- reshape_stream --------------------------------------------------------------------------


def tool_delta(arguments: str, **head: Any) -> dict[str, Any]:
    return {
        "index": 0,
        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": arguments, **head}}]},
    }


def litellm_stream(merge_usage: bool) -> list[dict[str, Any]]:
    """A streamed answer with text and a tool call; usage on its own empty-delta chunk or
    merged into the chunk that carries the finish reason."""
    chunks = [
        chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
        chunk([{"index": 0, "delta": {"content": "Let me"}}]),
        chunk([{"index": 0, "delta": {"content": " check."}}]),
        chunk([tool_delta("", name="get_weather", id="call_1")]),
        chunk([tool_delta('{"city": ')]),
        chunk([tool_delta('"Paris"}')]),
    ]
    finish = {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    if merge_usage:
        finish = {**tool_delta(""), "finish_reason": "tool_calls"}
        chunks.append(chunk([finish], usage=dict(USAGE)))
    else:
        chunks.append(chunk([finish]))
        chunks.append(chunk([{"index": 0, "delta": {}}], usage=dict(USAGE)))
    return chunks


def text_of(chunks: Iterable[dict[str, Any]]) -> tuple[str, str, list[str | None]]:
    content, arguments, finishes = "", "", []
    for c in chunks:
        for choice in c["choices"]:
            delta = choice.get("delta") or {}
            content += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                arguments += call["function"].get("arguments") or ""
            finishes.append(choice.get("finish_reason"))
    return content, arguments, [f for f in finishes if f]


async def collect(chunks: list[Any]) -> list[Any]:
    async def gen() -> AsyncIterator[Any]:
        for c in chunks:
            yield c

    return [c async for c in reshape_stream(gen())]


@pytest.mark.parametrize("merge_usage", [False, True])
async def test_reshape_stream_keeps_content_and_moves_usage_last(merge_usage: bool) -> None:
    chunks = litellm_stream(merge_usage)
    before = text_of(copy.deepcopy(chunks))
    assert before == ("Let me check.", '{"city": "Paris"}', ["tool_calls"])
    out = await collect(chunks)
    assert text_of(out) == before
    with_usage = [i for i, c in enumerate(out) if c.get("usage") is not None]
    assert with_usage == [len(out) - 1]
    assert out[-1] == chunk([], usage=USAGE)
    assert all(c["choices"] for c in out[:-1])


async def test_streaming_hook_reshapes() -> None:
    async def gen() -> AsyncIterator[Any]:
        yield chunk([{"index": 0, "delta": {"content": "hi"}}], usage=dict(USAGE))

    hook = NapthaRoutes(feed_path="")
    out = [c async for c in hook.async_post_call_streaming_iterator_hook(None, gen(), {})]
    assert out == [chunk([{"index": 0, "delta": {"content": "hi"}}]), chunk([], usage=USAGE)]
