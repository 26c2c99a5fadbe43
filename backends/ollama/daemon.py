"""The Ollama daemon: attach to the one that answers, or start ``ollama serve`` as ours.

A daemon the operator runs is ``external`` and is never stopped by the node. When nothing
answers at a loopback address, ``ollama.manage`` is on and an ``ollama`` binary is on PATH, the
node starts ``ollama serve`` itself with ``OLLAMA_HOST`` set to that address: a
:class:`~naptha_tui.backends.servers.managed.ManagedProcess` of kind ``ollama`` (own session,
private log, pid + start time), recorded in the state file's ``servers`` map under the name
``ollama``, so ``naptha-tui down`` (or ``down ollama``) stops it like any server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.ollama.client import (
    Ollama,
    OllamaDown,
    OllamaError,
    host_port,
    is_local,
    resolve_host,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.logs import death_reason
from naptha_tui.backends.servers.managed import ManagedProcess, Spawn, poll_until, state_file
from naptha_tui.backends.servers.ports import check_free
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord

DAEMON_NAME = "ollama"
"""The daemon's name in the state file's ``servers`` map (and for ``down``)."""
START_TIMEOUT_S = 30.0
"""``ollama serve`` answers within a second or two; it loads no model at start."""
PROBE_TIMEOUT_S = 2.0

DaemonStatus = Literal["external", "managed", "down"]


@dataclass(frozen=True)
class DaemonState:
    """Where the node's Ollama daemon stands (plain data, for the CLI and the panel)."""

    status: DaemonStatus
    """``external``: someone else's daemon answers; ``managed``: ours (started by the node)
    answers; ``down``: none answers (``reason`` says why and what to do)."""
    host: str
    """The daemon's base URL, ``http://host:port``."""
    version: str | None = None
    reason: str | None = None
    pid: int | None = None
    """The managed daemon's pid."""
    log_path: Path | None = None
    """The managed daemon's log."""
    started: bool = False
    """This call started it."""

    @property
    def up(self) -> bool:
        """Whether a daemon answers."""
        return self.status != "down"

    def to_json(self) -> dict[str, Any]:
        """The ``ollama status --json`` document."""
        return {
            "status": self.status,
            "host": self.host,
            "version": self.version,
            "reason": self.reason,
            "pid": self.pid,
            "log_path": str(self.log_path) if self.log_path else None,
            "started": self.started,
        }

    def require(self) -> DaemonState:
        """This state if a daemon answers.

        Raises:
            NapthaError: none answers; the message is the reason.
        """
        if not self.up:
            raise NapthaError(self.reason or f"no Ollama daemon answers at {self.host}")
        return self


def managed_record(paths: Paths) -> ProcessRecord | None:
    """The daemon this node started (its state-file record), alive or not."""
    record = state_file(paths).load().servers.get(DAEMON_NAME)
    return record if record is not None and record.kind == "ollama" else None


@dataclass(frozen=True)
class _Seen:
    version: str | None
    why: str | None = None
    foreign: bool = False
    """Something answers, but not as Ollama does (the port is not free for a daemon either)."""


async def _probe(host: str) -> _Seen:
    """What answers at ``host`` (never raises)."""
    async with Ollama(host, timeout=PROBE_TIMEOUT_S) as client:
        try:
            return _Seen(await client.version())
        except OllamaDown as exc:
            return _Seen(None, str(exc))
        except OllamaError as exc:
            why = f"something answers at {host}, but it is not an Ollama daemon: {exc}"
            return _Seen(None, why, foreign=True)


def _ours(record: ProcessRecord | None, host: str) -> ProcessRecord | None:
    """The live managed daemon, if it is the one at ``host``."""
    if record is None or not ManagedProcess(record).alive:
        return None
    h, port = host_port(host)
    return record if (record.host, record.port) == (h, port) else None


async def daemon_state(settings: Settings, paths: Paths) -> DaemonState:
    """Probe the daemon at the configured host; starts nothing.

    Args:
        settings: ``ollama.host`` (else ``OLLAMA_HOST``, else ``http://127.0.0.1:11434``).
        paths: the node's folders (its state file says whether the daemon is ours).
    """
    return (await _state(settings, paths))[0]


async def _state(settings: Settings, paths: Paths) -> tuple[DaemonState, _Seen]:
    host = resolve_host(settings.ollama.host)
    seen = await _probe(host)
    ours = _ours(managed_record(paths), host)
    if seen.version is not None:
        if ours is not None:
            managed = DaemonState(
                "managed", host, seen.version, pid=ours.pid, log_path=ours.log_path
            )
            return managed, seen
        return DaemonState("external", host, seen.version), seen
    if ours is not None:
        mute = DaemonState(
            "down",
            host,
            reason=f"{seen.why}; the node's ollama serve (pid {ours.pid}) is running but does "
            f"not answer (log {ours.log_path})",
            pid=ours.pid,
            log_path=ours.log_path,
        )
        return mute, seen
    return DaemonState("down", host, reason=_down_reason(settings, host, seen)), seen


