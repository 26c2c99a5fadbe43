"""One lifecycle for every child process the node starts: model servers, the proxy, a daemon.

A model server, the LiteLLM proxy and an Ollama daemon differ in their command line and their
readiness probe, not in how they are spawned, recognised, stopped, judged and waited for. That
shared part is here, once:

* :meth:`ManagedProcess.start` spawns a command in its own session (it outlives the panel), its
  output in a 0600 log file in the 0700 log folder (the previous run's log kept as ``.log.1``),
  and marks it with the node and its own record in its environment, so a node whose state file
  was lost can find its children again (:func:`adoptable`).
* :attr:`ManagedProcess.alive` is pid + start time + command line (a recycled pid is not ours).
* :meth:`ManagedProcess.stop` is SIGTERM to the group, SIGKILL after the grace period, and
  also stops what a killed leader left behind (vLLM's engine core).
* :meth:`ManagedProcess.judge` is the status rule, a pure function of what was observed.
* :func:`poll_until` is the wait-until-ready loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import psutil
from pydantic import ValidationError

from naptha_tui.backends.commandlog import (
    CommandLog,
    env_words,
    exec_line,
    outcome_of,
    secret_values,
    signal_line,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers import procs
from naptha_tui.backends.servers.logs import death_reason, loading_reason
from naptha_tui.backends.state import NodeState, ProcessKind, ProcessRecord, StateFile

Status = Literal["starting", "ready", "sleeping", "unhealthy", "crashed", "stopped", "down"]
"""``down`` is a remote node that does not answer (there is no process to crash); ``sleeping``
a server in vLLM's sleep mode (alive, its memory released, out of the proxy)."""

NODE_ENV = "NAPTHA_TUI_NODE"
"""Set in every child's environment: the state folder of the node that started it."""
RECORD_ENV = "NAPTHA_TUI_RECORD"
"""Set in every child's environment: its record as JSON (without pid), for re-adoption."""
_NOT_IN_ENV = {"pid", "create_time", "ready_at", "desired"}


def _named(kind: ProcessKind, name: str) -> str:
    """A child as the command log names it: ``server NAME``, ``proxy``, ``ollama daemon``."""
    return {"vllm": f"server {name}", "proxy": "proxy", "ollama": "ollama daemon"}[kind]


T = TypeVar("T")


def node_id(paths: Paths) -> str:
    """What marks a child as this node's: its state folder (two nodes never share one)."""
    return str(paths.state_dir.resolve())


@dataclass(frozen=True)
class Spawn:
    """What to start: the command and what its record says about it."""

    name: str
    kind: ProcessKind
    argv: Sequence[str]
    env: Mapping[str, str]
    host: str
    port: int
    cwd: Path
    startup_timeout: float
    fields: dict[str, Any] = field(default_factory=dict)
    """More record fields (preset, model, served_model_name, runtime, default_params)."""
    secrets_from: dict[str, str] = field(default_factory=dict)
    """Where each secret variable of ``env`` comes from (``commandlog.from_file``...): the
    command log writes that, never the value."""
    cpus: frozenset[int] | None = None
    """The CPUs it starts on (``servers/affinity.py``); None: wherever this process may run."""


