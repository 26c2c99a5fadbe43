"""The proxy's callback (``proxy/litellm/hooks.py``): feed events, the feed writer, the logger.

LiteLLM is not installed here; kwargs are shaped like LiteLLM 1.108.7's.
"""

from __future__ import annotations

import ast
import json
import os
import stat
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.proxy.litellm import hooks as litellm_hooks
from naptha_tui.proxy.litellm.hooks import (
    HEALTH_CHECK_ALIAS,
    FeedWriter,
    NapthaRoutes,
    end_event,
    start_event,
)
from naptha_tui.proxy.litellm.process import PROXY_MODULES
from naptha_tui.proxy.litellm.routes import RouteEvent, RouteStart, parse_line

# --- feed events -----------------------------------------------------------------------------


def litellm_kwargs(**payload: Any) -> dict[str, Any]:
    return {
        "litellm_call_id": "c1",
        "litellm_params": {
            "metadata": {
                "model_info": {"id": "smol-0"},
                "model_group": "smollm2-135m",
                "attempted_retries": 1,
            },
            "api_base": "http://127.0.0.1:8100/v1",
        },
        "standard_logging_object": {
            "litellm_call_id": "c1",
            "model_group": "smollm2-135m",
            "model_id": "smol-0",
            "api_base": "http://127.0.0.1:8100/v1",
            "startTime": 100.0,
            "completionStartTime": 100.2,
            "endTime": 100.5,
            "response_time": 0.5,
            "prompt_tokens": 7,
            "completion_tokens": 3,
            "stream": True,
            "error_str": None,
            "metadata": {"user_api_key_alias": None},
            **payload,
        },
    }


END = {
    "kind": "end",
    "t": 100.5,
    "call_id": "c1",
    "model_group": "smollm2-135m",
    "deployment": "smol-0",
    "api_base": "http://127.0.0.1:8100/v1",
    "status": "success",
    "latency_ms": 500.0,
    "ttft_ms": 200.0,
    "tokens_in": 7,
    "tokens_out": 3,
    "retries": 1,
    "stream": True,
    "error": None,
}


def test_start_event() -> None:
    assert start_event(litellm_kwargs(), 123.456789) == {
        "kind": "start",
        "t": 123.4568,
        "call_id": "c1",
        "deployment": "smol-0",
        "model_group": "smollm2-135m",
    }


def test_end_event_success() -> None:
    assert end_event(litellm_kwargs(), "success", None, None) == END


def test_end_event_without_streaming_has_no_ttft() -> None:
    event = end_event(litellm_kwargs(stream=False), "success", None, None)
    assert event == {**END, "ttft_ms": None, "stream": False}


def test_end_event_failure_keeps_the_error() -> None:
    error = "litellm.APIConnectionError: OpenAIException - Connection error."
    kwargs = litellm_kwargs(error_str=error, completionStartTime=None, completion_tokens=0)
    assert end_event(kwargs, "failure", None, None) == {
        **END,
        "status": "failure",
        "ttft_ms": None,
        "tokens_out": 0,
        "error": error,
    }
    long = end_event(litellm_kwargs(error_str="x" * 1000), "failure", None, None)
    assert long is not None and long["error"] == "x" * 300


def test_end_event_failure_falls_back_to_the_exception() -> None:
    kwargs = {**litellm_kwargs(), "exception": RuntimeError("backend went away")}
    failed = end_event(kwargs, "failure", None, None)
    assert failed is not None and failed["error"] == "backend went away"
    succeeded = end_event(kwargs, "success", None, None)
    assert succeeded is not None and succeeded["error"] is None


@pytest.mark.parametrize("where", ["litellm_params", "payload"])
def test_health_checks_are_left_out(where: str) -> None:
    kwargs = litellm_kwargs()
    if where == "litellm_params":
        kwargs["litellm_params"]["metadata"]["user_api_key_alias"] = HEALTH_CHECK_ALIAS
    else:
        kwargs["standard_logging_object"]["metadata"]["user_api_key_alias"] = HEALTH_CHECK_ALIAS
    assert start_event(kwargs, 1.0) is None
    assert end_event(kwargs, "success", None, None) is None
    assert end_event(kwargs, "failure", None, None) is None


