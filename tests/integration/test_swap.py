"""Memory, metrics and swapping on real vLLM-CPU servers behind the real LiteLLM proxy.

Two presets of the embedded model under different served names (m-a, m-b) are started
once for the module (~40 s); the memory view, the /metrics window, the planner's
refusals and a swap of m-a for a third preset (m-c) under load on m-b are checked against them.
About 4 minutes in all.

m-b also runs tool calling with vLLM's own ``hermes`` parser (the embedded preset runs ours,
``naptha_hermes``), so the playground's layer attribution is checked against the parser that
drops a call with ``</tool_call>`` inside an argument, on a real server, at no extra start-up.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from naptha_tui.backends.telemetry.vllm_metrics import merge, quantile
from tests.integration.common import (
    in_process,
    install_node,
    node_env,
    post_as_sdk,
    proxy_client,
    run_cli,
    status,
)

pytestmark = pytest.mark.integration

PROXY_PORT = 4127
PORT_BASE = 18800

# a quick start: vLLM's worker inside its engine process, no core named (why: the note above
# PARSER_PRESET in tests/integration/embedded/conftest.py)
PRESET = """model: smollm2-135m
runtime: cpu
served_model_name: {served}
max_model_len: 2048
dtype: auto
enforce_eager: true
startup_timeout: 400
startup_stall_timeout: 90
extra_args: ["--disable-uvicorn-access-log"]
env:
  VLLM_CPU_KVCACHE_SPACE: "{kv}"
  VLLM_ENABLE_V1_MULTIPROCESSING: "0"
