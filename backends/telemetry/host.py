"""Host CPU and memory, and the memory of each server's process tree, through psutil."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class HostSample:
    """The machine at one instant."""

    cpu_count: int
    cpu_pct: float
    memory_total: int
    memory_used: int
    load_1m: float
    memory_available: int = 0
    """What a new process can take without swapping (psutil's ``available``)."""


def read_host() -> HostSample:
    """CPU use since the previous call (the first call reads 0.0) and memory in use."""
    memory = psutil.virtual_memory()
    return HostSample(
        cpu_count=psutil.cpu_count() or 1,
        cpu_pct=psutil.cpu_percent(interval=None),
        memory_total=memory.total,
        memory_used=memory.total - memory.available,
        load_1m=psutil.getloadavg()[0],
        memory_available=memory.available,
    )


@dataclass(frozen=True)
class TreeMemory:
    """A server's processes: the leader and every descendant (EngineCore, TP workers)."""

    pids: tuple[int, ...]
    rss_bytes: int
    """Resident memory summed over the tree (pages shared after fork count in each process,
    as ``ps`` and nvitop show them)."""


def tree_memory(pid: int) -> TreeMemory | None:
    """The process tree under ``pid`` and its resident memory; None when ``pid`` is gone."""
    try:
        leader = psutil.Process(pid)
        members = [leader, *leader.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    pids, rss = [], 0
    for p in members:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            rss += p.memory_info().rss
            pids.append(p.pid)
    return TreeMemory(tuple(pids), rss) if pids else None