def test_requests_refused_before_routing_are_left_out() -> None:
    # a wrong key naming a one-deployment model: LiteLLM 1.108.7 logs a start and a failed end,
    # with that deployment's id in the metadata, and flags litellm_params
    kwargs = litellm_kwargs(error_str="Invalid API key", api_base="", completionStartTime=None)
    kwargs["litellm_params"]["proxy_rejected_before_routing"] = True
    kwargs["litellm_no_upstream_llm_call"] = True
    assert start_event(kwargs, 1.0) is None
    assert end_event(kwargs, "failure", None, None) is None
    for flag in (False, None, "true", 1):  # only LiteLLM's own True counts
        kwargs["litellm_params"]["proxy_rejected_before_routing"] = flag
        assert start_event(kwargs, 1.0) is not None
        assert end_event(kwargs, "failure", None, None) is not None


async def test_callback_skips_refused_requests(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    routes = NapthaRoutes(feed_path=str(feed))
    kwargs = litellm_kwargs(error_str="Missing API key")
    kwargs["litellm_params"]["proxy_rejected_before_routing"] = True
    routes.log_pre_api_call("m", [], kwargs)
    await routes.async_log_failure_event(kwargs, None, None, None)
    assert not feed.exists()


def test_other_key_aliases_are_logged() -> None:
    kwargs = litellm_kwargs(metadata={"user_api_key_alias": "agent-7"})
    kwargs["litellm_params"]["metadata"]["user_api_key_alias"] = "agent-7"
    assert start_event(kwargs, 1.0) is not None
    assert end_event(kwargs, "success", None, None) == END


def test_missing_payload_fields_never_raise() -> None:
    before = time.time()
    event = end_event({}, "success", None, None)
    assert event is not None
    assert before - 1 <= event.pop("t") <= time.time() + 1
    assert event == {
        "kind": "end",
        "call_id": None,
        "model_group": None,
        "deployment": None,
        "api_base": None,
        "status": "success",
        "latency_ms": None,
        "ttft_ms": None,
        "tokens_in": None,
        "tokens_out": None,
        "retries": 0,
        "stream": False,
        "error": None,
    }
    assert start_event({}, 5.0) is None  # no call id: it could never be paired with an end
    assert start_event({"litellm_call_id": "c9"}, 5.0) == {
        "kind": "start",
        "t": 5.0,
        "call_id": "c9",
        "deployment": None,
        "model_group": None,
    }


def test_latency_falls_back_to_the_call_times() -> None:
    kwargs = litellm_kwargs(response_time=None)
    t0 = datetime(2026, 1, 1, 12, 0, 0)
    event = end_event(kwargs, "success", t0, t0 + timedelta(milliseconds=250))
    assert event is not None and event["latency_ms"] == 250.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"litellm_params": 5},
        {"litellm_params": {"metadata": "x"}},
        {"litellm_params": {"metadata": {"model_info": 3, "attempted_retries": "2"}}},
        {"standard_logging_object": [1, 2]},
        {
            "standard_logging_object": {
                "metadata": 7,
                "startTime": "a",
                "completionStartTime": "b",
                "response_time": "slow",
                "stream": True,
                "error_str": 42,
            }
        },
    ],
)
def test_garbage_kwargs_give_well_typed_events(kwargs: dict[str, Any]) -> None:
    start = start_event({**kwargs, "litellm_call_id": "c1"}, 1.0)
    assert start is not None and start["kind"] == "start" and start["call_id"] == "c1"
    end = end_event(kwargs, "failure", "not a datetime", None)
    assert end is not None
    assert end["latency_ms"] is None and end["ttft_ms"] is None
    assert end["retries"] == 0 and end["error"] is None


# --- FeedWriter ------------------------------------------------------------------------------


def test_feed_writer_appends_private_json_lines(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    writer = FeedWriter(str(feed))
    writer.write(None)
    assert not feed.exists() and writer.written == 0
    writer.write({"kind": "start", "t": 1.0, "call_id": "a"})
    writer.write(END)
    writer.write(None)
    assert writer.written == 2
    assert stat.S_IMODE(os.stat(feed).st_mode) == 0o600
    lines = feed.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"kind": "start", "t": 1.0, "call_id": "a"},
        END,
    ]
    assert feed.read_text().endswith("\n") and " " not in lines[0]


def test_feed_writer_rotates_to_dot_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(litellm_hooks, "FEED_MAX_BYTES", 250)
    feed = tmp_path / "routes.jsonl"
    writer = FeedWriter(str(feed))
    events = [
        {"kind": "start", "t": float(i), "call_id": f"call-{i:03d}", "pad": "x" * 60}
        for i in range(4)
    ]
    for e in events:
        writer.write(e)
    old = [json.loads(line) for line in (tmp_path / "routes.jsonl.1").read_text().splitlines()]
    new = [json.loads(line) for line in feed.read_text().splitlines()]
    assert old == events[:3]
    assert new == events[3:]
    assert writer.written == 4