"""
VLLM_HERMES = """enable_auto_tool_choice: true
tool_call_parser: hermes
chat_template: smollm2_tool_use.jinja
"""
"""m-b's tool calling: vLLM's own Hermes parser, without our plugin."""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("swap")
    environ = node_env(root, PROXY_PORT, PORT_BASE)
    install_node(environ)
    presets = root / "config" / "presets"
    presets.mkdir(parents=True)
    for name, served, kv in (
        ("sw-a", "m-a", 1),
        ("sw-b", "m-b", 1),
        ("sw-c", "m-c", 1),
        ("sw-huge", "m-huge", 1000),
    ):
        text = PRESET.format(served=served, kv=kv)
        (presets / f"{name}.yaml").write_text(text + (VLLM_HERMES if name == "sw-b" else ""))
    done = run_cli(environ, "up", "sw-a", "sw-b", timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # the headless path waits until the servers and the proxy are ready, and says where to go
    assert f"endpoint: http://127.0.0.1:{PROXY_PORT}/v1" in done.stdout, done.stdout
    yield environ
    run_cli(environ, "down", timeout=120)


def servers(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in doc["servers"]}


def ask(env: dict[str, str], model: str, n: int, max_tokens: int = 8) -> int:
    """``n`` requests to ``model`` through the proxy; the completion tokens they report."""
    tokens = 0
    with proxy_client(env) as http:
        for i in range(n):
            got = http.post(
                "/chat/completions",
                json={
                    "model": model,
                    "messages": [{"role": "user", "content": f"Say a word about {i}"}],
                    "max_tokens": max_tokens,
                },
            )
            assert got.status_code == 200, got.text
            tokens += got.json()["usage"]["completion_tokens"]
    return tokens


def test_memory_per_server_is_its_process_tree(env: dict[str, str]) -> None:
    doc = status(env, window=1)
    assert doc["gpus"]["available"] is False and doc["gpus"]["reason"]
    assert doc["host"]["memory_total"] > doc["host"]["memory_available"] > 0
    for name in ("sw-a", "sw-b"):
        s = servers(doc)[name]
        leader = psutil.Process(s["pid"])
        tree = [leader, *leader.children(recursive=True)]
        assert any("EngineCore" in " ".join(p.cmdline()) or "EngineCore" in p.name() for p in tree)
        independent = sum(p.memory_info().rss for p in tree)
        # the API server and its EngineCore: hundreds of MB each; RSS moves a little between reads
        assert s["rss_bytes"] > 400 * 2**20, s
        assert abs(s["rss_bytes"] - independent) < 0.2 * independent, (s, independent)
        assert s["gpu_memory_bytes"] is None
        for key in ("running", "waiting", "kv_cache_usage", "generation_tokens_per_s"):
            assert key in s["metrics"], s["metrics"]
        assert "ttft_p50_ms" in s["metrics"] and "ttft_p95_ms" in s["metrics"]


async def test_the_metrics_window_follows_the_requests(env: dict[str, str]) -> None:
    node = in_process(env)
    try:
        await node.observe()
        tokens = ask(env, "m-b", 6)
        seen = await node.observe()
    finally:
        await node.aclose()
    b = {s.name: s for s in seen.servers}["sw-b"].metrics
    a = {s.name: s for s in seen.servers}["sw-a"].metrics
    assert b is not None and a is not None
    window = b["window_s"]
    assert window is not None and window > 0
    # the counters moved by exactly what the requests did
    assert b["requests_per_s"] is not None and round(b["requests_per_s"] * window, 6) == 6
    assert b["generation_tokens_per_s"] is not None
    assert round(b["generation_tokens_per_s"] * window, 6) == tokens
    assert b["ttft_p50_ms"] is not None and 0 < b["ttft_p50_ms"] <= b["ttft_p95_ms"]  # type: ignore[operator]
    assert b["e2el_p50_ms"] is not None
    # m-a got nothing in this window: no latency is known, rates are 0
    assert a["requests_per_s"] == 0 and a["ttft_p50_ms"] is None


async def test_two_instances_merge_by_summing_buckets(env: dict[str, str]) -> None:
    node = in_process(env)
    try:
        records = node.state.load().servers
        await node.observe()
        ask(env, "m-a", 3)
        ask(env, "m-b", 5)
        await node.observe()
        pairs = [node.observer.watch.pair(n) for n in ("sw-a", "sw-b")]
    finally:
        await node.aclose()
    assert set(records) >= {"sw-a", "sw-b"}
    assert all(p is not None and p[0] is not None for p in pairs)
    ok = [p for p in pairs if p is not None]
    merged = merge(ok)
    one = [merge([p]) for p in ok]
    assert merged.requests_per_s is not None
    assert merged.window_s is not None
    total = sum((m.requests_per_s or 0) * (m.window_s or 0) for m in one)
    assert round(total) == 8
    # the merged p95 is the quantile of the summed bucket deltas
    deltas = None
    bounds: tuple[float, ...] = ()
    for prev, cur in ok:
        assert prev is not None
        h0, h1 = prev.histograms["ttft"], cur.histograms["ttft"]
        d = [c - p for c, p in zip(h1.counts, h0.counts, strict=True)]
        deltas = d if deltas is None else [x + y for x, y in zip(deltas, d, strict=True)]
        bounds = h1.bounds
    assert deltas is not None and deltas[-1] == 8
    expected = quantile(bounds, deltas, 0.95)
    assert expected is not None and merged.ttft_p95_ms == pytest.approx(expected * 1000)


def test_explain_names_the_parser_that_drops_a_call_vllm_hermes_cannot_read(
    env: dict[str, str],
) -> None:
    """A Hermes call whose argument holds ``</tool_call>``, forced by a regex: vLLM's ``hermes``
    cuts the call at that tag and returns none, so the layer is the parser's, and the reason
    names ``naptha_hermes`` as the parser that reads it."""
    regex = (
        r'<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris</tool_call>"\}\}'
        r"\n</tool_call>"
    )
    done = run_cli(
        env,
        "try", "--model", "m-b", "--prompt", "What is the weather in Paris right now?",
        "--example", "weather", "--mode", "tools-auto", "--temperatures", "0",
        "--max-tokens", "64", "--extra-body", json.dumps({"structured_outputs": {"regex": regex}}),
        "--explain", "--json",
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sample, grid = [json.loads(line) for line in done.stdout.splitlines()]
    assert "</tool_call>" in sample["raw"], sample  # the forced text, as the model wrote it
    assert not sample["tool_calls"], sample  # vLLM's hermes returned no call
    assert sample["layer"] == "parser", sample
    reason = sample["layer_reason"]
    assert "naptha_hermes reads it" in reason and "the server runs hermes" in reason, reason
    assert '"city": "Paris</tool_call>"' in reason, reason  # the call as naptha_hermes read it
    assert grid["grid"][0]["layers"] == {"parser": 1}, grid


def test_up_refuses_a_preset_that_will_not_fit(env: dict[str, str]) -> None:
    done = run_cli(env, "up", "sw-huge", timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "sw-huge" in done.stderr and "GiB" in done.stderr and "RAM" in done.stderr
    assert "1000" in done.stderr  # the KV cache space it asked for
    assert "sw-huge" not in servers(status(env))


def test_swap_to_what_will_not_fit_leaves_the_server_running(env: dict[str, str]) -> None:
    done = run_cli(env, "swap", "sw-a", "sw-huge", timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "GiB" in done.stderr
    doc = status(env)
    assert servers(doc)["sw-a"]["status"] == "ready"
    assert "m-a" in doc["proxy"]["models"]


def test_swap_keeps_the_other_model_serving(env: dict[str, str]) -> None:
    before = servers(status(env))["sw-a"]
    leader = psutil.Process(before["pid"])
    old_tree = [leader, *leader.children(recursive=True)]
    ok: list[float] = []
    failed: list[str] = []
    retried: list[str] = []  # connections reset by a reload, retried as the OpenAI SDK does
    stop = threading.Event()

    def load() -> None:
        with proxy_client(env, timeout=60) as http:
            while not stop.is_set():
                body = {"model": "m-b", "messages": [{"role": "user", "content": "Hi"}]}
                try:
                    got = post_as_sdk(http, "/chat/completions", {**body, "max_tokens": 4}, retried)
                except Exception as exc:  # the failure is the finding
                    failed.append(repr(exc)[:200])
                    continue
                if got.status_code == 200:
                    ok.append(time.monotonic())
                else:
                    failed.append(f"{got.status_code} {got.text[:200]}")

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    try:
        done = run_cli(env, "swap", "sw-a", "sw-c", "--json", timeout=900)
    finally:
        stop.set()
        worker.join(timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert (report["old_action"], report["new_action"], report["new"]) == (
        "stopped",
        "started",
        ["sw-c"],
    )
    assert report["messages"] == [], report  # memory came back; the new model answered
    # the steps, as the panel's activity log shows them too
    assert re.search(r"sw-a: memory returned in [\d.]+ s \([\d.]+ GiB of RAM\)", done.stderr)
    assert re.search(r"sw-c: ready, loaded in \d+ s", done.stderr), done.stderr
    assert "answered a one-token request through the proxy" in done.stderr, done.stderr
    assert report["verdict"]["fits"] is True
    assert failed == [], failed
    # resets come only from reloads: the swap reloads twice, and the proxy may kill a new worker
    # stuck booting (``kick_workers``); this one connection lives on one worker at a time
    assert len(retried) <= 4, retried
    assert len(ok) > 0
    doc = status(env)
    now = servers(doc)
    assert "sw-a" not in now and now["sw-c"]["status"] == "ready"
    assert sorted(doc["proxy"]["models"]) == ["m-b", "m-c"]
    assert not [p.pid for p in old_tree if p.is_running() and p.status() != "zombie"]
    assert ask(env, "m-c", 1) > 0
