"""GPU telemetry through NVML that degrades instead of failing.

The only module that imports ``pynvml``. Initialised lazily; a machine with no NVIDIA driver
gives a ``GpuUnavailable`` with the reason, never an exception into the UI. Every NVML call is
guarded on its own: a metric the GPU does not support is None (shown as N/A), a GPU whose handle
cannot be read is a sample with ``error`` set, and nothing NVML raises ends a telemetry loop.

Memory is attributed to our servers by pid: vLLM's API server, its EngineCore and its
tensor-parallel workers are separate processes, and only the workers hold GPU memory, so a
server's share is the sum over its whole process tree (see :func:`attribute`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

RETRY_INIT_S = 60.0
"""After a failed nvmlInit, how long before trying again (a driver loaded later is seen)."""


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    used_bytes: int | None
    """None when the driver does not say (containers without the host's pid namespace)."""


@dataclass(frozen=True)
class GpuSample:
    """One GPU at one instant (all fields read together)."""

    index: int
    name: str
    uuid: str
    memory_total: int | None
    memory_used: int | None
    utilization_pct: int | None
    temperature_c: int | None
    power_w: float | None
    processes: tuple[GpuProcess, ...] = ()
    error: str | None = None
    """Why this GPU could not be read (its other fields are then None)."""

    @property
    def memory_free(self) -> int | None:
        """Total minus used, when both are known."""
        if self.memory_total is None or self.memory_used is None:
            return None
        return self.memory_total - self.memory_used


@dataclass(frozen=True)
class GpuUnavailable:
    """Why no GPU can be read (no driver, no device, no library)."""

    reason: str


GpuReport = list[GpuSample] | GpuUnavailable


class GpuReader:
    """Reads every GPU through NVML; safe to call from a worker thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._unavailable: GpuUnavailable | None = None
        self._failed_at = 0.0
        self._clock = clock

    def _init(self) -> Any:
        if self._nvml is not None:
            return self._nvml
        if self._unavailable is not None and self._clock() - self._failed_at < RETRY_INIT_S:
            return None
        try:
            import pynvml
        except ImportError as exc:  # nvidia-ml-py is a dependency; only a broken install lands here
            return self._fail(GpuUnavailable(f"nvidia-ml-py is not installed ({exc})"))
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            return self._fail(GpuUnavailable(_describe(pynvml, exc)))
        except Exception as exc:  # a broken driver can raise anything through ctypes
            return self._fail(GpuUnavailable(f"NVML failed to start: {exc!r}"))
        self._nvml, self._unavailable = pynvml, None
        return pynvml

    def _fail(self, why: GpuUnavailable) -> None:
        self._unavailable, self._failed_at = why, self._clock()

    def read(self) -> GpuReport:
        """A snapshot of every GPU, or the reason there is none; never raises."""
        with self._lock:
            nvml = self._init()
            if nvml is None:
                assert self._unavailable is not None
                return self._unavailable
            try:
                count = nvml.nvmlDeviceGetCount()
            except Exception as exc:
                return GpuUnavailable(_describe(nvml, exc))
            if count == 0:
                return GpuUnavailable("the NVIDIA driver reports no GPU")
            return [self._sample(nvml, i) for i in range(count)]

    def _sample(self, nvml: Any, index: int) -> GpuSample:
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as exc:  # a lost or unplugged GPU: report it, read the others
            return GpuSample(
                index, "N/A", "", None, None, None, None, None, error=_describe(nvml, exc)
            )

        def q(func: Callable[..., T], *args: Any) -> T | None:
            try:
                return func(handle, *args)
            except Exception:
                return None  # NotSupported and friends: shown as N/A

        memory = q(nvml.nvmlDeviceGetMemoryInfo)
        util = q(nvml.nvmlDeviceGetUtilizationRates)
        power = q(nvml.nvmlDeviceGetPowerUsage)
        name = q(nvml.nvmlDeviceGetName)
        uuid = q(nvml.nvmlDeviceGetUUID)
        return GpuSample(
            index=index,
            name=name.decode() if isinstance(name, bytes) else str(name or "N/A"),
            uuid=uuid.decode() if isinstance(uuid, bytes) else str(uuid or ""),
            memory_total=getattr(memory, "total", None),
            memory_used=getattr(memory, "used", None),
            utilization_pct=getattr(util, "gpu", None),
            temperature_c=q(nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU),
            power_w=power / 1000 if isinstance(power, int | float) else None,
            processes=_processes(
                q(nvml.nvmlDeviceGetComputeRunningProcesses),
                q(nvml.nvmlDeviceGetGraphicsRunningProcesses),
            ),
        )


def _processes(*lists: Any) -> tuple[GpuProcess, ...]:
    """Compute and graphics processes, one entry per pid (NVML lists a CUDA+GL process twice)."""
    seen: dict[int, GpuProcess] = {}
    for procs in lists:
        for p in procs or ():
            used = getattr(p, "usedGpuMemory", None)
            # NVML_VALUE_NOT_AVAILABLE is 2**64 - 1 (unsigned -1): the driver would not say
            if not isinstance(used, int) or used < 0 or used >= 2**63:
                used = None
            pid = int(getattr(p, "pid", -1))
            if pid not in seen or seen[pid].used_bytes is None:
                seen[pid] = GpuProcess(pid, used)
    return tuple(seen.values())


def attribute(report: GpuReport, trees: Mapping[str, Collection[int]]) -> dict[str, dict[int, int]]:
    """GPU memory per server and GPU: ``{server: {gpu index: bytes}}``.

    Args:
        report: one :meth:`GpuReader.read`.
        trees: every pid of each server's process tree (leader, EngineCore, TP workers).

    A process whose memory the driver does not report counts as 0 on that GPU (it is still
    listed, so the server shows up as holding the GPU). Processes of no server are left out:
    :func:`others` totals them.
    """
    if isinstance(report, GpuUnavailable):
        return {}
    owner = {pid: name for name, pids in trees.items() for pid in pids}
    out: dict[str, dict[int, int]] = {}
    for gpu in report:
        for p in gpu.processes:
            name = owner.get(p.pid)
            if name is not None:
                per_gpu = out.setdefault(name, {})
                per_gpu[gpu.index] = per_gpu.get(gpu.index, 0) + (p.used_bytes or 0)
    return out


def others(gpu: GpuSample, ours: Mapping[str, Mapping[int, int]]) -> int | None:
    """Memory used on ``gpu`` by anything that is not one of our servers (driver included)."""
    if gpu.memory_used is None:
        return None
    mine = sum(per_gpu.get(gpu.index, 0) for per_gpu in ours.values())
    return max(0, gpu.memory_used - mine)


def _describe(nvml: Any, exc: Exception) -> str:
    """A short reason for a failed NVML call."""
    if isinstance(exc, getattr(nvml, "NVMLError_LibraryNotFound", ())):
        return "NVML library not found (no NVIDIA driver installed)"
    if isinstance(exc, getattr(nvml, "NVMLError_DriverNotLoaded", ())):
        return "NVIDIA driver not loaded"
    if isinstance(exc, getattr(nvml, "NVMLError_NoPermission", ())):
        return "no permission to query the NVIDIA driver"
    if isinstance(exc, getattr(nvml, "NVMLError_GpuIsLost", ())):
        return "the GPU has fallen off the bus (GPU is lost)"
    return f"NVML error: {exc}"
