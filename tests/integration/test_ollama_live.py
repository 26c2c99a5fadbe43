"""A real Ollama, when an ``ollama`` binary is on PATH: attach (or start ours), list, ps.

Skipped where there is none (these machines). A daemon that already answers at OLLAMA_HOST
(or the default address) is used as is and left running; otherwise ``ollama serve`` is started
as the node's (there, or on a free loopback port if that start fails) and stopped afterwards.
Pulls nothing: the library may be empty.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator

import pytest

from naptha_tui.backends.ollama.client import Ollama, offered_models
from naptha_tui.backends.ollama.daemon import (
    DaemonState,
    ensure_daemon,
    managed_record,
    stop_daemon,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("ollama") is None, reason="no ollama binary on PATH"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def daemon(paths: Paths) -> AsyncIterator[tuple[Settings, DaemonState]]:
    settings = Settings()
    state = await ensure_daemon(settings, paths)
    if not state.up:  # none answers where the operator's would: start ours on a free port
        settings = Settings.model_validate({"ollama": {"host": f"127.0.0.1:{free_port()}"}})
        state = await ensure_daemon(settings, paths, start_timeout=60)
    try:
        yield settings, state
    finally:
        await stop_daemon(settings, paths)


async def test_attach_or_start(daemon: tuple[Settings, DaemonState], paths: Paths) -> None:
    _, state = daemon
    assert state.up, state.reason
    assert state.version
    if state.status == "managed":
        record = managed_record(paths)
        assert record is not None and record.pid == state.pid and record.kind == "ollama"
    else:
        assert state.status == "external" and managed_record(paths) is None


async def test_list_and_ps(daemon: tuple[Settings, DaemonState]) -> None:
    _, state = daemon
    async with Ollama(state.host) as client:
        models = await client.models()
        loaded = await client.loaded()
        offered = await offered_models(client)
    assert offered == sorted({m.name for m in models})
    for m in models:
        assert m.name and m.size > 0 and m.digest
    for row in loaded:
        assert row.size >= row.size_vram >= 0
        assert row.vram_share is None or 0.0 <= row.vram_share <= 1.0
