"""Remote nodes (``kind: remote`` presets): their /metrics, probing them, and preset checks."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import PresetCatalog, load_preset_file
from naptha_tui.backends.servers.remote import (
    RemoteProbe,
    metric_totals,
    parse_vllm_metrics,
    probe_remote,
    root_of,
)
from naptha_tui.backends.yamlfile import ConfigFileError
from tests.conftest import FAKE_VLLM, PY, write_preset

# trimmed from a vLLM 0.32 /metrics page (one engine)
VLLM_METRICS = """\
# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 1234.0
python_gc_objects_collected_total{generation="1"} 56.0
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="smollm2-135m"} 2.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="smollm2-135m"} 1.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="smollm2-135m"} 0.25
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="smollm2-135m"} 700.0
"""

LITELLM_METRICS = """\
# HELP litellm_requests_total Total requests
# TYPE litellm_requests_total counter
litellm_requests_total{model="a"} 3.0
litellm_requests_total{model="b"} 4.0
litellm_requests_created{model="a"} 1.7e+09
litellm_requests_created{model="b"} 1.7e+09
# HELP litellm_request_latency_seconds Latency
# TYPE litellm_request_latency_seconds histogram
litellm_request_latency_seconds_bucket{model="a",le="0.5"} 2.0
litellm_request_latency_seconds_bucket{model="a",le="+Inf"} 3.0
litellm_request_latency_seconds_count{model="a"} 3.0
litellm_request_latency_seconds_sum{model="a"} 1.5
litellm_request_latency_seconds_count{model="b"} 4.0
litellm_request_latency_seconds_sum{model="b"} 2.0
# HELP process_open_fds Open fds
# TYPE process_open_fds gauge
process_open_fds 12.0
"""


# --- /metrics ----------------------------------------------------------------------------------


def test_parse_vllm_metrics() -> None:
    got = parse_vllm_metrics(VLLM_METRICS)
    assert got is not None
    assert (got["running"], got["waiting"], got["kv_cache_usage"]) == (2.0, 1.0, 0.25)
    assert got["generation_tokens_per_s"] is None  # one scrape: no rate yet


def test_parse_vllm_metrics_sums_engines_and_reads_the_old_kv_name() -> None:
    text = """\
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 2.0
vllm:num_requests_running{engine="1",model_name="m"} 3.0
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.5
"""
    got = parse_vllm_metrics(text)
    assert got is not None
    assert (got["running"], got["waiting"], got["kv_cache_usage"]) == (5.0, None, 0.5)


def test_kv_cache_is_the_fullest_engine_and_the_old_name_is_not_counted_twice() -> None:
    text = """# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.75
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.5
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.75
vllm:gpu_cache_usage_perc{engine="1",model_name="m"} 0.5
"""
    got = parse_vllm_metrics(text)
    assert got is not None and (got["running"], got["kv_cache_usage"]) == (None, 0.75)


@pytest.mark.parametrize(
    "text",
    [
        LITELLM_METRICS,
        "",
        "<html><body><h1>404 Not Found</h1></body></html>",
        '{"detail":"Not Found"}',
        'vllm:num_requests_running{engine="0" 2.0\n',
        "vllm:num_requests_running two\n",
        "\x00\x01\x02",
    ],
    ids=["other-metrics", "empty", "html", "json", "bad-labels", "bad-value", "binary"],
)
def test_parse_vllm_metrics_on_other_text_is_none(text: str) -> None:
    assert parse_vllm_metrics(text) is None


def test_metric_totals_sum_labels_and_skip_buckets_and_created() -> None:
    assert metric_totals(LITELLM_METRICS, "litellm_") == {
        "litellm_requests_total": 7.0,
        "litellm_request_latency_seconds_count": 7.0,
        "litellm_request_latency_seconds_sum": 3.5,
    }
    assert metric_totals(VLLM_METRICS, "vllm:num_") == {
        "vllm:num_requests_running": 2.0,
        "vllm:num_requests_waiting": 1.0,
    }
    assert metric_totals(VLLM_METRICS, "litellm_") == {}
    assert metric_totals("garbage {{{", "litellm_") == {}


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("http://h:1/v1", "http://h:1"),
        ("http://h:1/v1/", "http://h:1"),
        ("http://h:1", "http://h:1"),
        ("http://h:1/", "http://h:1"),
        ("https://gw.lan/nodes/b/v1", "https://gw.lan/nodes/b"),
        ("http://h:1/v10", "http://h:1/v10"),
    ],
)
def test_root_of(url: str, root: str) -> None:
    assert root_of(url) == root


# --- probe_remote ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake_vllm() -> Iterator[str]:
    """tests/fakes/fake_vllm.py serving ``smollm2-135m``; yields its ``/v1`` base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            PY,
            str(FAKE_VLLM),
            "serve",
            "org/model",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--served-model-name",
            "smollm2-135m",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "fake vLLM exited"
            assert time.monotonic() < deadline, "fake vLLM never listened"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


