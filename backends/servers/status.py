"""A server's status as the panel and ``status`` show it, and how long a starting one is silent.

Plain data and small helpers, shared by the supervisor, the node and the panel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from naptha_tui.backends.servers.logs import only_waiting
from naptha_tui.backends.servers.managed import Status

__all__ = ["ServerStatus", "StallWatch", "Status", "probe_client", "said_status"]


def probe_client() -> httpx.AsyncClient:
    """An HTTP client with short timeouts: probes must never stall the panel."""
    return httpx.AsyncClient(timeout=httpx.Timeout(3.0, connect=1.0))


@dataclass(frozen=True)
class ServerStatus:
    """A server as the panel and `status` show it (a snapshot; plain data)."""

    name: str
    status: Status
    preset: str | None
    model: str | None
    runtime: str | None
    served_model_name: str | None
    host: str
    port: int
    pid: int | None
    uptime_s: float | None
    reason: str | None
    """Why it is not ready: the death reason from its log, or the failing probe."""
    log_path: Path | None
    url: str | None = None
    """A remote node's base URL as given (local servers derive theirs from host and port)."""
    metrics: dict[str, float | None] | None = None
    """vLLM's /metrics over the last window (``ServerMetrics.to_json()``), when it has one."""
    rss_bytes: int | None = None
    """Resident memory of its whole process tree (API server, EngineCore, workers)."""
    gpu_memory_bytes: int | None = None
    """GPU memory its process tree holds, over every GPU (None without a readable GPU)."""
    gpu_memory: dict[int, int] | None = None
    """The same per GPU index."""
    dtype: str | None = None
    """The dtype it was started with, and why (``dtype_reason``)."""
    dtype_reason: str | None = None

    @property
    def base_url(self) -> str:
        """The server's OpenAI-compatible base URL."""
        return self.url or f"http://{self.host}:{self.port}/v1"


def said_status(s: ServerStatus) -> str:
    """A status change as a start's progress line.

    The reason when it went wrong; the loading time when it is ready.
    """
    if s.status == "ready" and s.uptime_s is not None:
        return f"{s.name}: ready, loaded in {s.uptime_s:.0f} s"
    bad = s.reason and s.status in ("crashed", "unhealthy")
    return f"{s.name}: {s.status}" + (f" ({s.reason})" if bad else "")


class StallWatch:
    """How long each starting server's log has not grown.

    A rotated log or a new pid counts as growth; vLLM's own still-waiting lines do not (an engine
    whose worker hung prints one a minute: ``logs.only_waiting``).
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[int, int], int, float]] = {}
        """Per server: its log's inode and its pid, the log's size, and since when it is silent."""
        self.restarted: set[str] = set()

    def silent_s(self, s: ServerStatus, now: float | None = None) -> float | None:
        """Seconds since ``s``'s log last grew, as seen by these calls; None without a log."""
        if s.log_path is None:
            return None
        now = time.monotonic() if now is None else now
        try:
            st = s.log_path.stat()
            mark, size = (st.st_ino, s.pid or 0), st.st_size
        except OSError:
            mark, size = (0, s.pid or 0), 0
        last = self._last.get(s.name)
        silent = (
            last is not None
            and last[0] == mark
            and last[1] <= size
            and (last[1] == size or only_waiting(s.log_path, last[1], size))
        )
        since = last[2] if silent and last is not None else now
        self._last[s.name] = (mark, size, since)
        return now - since
