"""The state file: what this node started, so any later panel or CLI call can re-attach.

One JSON file, written atomically (temp file + rename) under an exclusive lock, mode 0600.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

STATE_VERSION = 1


class ProcessRecord(BaseModel):
    """One process we started: enough to find it again and to describe it."""

    model_config = ConfigDict(extra="ignore")

    name: str
    kind: Literal["vllm", "proxy"]
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
    default_params: dict[str, Any] = {}
    """The preset's request defaults, applied by the proxy to this deployment."""


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

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> NodeState:
        """The current state; a missing file is an empty node.

        A corrupt file is kept aside (``.corrupt``) rather than overwritten, and treated as empty.
        """
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return NodeState()
        try:
            return NodeState.model_validate_json(text)
        except (ValidationError, ValueError):
            self.path.replace(self.path.with_suffix(".corrupt"))
            return NodeState()

    @contextmanager
    def update(self) -> Iterator[NodeState]:
        """Lock, load, let the caller modify, then write back atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_suffix(".lock")
        with lock.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            state = self.load()
            yield state
            self._write(state)

    def _write(self, state: NodeState) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".servers.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:  # mkstemp creates the file 0600
                fh.write(json.dumps(state.model_dump(mode="json"), indent=2))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