def _down_reason(settings: Settings, host: str, seen: _Seen) -> str:
    """Why nothing answers and why none was (or would be) started."""
    base = seen.why or f"no Ollama daemon answers at {host}"
    if seen.foreign:
        return base
    if not is_local(host):
        return f"{base} (not a loopback address, so the node does not start one there)"
    if not settings.ollama.manage:
        return f"{base} (ollama.manage is off: start `ollama serve` yourself)"
    if shutil.which("ollama") is None:
        return f"{base} and no `ollama` binary is on PATH"
    return base


async def ensure_daemon(
    settings: Settings, paths: Paths, start_timeout: float = START_TIMEOUT_S
) -> DaemonState:
    """A daemon that answers: the one running, or ``ollama serve`` started as the node's.

    Args:
        settings: ``ollama.host`` and ``ollama.manage``; ``stop_grace_seconds`` for a failed
            start.
        paths: the node's folders (state file, log folder).
        start_timeout: seconds a started daemon has to answer ``/api/version``.

    Returns:
        ``external`` or ``managed`` (``started`` when this call started it), or ``down`` with
        the reason. Never raises for a daemon that is down; :meth:`DaemonState.require` does.
    """
    seen, probed = await _state(settings, paths)
    if seen.up:
        return seen
    if seen.pid is not None:  # ours, still starting (another call started it) or wedged
        return await poll_until(
            lambda: daemon_state(settings, paths),
            lambda s: s.up or s.pid is None,
            start_timeout,
            0.2,
        )
    host = seen.host
    binary = shutil.which("ollama")
    if probed.foreign or not (settings.ollama.manage and is_local(host) and binary is not None):
        return seen
    try:
        return await _start(settings, paths, host, binary, start_timeout)
    except NapthaError as exc:  # the port is taken by something that is not Ollama
        return DaemonState("down", host, reason=f"{seen.reason}; cannot start ollama serve: {exc}")


async def _start(
    settings: Settings, paths: Paths, host: str, binary: str, timeout: float
) -> DaemonState:
    h, port = host_port(host)
    state = state_file(paths)
    other = state.load().servers.get(DAEMON_NAME)
    if other is not None and other.kind != "ollama":
        raise NapthaError(
            f"a server named {DAEMON_NAME!r} is already recorded (preset {other.preset}); "
            f"stop it with `naptha-tui down {DAEMON_NAME}`"
        )
    check_free(port, h, "settings ollama.host")
    env = dict(os.environ)
    env["OLLAMA_HOST"] = f"[{h}]:{port}" if ":" in h else f"{h}:{port}"
    daemon = ManagedProcess.start(
        paths,
        Spawn(
            name=DAEMON_NAME,
            kind="ollama",
            argv=[binary, "serve"],
            env=env,
            host=h,
            port=port,
            cwd=paths.ensure(paths.state_dir),
            startup_timeout=timeout,
        ),
    )
    record = daemon.record
    with state.update() as current:
        current.servers[DAEMON_NAME] = record

    async def poll() -> tuple[_Seen, bool]:
        return await _probe(host), daemon.alive

    seen, alive = await poll_until(
        poll, lambda got: got[0].version is not None or not got[1], timeout, 0.2
    )
    version, why = seen.version, seen.why
    if version is not None:
        with state.update() as current:
            if DAEMON_NAME in current.servers:
                current.servers[DAEMON_NAME].ready_at = time.time()
        return DaemonState(
            "managed", host, version, pid=record.pid, log_path=record.log_path, started=True
        )
    if alive:
        reason = f"ollama serve (pid {record.pid}) did not answer within {timeout:.0f} s: {why}"
    else:
        reason = f"ollama serve exited: {death_reason(record.log_path)}"
    await _forget(settings, paths, record)
    return DaemonState("down", host, reason=f"{reason} (log {record.log_path})")


async def _forget(settings: Settings, paths: Paths, record: ProcessRecord) -> None:
    """Stop the managed daemon and drop its record."""
    await ManagedProcess(record).stop(settings.stop_grace_seconds, paths)
    with state_file(paths).update() as current:
        found = current.servers.get(DAEMON_NAME)
        if found is not None and found.pid == record.pid:
            current.servers.pop(DAEMON_NAME)


async def stop_daemon(settings: Settings, paths: Paths) -> bool:
    """Stop the daemon the node started (an external one is never touched).

    Returns:
        False if the node had not started one.
    """
    record = managed_record(paths)
    if record is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        await _forget(settings, paths, record)
    return True