def test_feed_writer_never_raises(tmp_path: Path) -> None:
    for path in (str(tmp_path), str(tmp_path / "missing" / "routes.jsonl")):
        writer = FeedWriter(path)
        writer.write(END)
        assert writer.written == 0
    assert list(tmp_path.iterdir()) == []
    for empty in (None, ""):
        writer = FeedWriter(empty)
        writer.write(END)
        assert writer.written == 0


# --- NapthaRoutes ----------------------------------------------------------------------------


async def test_callback_writes_lines_the_panel_parses(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    routes = NapthaRoutes(feed_path=str(feed))
    t0 = datetime.now()
    routes.log_pre_api_call("openai/smollm2-135m", [], litellm_kwargs())
    await routes.async_log_success_event(litellm_kwargs(), object(), t0, t0)
    failure = litellm_kwargs(error_str="Timeout", stream=False, completion_tokens=None)
    await routes.async_log_failure_event(failure, None, t0, t0)
    start, ok, failed = (parse_line(line) for line in feed.read_text().splitlines())
    assert isinstance(start, RouteStart)
    assert (start.call_id, start.deployment, start.model_group) == ("c1", "smol-0", "smollm2-135m")
    assert isinstance(ok, RouteEvent)
    assert (ok.status, ok.deployment, ok.model_group, ok.latency_ms, ok.ttft_ms) == (
        "success",
        "smol-0",
        "smollm2-135m",
        500.0,
        200.0,
    )
    assert (ok.tokens_in, ok.tokens_out, ok.retries, ok.stream, ok.call_id) == (7, 3, 1, True, "c1")
    assert ok.api_base == "http://127.0.0.1:8100/v1"
    assert isinstance(failed, RouteEvent)
    assert (failed.status, failed.error, failed.ttft_ms, failed.tokens_out) == (
        "failure",
        "Timeout",
        None,
        None,
    )


async def test_callback_skips_health_checks(tmp_path: Path) -> None:
    feed = tmp_path / "routes.jsonl"
    routes = NapthaRoutes(feed_path=str(feed))
    kwargs = litellm_kwargs()
    kwargs["litellm_params"]["metadata"]["user_api_key_alias"] = HEALTH_CHECK_ALIAS
    routes.log_pre_api_call("m", [], kwargs)
    await routes.async_log_success_event(kwargs, None, None, None)
    await routes.async_log_failure_event(kwargs, None, None, None)
    assert not feed.exists()


@pytest.mark.parametrize(
    "kwargs",
    [{"litellm_params": 5}, None, "kwargs", 5, {"standard_logging_object": 5}, {"exception": 1}],
)
async def test_callback_never_raises_on_garbage(tmp_path: Path, kwargs: Any) -> None:
    feed = tmp_path / "routes.jsonl"
    routes = NapthaRoutes(feed_path=str(feed))
    routes.log_pre_api_call(None, None, kwargs)
    await routes.async_log_success_event(kwargs, None, "start", "end")
    await routes.async_log_failure_event(kwargs, None, None, object())
    lines = feed.read_text().splitlines() if feed.exists() else []
    assert all(parse_line(line) is not None for line in lines)
    if isinstance(kwargs, dict):
        # a mapping always gives two ends, however odd its values (a start needs a call id)
        assert [json.loads(line)["kind"] for line in lines] == ["end", "end"]


async def test_callback_feed_path_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "from-env.jsonl"
    monkeypatch.setenv(litellm_hooks.FEED_ENV, str(feed))
    routes = NapthaRoutes()
    await routes.async_log_success_event(litellm_kwargs(), None, None, None)
    assert isinstance(parse_line(feed.read_text()), RouteEvent)
    monkeypatch.delenv(litellm_hooks.FEED_ENV)
    quiet = NapthaRoutes()
    quiet.log_pre_api_call("m", [], litellm_kwargs())
    assert quiet.feed.written == 0


@pytest.mark.parametrize("shipped", sorted(PROXY_MODULES))
def test_module_imports_only_the_standard_library_and_litellm(shipped: str) -> None:
    # each runs beside the config inside the proxy's venv, where naptha_tui is not installed
    tree = ast.parse((Path(litellm_hooks.__file__).parent / shipped).read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module.split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"litellm"}


def test_the_callback_the_config_names_is_an_instance() -> None:
    assert isinstance(litellm_hooks.handler, NapthaRoutes)