class ManagedProcess:
    """A child process the node started, known by its record."""

    def __init__(self, record: ProcessRecord) -> None:
        self.record = record

    @classmethod
    def start(cls, paths: Paths, spec: Spawn) -> ManagedProcess:
        """Spawn ``spec`` (never through a shell) and return it; the caller records it."""
        log_dir = paths.ensure(paths.log_dir, private=True)
        log_path = log_dir / f"{spec.name}.log"
        if log_path.exists():  # keep the previous run's log for post-mortems
            log_path.replace(log_path.with_suffix(".log.1"))
        draft = ProcessRecord(
            name=spec.name,
            kind=spec.kind,
            pid=0,
            create_time=0.0,
            argv=list(spec.argv),
            host=spec.host,
            port=spec.port,
            log_path=log_path,
            started_at=time.time(),
            startup_timeout=spec.startup_timeout,
            **spec.fields,
        )
        env = {
            **spec.env,
            NODE_ENV: node_id(paths),
            RECORD_ENV: draft.model_dump_json(exclude=_NOT_IN_ENV),
        }
        words = env_words(spec.env, sources=spec.secrets_from)

        def said(outcome: str, ok: bool = True) -> None:
            CommandLog(paths).record(
                f"start {_named(spec.kind, spec.name)}",
                "exec",
                exec_line(spec.argv, words),
                outcome,
                ok,
                argv=spec.argv,
                env=words,
                cwd=spec.cwd,
                secrets=secret_values(spec.env),
            )

        try:
            proc = procs.spawn(spec.argv, log_path, env, spec.cwd, spec.cpus)
        except OSError as exc:
            said(outcome_of(exc), ok=False)
            raise
        on = f", on CPUs {','.join(map(str, sorted(spec.cpus)))}" if spec.cpus else ""
        said(f"started pid {proc.pid} (log {log_path}{on})")
        record = draft.model_copy(update={"pid": proc.pid, "create_time": proc.create_time()})
        return cls(record)

    def process(self) -> psutil.Process | None:
        """The live process, or None when it is gone or its pid was recycled."""
        r = self.record
        return procs.find_ours(r.pid, r.create_time, r.argv)

    @property
    def alive(self) -> bool:
        """Whether the process we started is still running."""
        return self.process() is not None

    async def stop(self, grace_s: float, paths: Paths | None = None) -> None:
        """SIGTERM its process group, SIGKILL after ``grace_s``; also what a dead leader left.

        With ``paths``, the signals sent are recorded in the node's command log.
        """
        r = self.record
        what = f"stop {_named(r.kind, r.name)}"
        proc = self.process()
        if proc is not None:
            began = time.monotonic()
            killed = await procs.terminate(proc, grace_s)
            if paths is not None:
                took = time.monotonic() - began
                CommandLog(paths).record(
                    what,
                    "signal",
                    signal_line("TERM", [proc.pid], group=True),
                    f"SIGKILL after {grace_s:.0f} s" if killed else f"stopped in {took:.1f} s",
                )
            return
        # the leader died (kill -9, a crash); its engine core may still hold memory and a core
        left = procs.leftovers(r.pid, r.create_time)
        if left:
            await procs.terminate_all(left, grace_s)
            if paths is not None:
                CommandLog(paths).record(
                    f"{what} (what its dead leader left)",
                    "signal",
                    signal_line("TERM", [p.pid for p in left]),
                    f"{len(left)} process(es) stopped",
                )

    def judge(
        self, alive: bool, probe_ok: bool | None, probe_error: str | None, now: float
    ) -> tuple[Status, str | None]:
        """The status rule, from what was observed; the reason says why it is not ready.

        A start in progress is not a fault: its reason is ``loading 42 s: <the log's last
        line>``, never the probe's refused connection.
        """
        r = self.record
        if r.desired == "stopped" and not alive:
            return "stopped", None
        if not alive:
            return "crashed", death_reason(r.log_path)
        if probe_ok:
            return "ready", None
        if r.ready_at is None and now - r.started_at < r.startup_timeout:
            return "starting", loading_reason(r.log_path, now - r.started_at)
        return "unhealthy", probe_error


async def poll_until(
    poll: Callable[[], Awaitable[T]],
    settled: Callable[[T], bool],
    timeout: float,
    poll_s: float = 1.0,
) -> T:
    """Call ``poll`` every ``poll_s`` until ``settled`` says so or ``timeout``; the last result."""
    deadline = time.monotonic() + timeout
    while True:
        seen = await poll()
        if settled(seen) or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(poll_s)


def adoptable(paths: Paths) -> list[ProcessRecord]:
    """Live children this node started, rebuilt from the marks in their environment.

    Only a session leader counts (the process we spawned; its children inherit the marks), and
    only one whose mark names this node's state folder. Processes of other users are skipped.
    """
    me = node_id(paths)
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) != p.pid:
                continue
            env = p.environ()
            if env.get(NODE_ENV) != me or RECORD_ENV not in env:
                continue
            fields = json.loads(env[RECORD_ENV])
            record = ProcessRecord.model_validate(
                {**fields, "pid": p.pid, "create_time": p.create_time()}
            )
        except (psutil.Error, OSError, ValueError, ValidationError):
            continue
        if ManagedProcess(record).alive:
            found.append(record)
    return found


def adopt(paths: Paths) -> NodeState:
    """The state rebuilt from this node's live children (servers and proxy; remotes are lost)."""
    state = NodeState()
    for record in sorted(adoptable(paths), key=lambda r: r.name):
        if record.kind == "proxy":
            state.proxy = record
        else:
            state.servers[record.name] = record
    return state


def state_file(paths: Paths) -> StateFile:
    """The node's state file, which finds the node's children again if it is unreadable."""
    return StateFile(paths.state_file, recover=lambda: adopt(paths))
