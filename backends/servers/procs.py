"""Child processes that outlive the panel: spawn in their own session, recognise, stop.

A pid alone is not an identity: pids are recycled. A process is "ours" only if its pid is alive,
its start time matches the one we recorded, and its command line is the one we started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import psutil

# psutil derives start times from boot time + clock ticks; allow for rounding, not for reuse
_START_TIME_TOLERANCE_S = 1.0


def spawn(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
    cpus: Collection[int] | None = None,
) -> psutil.Process:
    """Start ``argv`` (never through a shell) in a new session, output appended to ``log_path``.

    The log is created 0600: it may hold prompts. ``cpus``: the CPUs it may run on, set at once
    (before the interpreter has imported anything); its children inherit them.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(fd, "ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,  # own session and process group: survives the panel
        )
    if cpus:
        with contextlib.suppress(OSError):  # gone already: its exit status says why
            os.sched_setaffinity(popen.pid, cpus)
    # the Popen object is dropped on purpose: the child is re-found by pid + start time
    return psutil.Process(popen.pid)


def started_at(pid: int, create_time: float) -> psutil.Process | None:
    """The live process ``pid`` if it started at ``create_time`` (else None: gone, recycled)."""
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > _START_TIME_TOLERANCE_S:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(pid)
            return None
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return proc


def find_ours(pid: int, create_time: float, argv: Sequence[str]) -> psutil.Process | None:
    """The live process we started as ``pid`` at ``create_time``, or None if it is gone/recycled.

    A command line that cannot be read while the process still lives, with its start time, is
    a process between two execs (a ``#!/usr/bin/env python3`` script through pyenv's shim
    execs four times before Python runs): ours. Taken for gone, a stop right after a launch
    would stop nothing and the server would run on: the likely way a fake server outlived its
    stop in the unit tests once, holding its port.
    """
    proc = started_at(pid, create_time)
    if proc is None:
        return None
    try:
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return started_at(pid, create_time)
    return proc if _same_command(cmdline, list(argv)) else None


def _same_command(cmdline: list[str], argv: list[str]) -> bool:
    if not cmdline or not argv:
        return True
    # the arguments survive shebangs and shims (`/usr/bin/env python3 script ARGS`)
    if cmdline[-len(argv) + 1 :] == argv[1:] if len(argv) > 1 else cmdline[0] == argv[0]:
        return True
    # setproctitle (vLLM names its processes) rewrites the visible command line
    return len(cmdline) == 1 and not os.path.isabs(cmdline[0])


def _reap(pid: int) -> None:
    """Collect a dead child of this process (only the process that spawned it can)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _group(proc: psutil.Process) -> list[psutil.Process]:
    """The process and all its descendants (vLLM's engine core and workers)."""
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


async def terminate(proc: psutil.Process, grace_s: float) -> bool:
    """SIGTERM the whole process group, then SIGKILL what is left after ``grace_s``.

    Returns:
        True if SIGKILL was needed.
    """
    members = _group(proc)
    pgid = proc.pid  # start_new_session made the leader's pid the group id
    _signal_group(pgid, members, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap(proc.pid)
        if not any(_alive(p) for p in members):
            return False
        await asyncio.sleep(0.1)
    _signal_group(pgid, members, signal.SIGKILL)
    for _ in range(50):
        _reap(proc.pid)
        if not any(_alive(p) for p in members):
            break
        await asyncio.sleep(0.1)
    return True


def leftovers(pgid: int, create_time: float) -> list[psutil.Process]:
    """Live members of the process group of a leader that is gone (killed with -9, say).

    vLLM's engine core can outlive its API server; it keeps the group id, which is the dead
    leader's pid. Only processes started after the leader are counted, so a recycled pid that
    became some other group's id is never touched.
    """
    try:
        if psutil.Process(pgid).status() != psutil.STATUS_ZOMBIE:
            # the kernel reuses no pid still naming a group: a live process holding it means
            # the dead leader's group is empty and this is another (recycled pid) group
            return []
    except psutil.NoSuchProcess:
        pass
    found = []
    for p in psutil.process_iter(["create_time"]):
        try:
            if (
                os.getpgid(p.pid) == pgid
                and p.info["create_time"] >= create_time - _START_TIME_TOLERANCE_S
                and p.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(p)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


async def terminate_all(members: list[psutil.Process], grace_s: float) -> None:
    """SIGTERM ``members``, then SIGKILL what is left after ``grace_s``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in members:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(sig)
        _, members = await asyncio.to_thread(psutil.wait_procs, members, timeout=grace_s)
        if not members:
            return


def _signal_group(pgid: int, members: list[psutil.Process], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for p in members:  # a descendant that left the group (setsid) is still ours to stop
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(sig)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
