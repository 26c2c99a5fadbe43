"""The state file: what this node started, so any later panel or CLI call can re-attach.

One JSON file, written atomically (temp file + rename) under an exclusive lock, mode 0600.
An unreadable file never hides a running child: it is kept aside as ``servers.corrupt``, the
node's live children are found again from the marks in their environment (the ``recover``
callback; see ``servers/managed.py``), a fresh file is written, and a warning says so.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from naptha_tui.backends.files import atomic_write

STATE_VERSION = 1

ProcessKind = Literal["vllm", "proxy", "ollama"]


class ProcessRecord(BaseModel):
    """One process we started: enough to find it again and to describe it."""

    model_config = ConfigDict(extra="ignore")

    name: str
    kind: ProcessKind
    pid: int
    create_time: float
    """psutil's start time of ``pid``; a recycled pid has a different one."""
    argv: list[str]
    host: str
    port: int
    log_path: Path
    started_at: float
    preset: str | None = None
    model: str | None = None
    served_model_name: str | None = None
    runtime: str | None = None
    ready_at: float | None = None
    """First time the server was seen healthy (None while starting)."""
    desired: Literal["running", "stopped"] = "running"
    """``stopped`` after a stop from the panel: the row stays, ready to restart."""
    startup_timeout: float = 600.0
    startup_stall_timeout: float = 0.0
    """A starting server silent this long is restarted once by ``wait_ready`` (0: never)."""
    default_params: dict[str, Any] = {}
    """The preset's request defaults, applied by the proxy to this deployment."""
    api_key_env: str | None = None
    """The variable that carries the server's key to the proxy (``NAPTHA_KEY_<NAME>`` for a
    generated one, whose value is in ``<state dir>/keys/NAME.key``)."""
    sleep_mode: bool = False
    """Started with ``--enable-sleep-mode``: a swap puts it to sleep instead of stopping it."""
    sleeping: int | None = None
    """The sleep level it was put to sleep with; None while awake."""
    dtype: str | None = None
    """The ``--dtype`` it was started with (``auto`` resolved on the cpu runtime)."""
    dtype_reason: str | None = None
    """Why that dtype (the CPU's bfloat16 support, or the preset's own value)."""

    @property
    def root_url(self) -> str:
        """``http://host:port``: its /health, /metrics and admin routes hang from here."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Its OpenAI-compatible base URL (``root_url`` + ``/v1``)."""
        return f"{self.root_url}/v1"


class RemoteRecord(BaseModel):
    """Another node's endpoint added to the proxy (a ``kind: remote`` preset); no process."""

    model_config = ConfigDict(extra="ignore")

    name: str
    preset: str
    base_url: str
    models: list[str]
    api_key_env: str | None = None
    default_params: dict[str, Any] = {}
    added_at: float


class NodeState(BaseModel):
    """Everything in the state file."""

    version: int = STATE_VERSION
    servers: dict[str, ProcessRecord] = {}
    proxy: ProcessRecord | None = None
    remotes: dict[str, RemoteRecord] = {}


class StateFile:
    """Load and update the state file safely from several processes."""

    def __init__(self, path: Path, recover: Callable[[], NodeState] | None = None) -> None:
        """A state file at ``path``.

        Args:
            path: the file.
            recover: rebuilds the state from what is running when the file is unreadable.
        """
        self.path = path
        self.recover = recover
        self.warnings: list[str] = []
        """What went wrong with the file in this process (shown by ``status`` and the panel)."""

    def _read(self) -> NodeState | None:
        """The file's state; a missing file is an empty node; None when it is unreadable."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return NodeState()
        try:
            return NodeState.model_validate_json(text)
        except (ValidationError, ValueError):
            return None

    def load(self) -> NodeState:
        """The current state (an unreadable file is recovered first, under the lock)."""
        state = self._read()
        if state is not None:
            return state
        with self._locked():
            state = self._read()
            return self._recover() if state is None else state

    @contextmanager
    def update(self) -> Iterator[NodeState]:
        """Lock, load, let the caller modify, then write back atomically."""
        with self._locked():
            state = self._read()
            if state is None:
                state = self._recover()
            yield state
            self._write(state)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_suffix(".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _recover(self) -> NodeState:
        """Keep the unreadable file aside, rebuild the state, write it (the lock is held)."""
        aside = self.path.with_suffix(".corrupt")
        self.path.replace(aside)
        state = self.recover() if self.recover is not None else NodeState()
        self._write(state)
        found = [*state.servers, *(["proxy"] if state.proxy else [])]
        self.warnings.append(
            f"state file {self.path} was unreadable (kept as {aside}); "
            + (
                f"found this node's running processes again: {', '.join(found)}"
                if found
                else "no running process of this node was found"
            )
            + "; remote nodes it listed must be added again with `up`"
        )
        return state

    def _write(self, state: NodeState) -> None:
        """Replace the file in one rename, mode 0600 (the caller holds the lock)."""
        atomic_write(self.path, json.dumps(state.model_dump(mode="json"), indent=2))
