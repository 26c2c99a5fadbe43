"""The playground's saved sessions, and samples copied as curl and OpenAI SDK code."""

from __future__ import annotations

import ast
import json
import shlex
import stat
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.playground import examples
from naptha_tui.backends.playground.sessions import (
    curl_command,
    list_sessions,
    load_session,
    save_session,
    sdk_snippet,
    session_file,
)
from naptha_tui.backends.playground.spec import Mode, Spec, request_body
from naptha_tui.backends.yamlfile import ConfigFileError
from tests.fakes.fake_proxy import PROXY_KEY
from tests.unit.playground_common import WEATHER_CALL, weather_spec

# -- sessions ---------------------------------------------------------------------------------


def full_spec() -> Spec:
    return Spec.model_validate(
        {
            "model": "m",
            "system": "be brief",
            "prompt": "Weather and a timer?",
            "conversation": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [WEATHER_CALL], "content": None},
                {"role": "tool", "tool_call_id": "call_0", "content": "sunny, 21 °C"},
            ],
            "tools": examples.tools(4),
            "modes": ["tools-auto", "tool:get_weather", "json_schema", "choice"],
            "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            "choice": ["yes", "no"],
            "strict": True,
            "parallel_tool_calls": False,
            "temperatures": [0.0, 0.3, 0.7],
            "samples": 5,
            "seed": 7,
            "stream": True,
        }
    )


def test_a_session_round_trips(paths: Paths) -> None:
    spec = full_spec()
    path = save_session(paths, "weather-1", spec)
    assert path == session_file(paths, "weather-1") and path.parent.parent == paths.state_dir
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "schema:" in path.read_text() and "schema_" not in path.read_text()
    loaded = load_session(paths, "weather-1")
    assert loaded == spec
    assert loaded.schema_ == spec.schema_ and loaded.conversation == spec.conversation
    assert load_session(paths, str(path)) == spec  # by file too
    save_session(paths, "a-plain", Spec(model="m", prompt="hi"))
    assert list_sessions(paths) == ["a-plain", "weather-1"]


def test_no_sessions_and_an_unknown_one(paths: Paths) -> None:
    assert list_sessions(paths) == []
    with pytest.raises(NapthaError, match=r"no playground session 'nope' .*none saved"):
        load_session(paths, "nope")


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "-dash", "x" * 65, "sp ace"])
def test_a_bad_session_name_is_refused(paths: Paths, name: str) -> None:
    with pytest.raises(NapthaError, match=r"session name .*letters, digits"):
        save_session(paths, name, Spec())
    assert not (paths.state_dir / "playground").exists() or list_sessions(paths) == []


def test_a_session_whose_name_has_a_dot_loads_by_name(paths: Paths) -> None:
    save_session(paths, "v1.2", Spec(model="m", prompt="hi"))
    assert "v1.2" in list_sessions(paths)
    assert load_session(paths, "v1.2").model == "m"


def test_a_session_file_with_an_unknown_key(paths: Paths, tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("model: m\nprompt: hi\ntemperature: [0.5]\n")
    with pytest.raises(ConfigFileError) as raised:
        load_session(paths, str(path))
    assert f"{path}:3: temperature" in str(raised.value) and "unknown key" in str(raised.value)


def test_curl_sends_the_same_body_and_never_the_key(paths: Paths, tmp_path: Path) -> None:
    body = request_body(weather_spec(stream=True, seed=3), Mode.parse("tools-required"), 0.3)
    key_file = tmp_path / "my keys" / "master.key"
    for kf in (str(key_file), None):
        text = curl_command("http://127.0.0.1:4000", body, kf)
        argv = [a for a in shlex.split(text) if a != "\n"]
        assert argv[:3] == ["curl", "-s", "http://127.0.0.1:4000/v1/chat/completions"]
        assert json.loads(argv[argv.index("-d") + 1]) == body
        [auth] = [argv[i + 1] for i, a in enumerate(argv) if a == "-H" and "Bearer" in argv[i + 1]]
        assert auth == ("Authorization: Bearer " + (f"$(cat '{kf}')" if kf else "$NAPTHA_API_KEY"))
        assert PROXY_KEY not in text and "sk-" not in text


def test_sdk_snippet_compiles_and_sends_the_body(tmp_path: Path) -> None:
    spec = weather_spec(modes=["regex"], regex="[a-z]+", extra_body={"top_k": 5})
    body = request_body(spec, Mode.parse("regex"), 0.0, raw_ids=True)
    key_file = tmp_path / "master.key"
    key_file.write_text(PROXY_KEY + "\n")
    for kf in (str(key_file), None):
        code = sdk_snippet("http://127.0.0.1:4000", body, kf)
        tree = ast.parse(code)
        compile(tree, "<snippet>", "exec")
        [create] = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "create"
        ]
        keywords = {k.arg: ast.literal_eval(k.value) for k in create.keywords}
        extra = keywords.pop("extra_body")
        assert set(extra) == {"structured_outputs", "return_tokens_as_token_ids", "top_k"}
        assert extra["structured_outputs"] == {"regex": "[a-z]+"}
        assert keywords | extra == body
        assert PROXY_KEY not in code

    # run it against a stand-in SDK: the request it makes is the body
    sent: dict[str, Any] = {}

    class Completions:
        def create(self, **kwargs: Any) -> str:
            sent.update(kwargs)
            return "response"

    class OpenAI:
        def __init__(self, base_url: str, api_key: str) -> None:
            sent["_client"] = (base_url, api_key)
            self.chat = types.SimpleNamespace(completions=Completions())

    fake = types.ModuleType("openai")
    fake.OpenAI = OpenAI  # type: ignore[attr-defined]
    saved = sys.modules.get("openai")
    sys.modules["openai"] = fake
    try:
        exec(compile(sdk_snippet("http://h:1", body, str(key_file)), "<snippet>", "exec"), {})
    finally:
        if saved is None:
            del sys.modules["openai"]
        else:
            sys.modules["openai"] = saved
    assert sent.pop("_client") == ("http://h:1/v1", PROXY_KEY)
    extra = sent.pop("extra_body")
    assert sent | extra == body and "extra_body" not in body
