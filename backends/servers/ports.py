"""Port allocation: a port is handed out only after a bind test shows it free."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection

import psutil

from naptha_tui.backends.errors import NapthaError


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PortInUse(NapthaError):
    """A port some other process already listens on; the message names the port and owner."""


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` (checked by binding it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # as uvicorn does: a port whose last connections sit in TIME_WAIT is free to listen on,
        # while one with a live listener still fails to bind
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def owner(port: int) -> str | None:
    """Best effort: ``pid NNN (name)`` of the process listening on ``port``."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return None
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return None
    return None


def check_free(port: int, host: str, what: str) -> None:
    """Raise PortInUse naming ``what`` (e.g. "preset smollm2-cpu, key port") if taken."""
    if not is_free(port, host):
        who = owner(port)
        by = f" by {who}" if who else ""
        raise PortInUse(f"port {port} on {host} ({what}) is already in use{by}")


def allocate(start: int, host: str, taken: Collection[int] = (), count: int = 1) -> list[int]:
    """``count`` free ports from ``start`` up, skipping ``taken`` (ports already handed out)."""
    ports: list[int] = []
    port = start
    while len(ports) < count:
        if port > 65535:
            raise PortInUse(f"no free port between {start} and 65535 on {host}")
        if port not in taken and is_free(port, host):
            ports.append(port)
        port += 1
    return ports
