"""Host CPU and memory, through psutil."""

from __future__ import annotations

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


def read_host() -> HostSample:
    """CPU use since the previous call (the first call reads 0.0) and memory in use."""
    memory = psutil.virtual_memory()
    return HostSample(
        cpu_count=psutil.cpu_count() or 1,
        cpu_pct=psutil.cpu_percent(interval=None),
        memory_total=memory.total,
        memory_used=memory.total - memory.available,
        load_1m=psutil.getloadavg()[0],
    )
