"""Where a new vLLM-CPU server's processes may run while other servers' threads spin.

Importing torch runs MKL's core count (``MKL_Read_ThreadENV_Count_Cores``, from
``at::init_num_threads``), which pins the process to each CPU of its affinity in turn. On a core
where another server's OpenMP thread spins, the probe's process was seen runnable and never
scheduled for minutes (``benchmarks/start_hang.py``: 2 of 5 starts on this 2-core machine, the
engine process ``R`` with 0.3 s of CPU in 4 min, its affinity ``[1]``, the busy server's core):
the start-up "hang" of vLLM-CPU's engine. A process started with a narrower affinity probes only
those CPUs (``strace -k``: ``sched_setaffinity [0]`` three times instead of ``[0]``, ``[1]``), so
a cpu server with an explicit binding starts on the CPUs no other server's workers are bound to.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import psutil

from naptha_tui.backends.servers.vllm import THREADS_BIND_ENV

WORKER_NAME = "VLLM::Worker"
"""What vLLM's worker processes call themselves (``setproctitle``); CPU workers pin their
OpenMP threads, so their affinity is the cores they spin on."""

__all__ = ["WORKER_NAME", "bound_cpus", "busy_cpus", "start_cpus"]


def bound_cpus(env: Mapping[str, str]) -> set[int] | None:
    """The CPUs ``VLLM_CPU_OMP_THREADS_BIND`` names; None where vLLM chooses.

    ``0``, ``0-3``, ``0,2`` and ``0-1|2-3`` name CPUs; unset, ``auto``, ``nobind`` and ``all``
    leave the choice to vLLM.
    """
    spec = env.get(THREADS_BIND_ENV, "").strip()
    if not spec or spec in ("auto", "nobind", "all"):
        return None
    out: set[int] = set()
    try:
        for part in spec.replace("|", ",").split(","):
            lo, _, hi = part.partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        return None  # vLLM says what is wrong with it
    return out


def busy_cpus(pids: Iterable[int]) -> set[int]:
    """The CPUs that the workers of the servers led by ``pids`` are pinned to.

    A worker free to run anywhere (a GPU server's) pins nothing.
    """
    everywhere = set(range(os.cpu_count() or 1))
    out: set[int] = set()
    for pid in pids:
        try:
            tree = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            continue
        for proc in tree:
            try:
                if proc.name() == WORKER_NAME:
                    mine = set(proc.cpu_affinity() or [])
                    if mine and mine != everywhere:
                        out |= mine
            except psutil.Error:
                continue
    return out


def start_cpus(env: Mapping[str, str], busy: set[int]) -> set[int] | None:
    """The affinity to start a server with, or None to leave it as it is.

    Only for an explicit binding that stays clear of ``busy``: every CPU but the busy ones
    (its own cores and the CPUs left to its API server). ``auto`` is vLLM's to resolve, and a
    binding onto a busy core is the preset's choice.
    """
    mine = bound_cpus(env)
    if mine is None or not busy or mine & busy:
        return None
    try:
        allowed = set(os.sched_getaffinity(0))
    except OSError:
        return None
    free = allowed - busy
    return free if free and free != allowed and mine <= free else None
