"""The Ollama daemon: attached to when one answers, else started, recorded and stopped.

The tests put the fake daemon (tests/fakes/fake_ollama.py) on PATH as ``ollama`` (``ollama serve``
listens on OLLAMA_HOST), so the start, the record in the state file and ``down`` run for real.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psutil
import pytest

from naptha_tui.backends.ollama.client import Ollama
from naptha_tui.backends.ollama.daemon import (
    DAEMON_NAME,
    daemon_state,
    ensure_daemon,
    managed_record,
    stop_daemon,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.managed import state_file
from naptha_tui.proxy.node import Node
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.ollama_wire import EXAMPLES
from tests.unit.ollama_common import fake_binary, free_port, ollama_settings

pytestmark = pytest.mark.usefixtures("no_ollama_env")


# -- the daemon: attach, start, record, stop ----------------------------------------------------
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
