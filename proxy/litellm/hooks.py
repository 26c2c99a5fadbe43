"""naptha's LiteLLM callback: the routing feed and vLLM's stream shape.

This file runs inside the proxy's own environment (litellm, no naptha_tui): the panel copies it
beside the rendered config as ``naptha_routes.py`` and the config loads ``naptha_routes.handler``.
It imports only the standard library and litellm, and never lets an exception escape into a
request.

Feed: one JSON line per request attempt, appended to ``$NAPTHA_ROUTES_FEED`` (``O_APPEND``
writes of one line each, so several proxy workers can share the file):

- ``{"kind": "start", "t", "call_id", "deployment", "model_group"}`` when a deployment is
  picked (the panel pairs it with the end event to count requests in flight);
- ``{"kind": "end", "t", "call_id", "model_group", "deployment", "api_base", "status",
  "latency_ms", "ttft_ms", "tokens_in", "tokens_out", "retries", "stream", "error"}``.

LiteLLM's own health checks (key alias ``litellm-internal-health-check``) are left out, and so
are requests the proxy itself turned away before routing them (a rejected key, its own rate
limit: LiteLLM sets ``litellm_params.proxy_rejected_before_routing``). LiteLLM still logs those
as failures, and names the deployment when the model has only one: a client with a wrong key
would show as that deployment's errors.

Stream shape: LiteLLM 1.108.7 hangs ``usage`` on a chunk whose ``choices`` holds an empty
delta; vLLM (and OpenAI) send it on a last chunk whose ``choices`` is empty, which is what
clients such as ``vllm bench serve`` read. ``reshape_usage_chunk`` moves it there without
dropping any content or tool-call delta.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

FEED_ENV = "NAPTHA_ROUTES_FEED"
HEALTH_CHECK_ALIAS = "litellm-internal-health-check"
REJECTED_BEFORE_ROUTING = "proxy_rejected_before_routing"
"""LiteLLM's ``litellm_params`` flag on a call it refused before picking a deployment."""
FEED_MAX_BYTES = 32 * 1024 * 1024
"""The feed is rotated to ``.1`` past this size (the panel reads both)."""


