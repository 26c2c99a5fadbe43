"""One streamed request, timed the way ``vllm bench serve`` times it.

The first SSE chunk that has a choice is the first token (TTFT); each later one adds an
inter-chunk gap (ITL); the last one ends the request (E2EL); the usage chunk vLLM sends at
the end (``stream_options.include_usage``) gives the token counts and moves no clock. An HTTP
error, a dropped stream or a stream without any choice is a failure with its cause.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import SSEError, aconnect_sse

from naptha_tui.backends.endpoints import Access
from naptha_tui.backends.errors import NapthaError

from .records import RequestRecord

DEPLOYMENT_HEADER = "x-litellm-model-id"
"""The proxy names the deployment (our server's name) that served a request here."""


@dataclass
class Reply:
    """What came back, for an agent's next turn: the text and the tool calls."""

    content: str = ""
    tool_calls: list[dict[str, Any]] | None = None


def _cause(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return "stream: connection dropped"
    if isinstance(exc, (SSEError, json.JSONDecodeError)):
        return f"stream: {type(exc).__name__}"
    return f"client: {type(exc).__name__}"


def _error_text(response: httpx.Response, body: bytes) -> str:
    try:
        doc = json.loads(body)
        err = doc.get("error", doc) if isinstance(doc, dict) else doc
        message = err.get("message", "") if isinstance(err, dict) else str(err)
    except ValueError:
        message = body.decode(errors="replace")
    return f"HTTP {response.status_code}" + (f": {message[:160]}" if message else "")


async def send(
    client: httpx.AsyncClient,
    access: Access,
    path: str,
    body: dict[str, Any],
    record: RequestRecord,
    want_reply: bool = False,
) -> Reply | None:
    """Send ``body`` to ``path`` as a stream and fill ``record``; the reply when asked."""
    reply = Reply() if want_reply else None
    calls: dict[int, dict[str, Any]] = {}
    record.start = st = time.perf_counter()
    last = st
    got_first = False
    try:
        async with aconnect_sse(
            client, "POST", access.base_url + path, json=body, headers=access.headers()
        ) as source:
            response = source.response
            record.deployment = response.headers.get(DEPLOYMENT_HEADER)
            if response.status_code != 200:
                record.error = _error_text(response, await response.aread())
                return reply
            async for event in source.aiter_sse():
                data = event.data
                if data == "[DONE]":
                    break
                if not data:
                    continue
                doc = json.loads(data)
                choices = doc.get("choices")
                if choices:
                    now = time.perf_counter()
                    if got_first:
                        record.itl.append(now - last)
                    else:
                        got_first = True
                        record.ttft = now - st
                    last = now
                    if reply is not None:
                        _gather(choices[0], reply, calls)
                usage = doc.get("usage")
                if usage:
                    record.output_tokens = usage.get("completion_tokens") or 0
                    record.prompt_tokens = usage.get("prompt_tokens") or 0
    except Exception as exc:  # every failure is a finding, counted by cause
        record.error = _cause(exc)
        return reply
    record.latency = last - st
    if got_first:
        record.success = True
    else:
        record.error = "no token"
    if reply is not None and calls:
        reply.tool_calls = [calls[i] for i in sorted(calls)]
    return reply


def _gather(choice: dict[str, Any], reply: Reply, calls: dict[int, dict[str, Any]]) -> None:
    delta = choice.get("delta")
    if delta is None:  # the completions endpoint
        reply.content += choice.get("text") or ""
        return
    reply.content += delta.get("content") or ""
    for part in delta.get("tool_calls") or ():
        call = calls.setdefault(
            part.get("index", len(calls)),
            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
        )
        call["id"] = part.get("id") or call["id"]
        fn = part.get("function") or {}
        call["function"]["name"] += fn.get("name") or ""
        call["function"]["arguments"] += fn.get("arguments") or ""


async def served_models(client: httpx.AsyncClient, access: Access) -> list[str]:
    """The models ``access`` serves (``GET /v1/models``); a clear error when it does not answer."""
    where = f"the {'proxy' if access.via_proxy else 'server ' + access.label} at {access.base_url}"
    try:
        got = await client.get(access.base_url + "/v1/models", headers=access.headers(), timeout=10)
    except httpx.HTTPError as exc:
        raise NapthaError(f"{where} does not answer ({_cause(exc)}); is the node up?") from exc
    if got.status_code != 200:
        raise NapthaError(f"{where}: GET /v1/models gave {_error_text(got, got.content)}")
    return sorted(m["id"] for m in got.json().get("data", []) if isinstance(m, dict) and "id" in m)


async def resolve_model(client: httpx.AsyncClient, access: Access, model: str | None) -> str:
    """``model`` when ``access`` serves it, else its first model when none was named."""
    served = await served_models(client, access)
    if model is None:
        if not served:
            raise NapthaError(f"{access.label} serves no model yet")
        return served[0]
    if model not in served:
        raise NapthaError(
            f"--model {model!r}: {access.label} does not serve it (it serves: "
            f"{', '.join(served) or 'nothing'}); nothing was sent"
        )
    return model
