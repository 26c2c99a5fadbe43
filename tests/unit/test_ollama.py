"""The Ollama backend against the fake daemon (tests/fakes/fake_ollama.py): client, daemon, CLI.

The fake replays Ollama's documented wire format; the managed-daemon tests put it on PATH as
``ollama`` (``ollama serve`` listens on OLLAMA_HOST), so the start, the record in the state file
and ``down`` run for real.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from naptha_tui.backends.ollama import client as client_module
from naptha_tui.backends.ollama.client import (
    Ollama,
    OllamaDown,
    OllamaError,
    offered_models,
    resolve_host,
)
from naptha_tui.backends.ollama.daemon import (
    DAEMON_NAME,
    daemon_state,
    ensure_daemon,
    managed_record,
    stop_daemon,
)
from naptha_tui.backends.ollama.types import LoadedModel, PullProgress
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.managed import state_file
from naptha_tui.backends.settings import Settings, load_settings
from naptha_tui.backends.yamlfile import ConfigFileError
from naptha_tui.proxy.config import ollama_deployment
from naptha_tui.proxy.node import Node
from naptha_tui.tui.cli import main
from naptha_tui.tui.commands.ollama import processor, size, until
from tests.fakes.fake_ollama import EXAMPLES, PULL_STEPS, REGISTRY, FakeOllama, digest_of

FAKE = Path(__file__).parents[1] / "fakes" / "fake_ollama.py"


@pytest.fixture(autouse=True)
def no_ollama_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("OLLAMA_HOST", "OLLAMA_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as f:
        yield f


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ollama_settings(host: str, manage: bool = False) -> Settings:
    return Settings.model_validate(
        {"stop_grace_seconds": 3.0, "ollama": {"host": host, "manage": manage}}
    )


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


def test_the_ollama_packages_host_parser_is_the_one_used() -> None:
    from ollama._client import _parse_host

    assert client_module._parse_host is _parse_host  # type: ignore[attr-defined]
    assert _parse_host("1.2.3.4") == "http://1.2.3.4:11434"


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
    assert [size(n) for n in (512, 1588, 270882400, 2019393189, 2000000000, 5137025024)] == [
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
    # what the integrator makes of them (proxy/config.py; backends never import the proxy)
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


# -- the daemon: attach, start, record, stop ----------------------------------------------------
def fake_binary(folder: Path, script: str | None = None) -> Path:
    """An `ollama` on PATH: the fake daemon (``ollama serve``), or ``script`` (shell)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ollama"
    path.write_text(script or f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


async def test_a_running_daemon_is_external(fake: FakeOllama, paths: Paths) -> None:
    state = await ensure_daemon(ollama_settings(fake.url, manage=True), paths)
    assert (state.status, state.host, state.version, state.started) == (
        "external",
        fake.url,
        EXAMPLES["version"]["version"],
        False,
    )
    assert managed_record(paths) is None  # someone else's: never recorded, never stopped


async def test_down_without_a_binary_names_the_host(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    host = f"http://127.0.0.1:{free_port()}"
    state = await ensure_daemon(ollama_settings(host, manage=True), paths)
    assert state.status == "down" and not state.up
    assert state.reason == f"no Ollama daemon answers at {host} and no `ollama` binary is on PATH"
    off = await ensure_daemon(ollama_settings(host, manage=False), paths)
    assert off.reason == (
        f"no Ollama daemon answers at {host} (ollama.manage is off: start `ollama serve` yourself)"
    )
    remote = await daemon_state(ollama_settings("http://ollama.invalid:11434", True), paths)
    assert "not a loopback address" in (remote.reason or "")


async def test_something_else_on_the_port_is_not_taken_for_ollama(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_binary(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    from tests.fakes.fake_proxy import FakeProxy

    with FakeProxy() as other:
        state = await ensure_daemon(ollama_settings(other.url, manage=True), paths)
    assert state.status == "down" and managed_record(paths) is None
    assert f"something answers at {other.url}, but it is not an Ollama daemon" in (
        state.reason or ""
    )


async def test_the_node_starts_records_and_stops_its_own_daemon(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = fake_binary(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    settings = ollama_settings(f"127.0.0.1:{free_port()}", manage=True)
    try:
        state = await ensure_daemon(settings, paths)
        assert (state.status, state.started) == ("managed", True), state.reason
        record = state_file(paths).load().servers[DAEMON_NAME]
        assert (record.kind, record.argv, record.pid) == (
            "ollama",
            [str(binary), "serve"],
            state.pid,
        )
        assert record.ready_at is not None and state.log_path == record.log_path
        assert stat.S_IMODE(record.log_path.stat().st_mode) == 0o600
        env = psutil.Process(record.pid).environ()
        assert env["OLLAMA_HOST"] == f"127.0.0.1:{record.port}"
        # attached to, not started twice
        again = await ensure_daemon(settings, paths)
        assert (again.status, again.started, again.pid) == ("managed", False, state.pid)
        async with Ollama(state.host) as client:
            assert len(await client.models()) == 2
        # `naptha-tui down` stops it like any server it started
        async with Node(paths, settings) as node:
            assert DAEMON_NAME in await node.down()
        assert not psutil.pid_exists(record.pid) or psutil.Process(record.pid).status() == "zombie"
        assert managed_record(paths) is None
        assert (await daemon_state(settings, paths)).status == "down"
    finally:
        await stop_daemon(settings, paths)


async def test_a_daemon_that_dies_at_start_is_reported_and_forgotten(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_binary(
        tmp_path / "bin",
        "#!/bin/sh\necho 'Error: listen tcp 127.0.0.1:11434: bind: address already in use'\n"
        "exit 1\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    settings = ollama_settings(f"127.0.0.1:{free_port()}", manage=True)
    state = await ensure_daemon(settings, paths, start_timeout=10)
    assert state.status == "down"
    assert "ollama serve exited: " in (state.reason or "")
    assert "address already in use" in (state.reason or "") and "(log " in (state.reason or "")
    assert managed_record(paths) is None
    assert await stop_daemon(settings, paths) is False


# -- the CLI ------------------------------------------------------------------------------------
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli_fake(fake: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> FakeOllama:
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", fake.url)
    return fake


def test_cli_list_table_and_json(capsys: pytest.CaptureFixture[str], cli_fake: FakeOllama) -> None:
    code, out, _ = run(capsys, "ollama", "list")
    header, *rows = out.splitlines()
    assert code == 0 and header.split() == [
        "NAME",
        "ID",
        "SIZE",
        "FAMILY",
        "PARAMS",
        "QUANT",
        "MODIFIED",
    ]
    assert rows[0].split()[:6] == [
        "llama3.2:latest",
        rows[0].split()[1],
        "2.0",
        "GB",
        "llama",
        "3.2B",
    ]
    code, out, _ = run(capsys, "ollama", "list", "--json")
    doc = json.loads(out)
    assert code == 0 and list(doc[0]) == [
        "name", "size", "digest", "family", "parameter_size", "quantization_level", "modified_at",
    ]  # fmt: skip
    assert doc[0]["modified_at"] == "2025-05-04T17:37:44-07:00"


def test_cli_load_ps_unload(capsys: pytest.CaptureFixture[str], cli_fake: FakeOllama) -> None:
    assert run(capsys, "ollama", "ps")[1] == "no model is loaded\n"
    code, out, _ = run(capsys, "ollama", "load", "llama3.2", "--keep-alive", "-1")
    assert code == 0 and out == "loaded llama3.2 (keep-alive -1, 100% GPU, unloads forever)\n"
    code, out, _ = run(capsys, "ollama", "load", "deepseek-r1", "--json")
    doc = json.loads(out)
    assert (doc["model"], doc["loaded"], doc["keep_alive"]) == ("deepseek-r1", True, "5m")
    assert doc["ps"]["vram_share"] == pytest.approx(0.6, abs=1e-6)
    code, out, _ = run(capsys, "ollama", "ps")
    header, forever, later = out.splitlines()
    assert header.split() == ["NAME", "SIZE", "VRAM", "SHARE", "PROCESSOR", "CONTEXT", "UNTIL"]
    assert forever.split()[0] == "llama3.2:latest" and forever.endswith("forever")
    assert (
        "60%" in later.split()
        and "40%/60% CPU/GPU" in later
        and later.split()[-2:]
        in (
            ["in", "4m"],
            ["in", "5m"],
        )
    )
    [a, b] = json.loads(run(capsys, "ollama", "ps", "--json")[1])
    assert list(a) == ["name", "size", "size_vram", "expires_at", "context_length", "vram_share"]
    assert a["expires_at"] is None and b["expires_at"].endswith("-07:00")
    assert run(capsys, "ollama", "unload", "llama3.2") == (0, "unloaded llama3.2\n", "")
    assert json.loads(run(capsys, "ollama", "unload", "deepseek-r1", "--json")[1]) == {
        "model": "deepseek-r1",
        "unloaded": True,
    }
    assert json.loads(run(capsys, "ollama", "ps", "--json")[1]) == []


def test_cli_pull_progress_lines_and_ndjson(
    capsys: pytest.CaptureFixture[str], cli_fake: FakeOllama
) -> None:
    code, out, _ = run(capsys, "ollama", "pull", "smollm2:135m")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "pulling manifest" and lines[-1] == "success"
    # one line per status and per 10% of each layer; sizes as `ollama` prints them
    assert lines[1] == f"pulling {digest_of('smollm2:135m/0')[7:19]}: 0 B/270 MB 0%"
    assert lines[2].endswith(": 67 MB/270 MB 25%") and lines[5].endswith("270 MB/270 MB 100%")
    assert lines[6].endswith(": 0 B/1.6 KB 0%")
    assert lines[-3:-1] == ["verifying sha256 digest", "writing manifest"]
    code, out, _ = run(capsys, "ollama", "pull", "smollm2:135m", "--json")
    *events, summary = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and events[0] == {
        "status": "pulling manifest", "digest": None, "total": None, "completed": None,
        "fraction": None,
    }  # fmt: skip
    assert events[-1]["status"] == "success" and len(events) == 1 + 4 * (1 + PULL_STEPS) + 3
    assert summary == {
        "model": "smollm2:135m",
        "pulled": True,
        "layers": 4,
        "bytes": sum(REGISTRY[0].layers),
        "events": len(events),
    }


def test_cli_errors_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], cli_fake: FakeOllama
) -> None:
    code, out, err = run(capsys, "ollama", "pull", "nope")
    assert code == 2 and out == "pulling manifest\n"
    assert err == (
        f"naptha-tui: error: Ollama at {cli_fake.url} could not pull model 'nope': "
        "pull model manifest: file does not exist\n"
    )
    code, _, err = run(capsys, "ollama", "load", "ghost")
    assert code == 2 and err == (
        f"naptha-tui: error: Ollama at {cli_fake.url} could not load model 'ghost': "
        "model 'ghost' not found (HTTP 404)\n"
    )
    with pytest.raises(SystemExit) as exited:
        main(["ollama", "load", "x", "--keep-alive", "soon"])
    assert exited.value.code == 2
    assert "argument --keep-alive: invalid duration 'soon'" in capsys.readouterr().err


def test_cli_status_external_and_down(
    capsys: pytest.CaptureFixture[str],
    fake: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", fake.url)
    code, out, _ = run(capsys, "ollama", "status")
    version = EXAMPLES["version"]["version"]
    assert code == 0 and out == (
        f"ollama: external at {fake.url} (version {version})\n"
        "offered to the proxy: deepseek-r1:latest, llama3.2:latest\n"
    )
    doc = json.loads(run(capsys, "ollama", "status", "--json")[1])
    assert (doc["status"], doc["host"], doc["offered"]) == (
        "external",
        fake.url,
        ["deepseek-r1:latest", "llama3.2:latest"],
    )
    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", host)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    reason = f"no Ollama daemon answers at {host} and no `ollama` binary is on PATH"
    assert run(capsys, "ollama", "status") == (1, f"ollama: down: {reason}\n", "")
    code, out, _ = run(capsys, "ollama", "status", "--json")
    assert code == 1 and json.loads(out)["reason"] == reason
    for argv in (["list"], ["ps"], ["pull", "m"], ["load", "m"], ["unload", "m"]):
        code, out, err = run(capsys, "ollama", *argv)
        assert (code, out, err) == (2, "", f"naptha-tui: error: {reason}\n"), argv


def test_cli_starts_the_managed_daemon_and_says_so(
    capsys: pytest.CaptureFixture[str],
    paths: Paths,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_binary(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    host = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", host)
    try:
        code, out, err = run(capsys, "ollama", "list", "--json")
        assert code == 0 and len(json.loads(out)) == 2
        assert err.startswith("started ollama serve (pid ") and "`naptha-tui down ollama`" in err
        code, out, _ = run(capsys, "ollama", "status")
        assert code == 0 and out.startswith(f"ollama: managed at http://{host} (version ")
        assert (
            run(capsys, "down", "ollama", "--json")[1]
            == '{\n  "stopped": [\n    "ollama"\n  ]\n}\n'
        )
        assert run(capsys, "ollama", "status")[0] == 1
    finally:
        import asyncio

        asyncio.run(stop_daemon(load_settings(paths), paths))


def test_ollama_commands_never_import_textual(fake: FakeOllama) -> None:
    code = """
import contextlib, io, sys
from naptha_tui.tui.cli import main
for argv in (["ollama", "status", "--json"], ["ollama", "ps", "--json"]):
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0, argv
print(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")))
"""
    env = {**os.environ, "NAPTHA_TUI_OLLAMA__HOST": fake.url}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