def _get(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...`` through dicts and attributes; None when any step is missing."""
    for key in keys:
        if obj is None:
            return None
        obj = obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)
    return obj


def _metadata(kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = _get(kwargs, "litellm_params", "metadata")
    return meta if isinstance(meta, Mapping) else {}


def is_health_check(kwargs: Mapping[str, Any], payload: Mapping[str, Any] | None) -> bool:
    """Whether this call is LiteLLM's own health check of a deployment."""
    aliases = {
        _metadata(kwargs).get("user_api_key_alias"),
        _get(payload, "metadata", "user_api_key_alias"),
    }
    return HEALTH_CHECK_ALIAS in aliases


def never_sent(kwargs: Mapping[str, Any]) -> bool:
    """Whether the proxy refused this call before routing it to a deployment (e.g. a bad key)."""
    return _get(kwargs, "litellm_params", REJECTED_BEFORE_ROUTING) is True


def start_event(kwargs: Mapping[str, Any], now: float) -> dict[str, Any] | None:
    """The feed line for a request sent to a deployment (None for health checks and refusals)."""
    payload = kwargs.get("standard_logging_object")
    # the same test as end_event's: a start whose end is dropped would stay "in flight"
    if never_sent(kwargs) or is_health_check(
        kwargs, payload if isinstance(payload, Mapping) else None
    ):
        return None
    meta = _metadata(kwargs)
    if not kwargs.get("litellm_call_id"):
        return None  # could never be paired with its end
    return {
        "kind": "start",
        "t": round(now, 4),
        "call_id": kwargs.get("litellm_call_id"),
        "deployment": _get(meta, "model_info", "id"),
        "model_group": meta.get("model_group"),
    }


def _ms(seconds: Any) -> float | None:
    return round(float(seconds) * 1000, 2) if isinstance(seconds, int | float) else None


def end_event(
    kwargs: Mapping[str, Any], status: str, start: Any, end: Any
) -> dict[str, Any] | None:
    """The feed line for a finished request attempt, from LiteLLM's standard logging payload."""
    payload = kwargs.get("standard_logging_object")
    if not isinstance(payload, Mapping):
        payload = {}
    if never_sent(kwargs) or is_health_check(kwargs, payload):
        return None
    meta = _metadata(kwargs)
    t0 = payload.get("startTime")
    first = payload.get("completionStartTime")
    t1 = payload.get("endTime")
    latency = payload.get("response_time")
    if not isinstance(latency, int | float) and hasattr(end, "timestamp"):
        latency = end.timestamp() - start.timestamp()
    ttft = first - t0 if isinstance(first, int | float) and isinstance(t0, int | float) else None
    retries = meta.get("attempted_retries")
    error = payload.get("error_str") or (
        str(kwargs.get("exception")) if status == "failure" and kwargs.get("exception") else None
    )
    return {
        "kind": "end",
        "t": round(t1 if isinstance(t1, int | float) else time.time(), 4),
        "call_id": payload.get("litellm_call_id") or kwargs.get("litellm_call_id"),
        "model_group": payload.get("model_group") or meta.get("model_group"),
        "deployment": payload.get("model_id") or _get(meta, "model_info", "id"),
        "api_base": payload.get("api_base") or _get(kwargs, "litellm_params", "api_base"),
        "status": status,
        "latency_ms": _ms(latency),
        "ttft_ms": _ms(ttft) if payload.get("stream") else None,
        "tokens_in": payload.get("prompt_tokens"),
        "tokens_out": payload.get("completion_tokens"),
        "retries": retries if isinstance(retries, int) else 0,
        "stream": bool(payload.get("stream")),
        "error": error[:300] if isinstance(error, str) else None,
    }


class FeedWriter:
    """Appends one JSON line per event; a failing disk never fails a request."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.written = 0

    def write(self, event: Mapping[str, Any] | None) -> None:
        if event is None or not self.path:
            return
        line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                size = os.fstat(fd).st_size
            finally:
                os.close(fd)
            if size > FEED_MAX_BYTES:
                os.replace(self.path, self.path + ".1")
            self.written += 1
        except OSError:
            pass


def _choices_are_empty(choices: Any) -> bool:
    """Choices that carry nothing: no content, tool call, role or finish reason."""
    for choice in choices or ():
        if _get(choice, "finish_reason") is not None:
            return False
        delta = _get(choice, "delta")
        for key in ("content", "tool_calls", "function_call", "role", "reasoning_content"):
            if _get(delta, key):
                return False
    return True


def reshape_usage_chunk(chunk: Any) -> list[Any]:
    """Chunks to send for ``chunk`` so that usage rides alone on a chunk with no choices.

    A chunk without usage, or already shaped, comes back as is. A usage chunk whose choices
    are empty deltas loses them; one that still carries a delta is split in two (the delta
    first, then the usage), so nothing is lost.
    """
    usage = _get(chunk, "usage")
    choices = _get(chunk, "choices")
    if usage is None or not choices:
        return [chunk]
    if _choices_are_empty(choices):
        _set(chunk, "choices", [])
        return [chunk]
    usage_only = _copy(chunk)
    _set(usage_only, "choices", [])
    _set(chunk, "usage", None)
    _drop_usage(chunk)
    return [chunk, usage_only]


def _set(obj: Any, key: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj[key] = value
    else:
        setattr(obj, key, value)


def _copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return dict(obj)
    return obj.model_copy(deep=False)


def _drop_usage(obj: Any) -> None:
    if isinstance(obj, dict):
        obj.pop("usage", None)
    elif hasattr(obj, "__dict__") and "usage" in obj.__dict__:
        with contextlib.suppress(AttributeError):
            delattr(obj, "usage")


async def reshape_stream(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """The stream with usage moved to its own chunk (see ``reshape_usage_chunk``)."""
    async for chunk in chunks:
        for out in reshape_usage_chunk(chunk):
            yield out


try:  # only inside the proxy's environment
    from litellm.integrations.custom_logger import CustomLogger
except ImportError:  # the panel's environment imports this file for its pure functions
    CustomLogger = object


class NapthaRoutes(CustomLogger):  # type: ignore[misc]
    """The callback LiteLLM loads from the config (``naptha_routes.handler``)."""

    def __init__(self, feed_path: str | None = None) -> None:
        if CustomLogger is not object:
            super().__init__()
        self.feed = FeedWriter(feed_path if feed_path is not None else os.environ.get(FEED_ENV))

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: Any) -> None:
        with contextlib.suppress(Exception):  # never break a request for the feed
            self.feed.write(start_event(kwargs, time.time()))

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        with contextlib.suppress(Exception):
            self.feed.write(end_event(kwargs, "success", start_time, end_time))

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        with contextlib.suppress(Exception):
            self.feed.write(end_event(kwargs, "failure", start_time, end_time))

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: Any
    ) -> AsyncIterator[Any]:
        async for chunk in reshape_stream(response):
            yield chunk


handler = NapthaRoutes()
