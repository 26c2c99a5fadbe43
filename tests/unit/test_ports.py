from __future__ import annotations

import os
import socket

import pytest

from naptha_tui.backends.servers.ports import PortInUse, allocate, check_free, is_free


@pytest.fixture
def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def test_busy_port_is_not_free(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    assert not is_free(port)
    with pytest.raises(PortInUse) as info:
        check_free(port, "127.0.0.1", "preset demo, key port")
    message = str(info.value)
    assert f"port {port} on 127.0.0.1 (preset demo, key port) is already in use" in message
    assert f"pid {os.getpid()}" in message  # the owner is named when it can be found


def test_allocate_skips_busy_and_taken(listener: socket.socket) -> None:
    busy = listener.getsockname()[1]
    ports = allocate(busy, "127.0.0.1", taken={busy + 1}, count=2)
    assert busy not in ports and busy + 1 not in ports
    assert ports == sorted(ports) and len(set(ports)) == 2
    assert all(is_free(p) for p in ports)