class Recorder:
    """A tiny OpenAI-compatible node that records each request's path and Authorization."""

    def __init__(self, models: list[str], metrics: str | None, status: int = 200) -> None:
        self.seen: list[tuple[str, str | None]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.seen.append((self.path, self.headers.get("Authorization")))
                if self.path.endswith("/models"):
                    code = status
                    body = json.dumps(
                        {"object": "list", "data": [{"id": m, "object": "model"} for m in models]}
                    ).encode()
                elif self.path == "/metrics" and metrics is not None:
                    code, body = 200, metrics.encode()
                else:
                    code, body = 404, b'{"detail":"Not Found"}'
                self.send_response(code)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_probe_the_fake_vllm(fake_vllm: str) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        seen = await probe_remote(client, fake_vllm, None)
    # the fake serves vLLM's gauges, idle
    assert (seen.healthy, seen.models, seen.error) == (True, ("smollm2-135m",), None)
    assert seen.metrics is not None
    assert (seen.metrics["running"], seen.metrics["waiting"]) == (0.0, 0.0)
    assert seen.metrics["kv_cache_usage"] == 0.0


async def test_probe_a_closed_port_is_a_reason_not_an_exception() -> None:
    port = free_port()
    async with httpx.AsyncClient(timeout=5) as client:
        seen = await probe_remote(client, f"http://127.0.0.1:{port}/v1", None)
    assert seen.healthy is False and seen.models == () and seen.metrics is None
    assert seen.error is not None and seen.error.startswith("ConnectError")


async def test_probe_sends_the_key_and_reads_vllm_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPU_BOX_KEY", "sk-remote-node")
    with Recorder(["qwen", "llama"], VLLM_METRICS) as node:
        async with httpx.AsyncClient(timeout=5) as client:
            seen = await probe_remote(client, node.url + "/", "GPU_BOX_KEY")
    assert seen == RemoteProbe(True, ("qwen", "llama"), None, VLLM_METRICS)
    assert seen.metrics is not None
    assert (seen.metrics["running"], seen.metrics["waiting"]) == (2.0, 1.0)
    assert seen.metrics["kv_cache_usage"] == 0.25
    assert node.seen == [
        ("/v1/models", "Bearer sk-remote-node"),
        ("/metrics", "Bearer sk-remote-node"),
    ]


async def test_probe_without_the_key_variable_sends_no_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GPU_BOX_KEY", raising=False)
    with Recorder(["qwen"], LITELLM_METRICS) as node:
        async with httpx.AsyncClient(timeout=5) as client:
            seen = await probe_remote(client, node.url, "GPU_BOX_KEY")
            plain = await probe_remote(client, node.url, None)
    # a LiteLLM node's /metrics is not vLLM's: no load figures
    assert seen == plain == RemoteProbe(True, ("qwen",), None, LITELLM_METRICS)
    assert seen.metrics is None
    assert node.seen == [("/v1/models", None), ("/metrics", None)] * 2


async def test_probe_rejected_key_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPU_BOX_KEY", "sk-wrong")
    with Recorder(["qwen"], VLLM_METRICS, status=401) as node:
        async with httpx.AsyncClient(timeout=5) as client:
            seen = await probe_remote(client, node.url, "GPU_BOX_KEY")
    assert seen == RemoteProbe(False, (), "/models answered 401", None)
    assert [path for path, _ in node.seen] == ["/v1/models"]


# --- kind: remote presets ----------------------------------------------------------------------


def test_valid_remote_preset(paths: Paths) -> None:
    path = write_preset(
        paths.user_presets_dir,
        "gpu-box",
        "kind: remote\n"
        "base_url: https://10.0.0.7:4000/v1/\n"
        "models: [qwen2.5-7b, llama3.1-8b]\n"
        "api_key_env: GPU_BOX_KEY\n"
        "default_params: {temperature: 0}\n",
    )
    preset = PresetCatalog(paths.user_presets_dir).get("gpu-box")
    assert preset == load_preset_file(path)
    assert preset.kind == "remote" and preset.model == ""
    assert preset.base_url == "https://10.0.0.7:4000/v1/"
    assert preset.models == ["qwen2.5-7b", "llama3.1-8b"]
    assert preset.api_key_env == "GPU_BOX_KEY"
    assert preset.default_params == {"temperature": 0}
    assert preset.source == path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("kind: remote\nmodels: [q]\n", r":1: base_url: required for kind remote"),
        ("kind: remote\nbase_url: ''\nmodels: [q]\n", r":\d: base_url: required"),
        (
            "kind: remote\nbase_url: ftp://10.0.0.7/v1\nmodels: [q]\n",
            r":2: base_url: 'ftp://10.0.0.7/v1' is not an http\(s\) URL",
        ),
        (
            "kind: remote\nbase_url: 10.0.0.7:4000/v1\nmodels: [q]\n",
            r":2: base_url: .* is not an http\(s\) URL",
        ),
        ("kind: remote\nbase_url: http://h/v1\n", r":1: models: a remote preset lists"),
        ("kind: remote\nbase_url: http://h/v1\nmodels: []\n", r":\d: models: a remote preset"),
        (
            "kind: remote\nbase_url: http://h/v1\nmodels: [q]\napi_key_env: sk-abc def\n",
            r":4: api_key_env: String should match pattern",
        ),
        ("runtime: cpu\n", r":1: model: required"),
        ("kind: vllm\nbase_url: http://h/v1\nmodels: [q]\n", r":1: model: required"),
        ("kind: ollama\nmodel: q\n", r":1: kind: Input should be 'vllm' or 'remote'"),
    ],
)
def test_invalid_presets_name_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = write_preset(tmp_path, "bad", text)
    with pytest.raises(ConfigFileError, match=f"^{re.escape(str(path))}{problem}"):
        load_preset_file(path)


