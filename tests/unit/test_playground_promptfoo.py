"""A playground session exported as a promptfoo config (``try --promptfoo FILE``)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from naptha_tui.backends.playground.examples import WEATHER_PROMPT, tools
from naptha_tui.backends.playground.promptfoo import KEY_ENV, promptfoo_config
from naptha_tui.backends.playground.spec import Mode, Spec, request_body

PROXY = "http://127.0.0.1:4000"


def session(**kw: object) -> Spec:
    doc = {
        "model": "smollm2-135m",
        "prompt": WEATHER_PROMPT,
        "tools": tools(1),
        "modes": ["tools-required", "json_object", "regex"],
        "regex": "[a-z]+",
        "temperatures": [0.0, 0.7],
        "strict": True,
        "seed": 3,
        "samples": 5,
        "max_tokens": 64,
    }
    return Spec.model_validate(doc | kw)


def test_each_tool_mode_and_temperature_is_a_provider_sending_the_playgrounds_request() -> None:
    spec = session()
    doc, left_out = promptfoo_config(spec, PROXY)
    assert left_out == ["json_object", "regex"]  # nothing to assert a tool call on
    assert [p["label"] for p in doc["providers"]] == ["tools-required t=0", "tools-required t=0.7"]
    first = doc["providers"][0]
    assert first["id"] == "openai:chat:smollm2-135m"
    config = first["config"]
    assert config["apiBaseUrl"] == f"{PROXY}/v1" and config["apiKeyEnvar"] == KEY_ENV
    sent = request_body(spec, Mode.parse("tools-required"), 0.0)
    for key in ("tools", "tool_choice", "temperature", "max_tokens", "seed"):
        assert config[key] == sent[key]
    assert config["tools"][0]["function"]["strict"] is True
    assert "logprobs" not in config and "messages" not in config  # the playground's own
    assert json.loads(doc["prompts"][0]["raw"]) == sent["messages"]
    assert doc["tests"] == [
        {
            "description": "the session's prompt",
            "assert": [{"type": "is-valid-openai-tools-call"}],
        }
    ]
    assert doc["evaluateOptions"] == {"repeat": 5}


def test_vllm_fields_go_under_passthrough() -> None:
    spec = session(modes=["tools-auto"], extra_body={"structured_outputs": {"regex": "x"}})
    (provider,) = promptfoo_config(spec, PROXY)[0]["providers"][:1]
    assert provider["config"]["passthrough"] == {"structured_outputs": {"regex": "x"}}
    assert provider["config"]["tool_choice"] == "auto"


def test_parallel_tool_calls_is_sent_through_passthrough() -> None:
    # promptfoo 0.123.1's chat provider drops it from config (its request captured): a session
    # asking for one call got two through promptfoo until it moved
    spec = session(modes=["tools-required"], parallel_tool_calls=False)
    config = promptfoo_config(spec, PROXY)[0]["providers"][0]["config"]
    assert config["passthrough"] == {"parallel_tool_calls": False}
    assert "parallel_tool_calls" not in config


def test_the_command_writes_the_file_names_no_secret_and_sends_nothing(tmp_path: Path) -> None:
    out = tmp_path / "promptfooconfig.yaml"
    argv = [
        sys.executable, "-m", "naptha_tui.tui", "try", "--model", "smollm2-135m",
        "--prompt", WEATHER_PROMPT, "--example", "weather", "--mode", "tools-required,plain",
        "--temperatures", "0", "--promptfoo", str(out),
    ]  # fmt: skip
    # the proxy's port points nowhere: a request would fail, so success means none was sent
    env = {**os.environ, "NAPTHA_TUI_PROXY__PORT": "9"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(out.read_text())
    assert [p["label"] for p in doc["providers"]] == ["tools-required t=0"]
    assert doc["providers"][0]["config"]["apiBaseUrl"] == "http://127.0.0.1:9/v1"
    assert "left out (no tool call to assert): plain" in done.stderr
    assert f"{KEY_ENV}=$(cat " in done.stderr and "npx promptfoo@latest eval -c" in done.stderr
    assert "sk-" not in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_a_session_without_a_tool_mode_is_refused_by_name(tmp_path: Path) -> None:
    argv = [
        sys.executable, "-m", "naptha_tui.tui", "try", "--model", "m", "--prompt", "hi",
        "--mode", "plain", "--promptfoo", str(tmp_path / "p.yaml"),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "promptfoo" in done.stderr and "no tool-calling mode" in done.stderr
    assert not (tmp_path / "p.yaml").exists()
