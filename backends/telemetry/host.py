"""Host CPU and memory, and the memory of each server's process tree, through psutil."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
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
    return trees_memory([pid]).get(pid)


def trees_memory(leaders: Sequence[int]) -> dict[int, TreeMemory]:
    """The tree of each of ``leaders`` (leaders that are gone are left out).

    One scan of the process table serves every tree (``Process.children`` scans it once per
    call): the panel asks for every server's tree every second.
    """
    children: dict[int, list[int]] = {}
    for p in psutil.process_iter(["ppid"]):
        ppid = p.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(p.pid)
    out = {}
    for leader in leaders:
        pids, rss, todo = [], 0, [leader]
        while todo:
            pid = todo.pop(0)
            with contextlib.suppress(
                psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess
            ):
                rss += psutil.Process(pid).memory_info().rss
                pids.append(pid)
                todo += children.get(pid, [])
        if pids and pids[0] == leader:
            out[leader] = TreeMemory(tuple(pids), rss)
    return out


class TreeWatch:
    """Server process trees, re-scanned every ``rescan_s``; RSS read every call.

    Finding a tree scans the whole process table (every ``/proc/*/stat``); a server's tree
    only changes when it starts its workers, so between scans only its known pids are read.
    """

    def __init__(self, rescan_s: float = 10.0) -> None:
        self.rescan_s = rescan_s
        self._pids: dict[int, tuple[tuple[int, ...], float]] = {}

    def read(self, leaders: Sequence[int], now: float) -> dict[int, TreeMemory]:
        """The tree of each live leader, as :func:`trees_memory` finds it."""
        stale = [
            p for p in leaders if p not in self._pids or now - self._pids[p][1] >= self.rescan_s
        ]
        out = trees_memory(stale) if stale else {}
        for leader, tree in out.items():
            self._pids[leader] = (tree.pids, now)
        for leader in leaders:
            if leader in out or leader not in self._pids:
                continue
            pids, rss = [], 0
            for pid in self._pids[leader][0]:
                with contextlib.suppress(psutil.Error):
                    rss += psutil.Process(pid).memory_info().rss
                    pids.append(pid)
            if pids and pids[0] == leader:
                out[leader] = TreeMemory(tuple(pids), rss)
            else:
                self._pids.pop(leader, None)  # gone, or its tree changed: scan next time
        for leader in [p for p in self._pids if p not in leaders]:
            del self._pids[leader]
        return out