async def test_a_remote_vllm_node_gets_a_metrics_window_too(fake_vllm: str, paths: Paths) -> None:
    from naptha_tui.backends.servers.keys import ServerKeys
    from naptha_tui.backends.state import RemoteRecord
    from naptha_tui.backends.telemetry.vllm_metrics import MetricsWatch
    from naptha_tui.proxy.node.remotes import remote_status

    record = RemoteRecord(
        name="gpu-box", preset="gpu-box", base_url=fake_vllm, models=["smollm2-135m"], added_at=0
    )
    watch = MetricsWatch()
    async with httpx.AsyncClient(timeout=5) as client:
        first = await remote_status(client, ServerKeys(paths), record, watch)
        for _ in range(2):
            body = {"model": "smollm2-135m", "messages": [], "max_tokens": 3}
            assert (await client.post(f"{fake_vllm}/chat/completions", json=body)).is_success
        second = await remote_status(client, ServerKeys(paths), record, watch)
    assert first.metrics is not None and first.metrics["requests_per_s"] is None
    m = second.metrics
    assert m is not None and m["window_s"] is not None and m["requests_per_s"] is not None
    assert round(m["requests_per_s"] * m["window_s"], 6) == 2
    assert round((m["generation_tokens_per_s"] or 0) * m["window_s"], 6) == 6
