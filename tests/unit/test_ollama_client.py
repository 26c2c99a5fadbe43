"""The Ollama client against the fake daemon (tests/fakes/fake_ollama.py): hosts, settings, calls.

The fake replays Ollama's documented wire format field by field.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest

from naptha_tui.backends.ollama.client import (
    Ollama,
    OllamaDown,
    OllamaError,
    offered_models,
    resolve_host,
)
from naptha_tui.backends.ollama.types import LoadedModel, PullProgress
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import load_settings
from naptha_tui.backends.yamlfile import ConfigFileError
from naptha_tui.proxy.litellm.config import ollama_deployment
from naptha_tui.tui.format import decimal_size, processor, until
from tests.fakes.fake_ollama import PULL_STEPS, REGISTRY, FakeOllama
from tests.fakes.ollama_wire import EXAMPLES
from tests.unit.ollama_common import free_port

pytestmark = pytest.mark.usefixtures("no_ollama_env")


# -- host resolution --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("setting", "env", "expected"),
    [
        (None, None, "http://127.0.0.1:11434"),
        (None, "0.0.0.0:11434", "http://127.0.0.1:11434"),  # a bind-all daemon, via loopback
        (None, "0.0.0.0", "http://127.0.0.1:11434"),
        (None, "gpu-box", "http://gpu-box:11434"),
        (None, "http://gpu-box:8080", "http://gpu-box:8080"),
        (None, ":11500", "http://127.0.0.1:11500"),
        (None, "[::]:11434", "http://[::1]:11434"),
        (None, "https://ollama.example.com", "https://ollama.example.com:443"),
        ("127.0.0.1:12000", "gpu-box", "http://127.0.0.1:12000"),  # the setting wins
        ("", "gpu-box:1234", "http://gpu-box:1234"),
    ],
)
def test_resolve_host_takes_every_ollama_host_form(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, env: str | None, expected: str
) -> None:
    if env is not None:
        monkeypatch.setenv("OLLAMA_HOST", env)
    assert resolve_host(setting) == expected
    assert Ollama(setting).host == expected


def test_the_ollama_packages_host_parser_is_the_one_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # the package's module (``ollama._client`` as an attribute is its default Client)
    module = importlib.import_module("ollama._client")
    real = module._parse_host
    asked: list[str | None] = []

    def spy(raw: str | None) -> str:
        asked.append(raw)
        return real(raw)

    monkeypatch.setattr(module, "_parse_host", spy)  # looked up when first used
    assert resolve_host("1.2.3.4") == "http://1.2.3.4:11434"
    assert asked == ["1.2.3.4"]


# -- settings ---------------------------------------------------------------------------------
def test_ollama_settings_defaults_file_and_environment(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = load_settings(paths).ollama
    assert (s.host, s.manage, s.offer_to_proxy, s.keep_alive) == (None, True, True, "5m")
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("ollama:\n  host: gpu-box:11434\n  keep_alive: '-1'\n")
    assert load_settings(paths).ollama.keep_alive == "-1"
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", "http://127.0.0.1:12345")
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__MANAGE", "false")
    s = load_settings(paths).ollama
    assert (s.host, s.manage, s.keep_alive) == ("http://127.0.0.1:12345", False, "-1")


def test_a_bad_keep_alive_is_named(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("ollama:\n  keep_alive: soon\n")
    with pytest.raises(ConfigFileError, match=r"config.yaml:2: ollama.keep_alive: "):
        load_settings(paths)


# -- the client against the fake --------------------------------------------------------------
async def test_models_lists_the_library_field_by_field(fake: FakeOllama) -> None:
    async with Ollama(fake.url) as client:
        assert await client.version() == EXAMPLES["version"]["version"]
        models = await client.models()
    by_name = {m.name: m for m in models}
    assert set(by_name) == {"llama3.2:latest", "deepseek-r1:latest"}
    llama = by_name["llama3.2:latest"]
    assert (llama.size, llama.family, llama.parameter_size, llama.quantization_level) == (
        2019393189,
        "llama",
        "3.2B",
        "Q4_K_M",
    )
    assert len(llama.digest) == 64
    # -07:00 and nanoseconds on the wire ("...44.000000123-07:00"), cut to microseconds
    assert llama.modified_at == datetime(2025, 5, 5, 0, 37, 44, tzinfo=UTC)
    assert fake.paths() == ["GET /api/version", "GET /api/tags"]


async def test_loaded_models_show_their_vram_share_and_expiry(fake: FakeOllama) -> None:
    async with Ollama(fake.url) as client:
        assert await client.loaded() == []
        await client.load("llama3.2", keep_alive=-1)
        await client.load("deepseek-r1", keep_alive="30m")
        loaded = await client.loaded()
    # Ollama sorts the longest-lived first; -1 lands ~292 years ahead, which is "forever"
    assert [m.name for m in loaded] == ["llama3.2:latest", "deepseek-r1:latest"]
    llama, deepseek = loaded
    assert llama.expires_at is None and llama.vram_share == 1.0
    assert llama.size > 2019393189 and llama.context_length == 4096  # memory beyond the file
    assert deepseek.vram_share == pytest.approx(0.6, abs=1e-6)
    assert deepseek.expires_at is not None
    left = deepseek.expires_at - datetime.now(UTC)
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)
    assert processor(llama) == "100% GPU" and processor(deepseek) == "40%/60% CPU/GPU"
    assert until(llama.expires_at) == "forever" and until(deepseek.expires_at) in (
        "in 29m",
        "in 30m",
    )
    wire = [s.body for s in fake.seen if s.path == "/api/generate"]
    assert wire == [
        {"model": "llama3.2", "stream": False, "keep_alive": -1},
        {"model": "deepseek-r1", "stream": False, "keep_alive": "30m"},
    ]


def test_shares_and_expiries_read_as_ollama_ps_does() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    cpu = LoadedModel("m", 100, 0, now - timedelta(seconds=1), None)
    assert (processor(cpu), cpu.vram_share, until(cpu.expires_at, now)) == (
        "100% CPU",
        0.0,
        "stopping",
    )
    assert LoadedModel("m", 0, 0, None, None).vram_share is None
    assert until(now + timedelta(seconds=42), now) == "in 42s"
    assert until(now + timedelta(hours=2, minutes=5), now) == "in 2h05m"
    assert until(now + timedelta(days=3), now) == "in 3d"
    assert until(now + timedelta(minutes=4, seconds=59), now) == "in 5m"
    sizes = (512, 1588, 270882400, 2019393189, 2000000000, 5137025024)
    assert [decimal_size(n) for n in sizes] == [
        "512 B", "1.6 KB", "270 MB", "2.0 GB", "2 GB", "5.1 GB",
    ]  # fmt: skip


async def test_pull_yields_every_progress_event_then_success(fake: FakeOllama) -> None:
    [model] = REGISTRY
    async with Ollama(fake.url) as client:
        events = [p async for p in client.pull("smollm2:135m")]
        names = [m.name for m in await client.models()]
    layers = len(model.layers)
    assert len(events) == 1 + layers * (1 + PULL_STEPS) + 3  # manifest, layers, tail
    assert events[0] == PullProgress("pulling manifest", None, None, None)
    assert [e.status for e in events[-3:]] == [
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    downloads = [e for e in events if e.digest]
    assert {e.total for e in downloads} == set(model.layers)
    for digest in {e.digest for e in downloads}:
        fractions = [e.fraction or 0.0 for e in downloads if e.digest == digest]
        assert fractions[0] == 0.0 and fractions[-1] == 1.0  # the first has no "completed"
        assert fractions == sorted(fractions)  # monotone
    assert all(e.status == f"pulling {e.digest[7:19]}" for e in downloads if e.digest)
    assert "smollm2:135m" in names
    assert [s.body for s in fake.seen if s.path == "/api/pull"] == [
        {"model": "smollm2:135m", "insecure": False, "stream": True}
    ]


async def test_pull_of_a_model_that_does_not_exist(fake: FakeOllama) -> None:
    seen: list[PullProgress] = []
    async with Ollama(fake.url) as client:
        with pytest.raises(OllamaError) as info:
            async for p in client.pull("no-such-model"):
                seen.append(p)
    assert [p.status for p in seen] == ["pulling manifest"]  # the error comes inside the stream
    assert str(info.value) == (
        f"Ollama at {fake.url} could not pull model 'no-such-model': "
        "pull model manifest: file does not exist"
    )
    assert info.value.model == "no-such-model"


async def test_load_then_ps_shows_it_unload_then_it_is_gone(fake: FakeOllama) -> None:
    async with Ollama(fake.url) as client:
        await client.load("llama3.2")
        assert [m.name for m in await client.loaded()] == ["llama3.2:latest"]
        await client.unload("llama3.2")
        assert await client.loaded() == []
    generate = [s.body for s in fake.seen if s.path == "/api/generate"]
    assert generate == [
        {"model": "llama3.2", "stream": False},  # keep_alive left to the daemon
        {"model": "llama3.2", "stream": False, "keep_alive": 0},
    ]


async def test_numbers_given_as_text_go_out_as_numbers(fake: FakeOllama) -> None:
    # Ollama parses a keep_alive string with time.ParseDuration: "-1" would be a 400
    async with Ollama(fake.url) as client:
        await client.load("llama3.2", keep_alive="-1")
        await client.load("deepseek-r1", keep_alive="300")
        [forever, five] = await client.loaded()
    assert forever.expires_at is None and five.expires_at is not None
    assert [s.body["keep_alive"] for s in fake.seen if s.path == "/api/generate"] == [-1, 300]


async def test_unknown_models_are_named_with_ollamas_message(fake: FakeOllama) -> None:
    async with Ollama(fake.url) as client:
        for call in (client.load, client.unload):
            with pytest.raises(OllamaError) as info:
                await call("ghost")
            assert info.value.status_code == 404 and info.value.model == "ghost"
            assert "model 'ghost': model 'ghost' not found (HTTP 404)" in str(info.value)
        with pytest.raises(OllamaError, match="a model name is needed"):
            await client.load(" ")


async def test_chat_plain_and_with_tools(fake: FakeOllama) -> None:
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather in a given city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    ask = [{"role": "user", "content": "what is the weather in tokyo?"}]
    async with Ollama(fake.url) as client:
        plain = await client.chat("llama3.2", ask)
        called = await client.chat("llama3.2", ask, tools=[weather])
    assert (plain.content, plain.tool_calls, plain.done_reason) == (
        "Hello! How are you today?",
        (),
        "stop",
    )
    [call] = called.tool_calls
    assert (call.name, call.arguments, called.content) == ("get_weather", {"city": "Tokyo"}, "")


async def test_offered_models_for_the_proxy(fake: FakeOllama) -> None:
    async with Ollama(fake.url) as client:
        offered = await offered_models(client)
    assert offered == ["deepseek-r1:latest", "llama3.2:latest"]
    # what the integrator makes of them (proxy/litellm/config.py; backends never import the proxy)
    d = ollama_deployment(offered[1], fake.url)
    assert (d.id, d.model_name, d.litellm_params()["model"]) == (
        "ollama/llama3.2:latest",
        "llama3.2:latest",
        "ollama_chat/llama3.2:latest",
    )


async def test_the_daemon_down_is_one_clear_error_per_call() -> None:
    host = f"http://127.0.0.1:{free_port()}"
    async with Ollama(host) as client:
        calls = [client.version(), client.models(), client.loaded(), client.load("m")]
        for call in calls:
            with pytest.raises(OllamaDown, match=rf"^no Ollama daemon answers at {host}$"):
                await call
        with pytest.raises(OllamaDown) as info:
            async for _ in client.pull("m"):
                pass
        assert info.value.host == host
