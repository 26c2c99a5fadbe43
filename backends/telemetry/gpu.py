"""GPU telemetry through NVML that degrades instead of failing.

The only module that imports ``pynvml``. Initialised lazily once; a machine with no NVIDIA driver
gives a ``GpuUnavailable`` with the reason, never an exception into the UI. Per-metric
``NotSupported`` becomes None (shown as N/A).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    used_bytes: int | None


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


@dataclass(frozen=True)
class GpuUnavailable:
    """Why no GPU can be read (no driver, no device, no library)."""

    reason: str


GpuReport = list[GpuSample] | GpuUnavailable


class GpuReader:
    """Reads every GPU through NVML; safe to call from a worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._unavailable: GpuUnavailable | None = None

    def _init(self) -> Any:
        if self._nvml is not None or self._unavailable is not None:
            return self._nvml
        try:
            import pynvml
        except ImportError as exc:  # nvidia-ml-py is a dependency; only a broken install lands here
            self._unavailable = GpuUnavailable(f"nvidia-ml-py is not installed ({exc})")
            return None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            self._unavailable = GpuUnavailable(_describe(pynvml, exc))
            return None
        self._nvml = pynvml
        return pynvml

    def read(self) -> GpuReport:
        """A snapshot of every GPU, or the reason there is none."""
        with self._lock:
            nvml = self._init()
            if nvml is None:
                assert self._unavailable is not None
                return self._unavailable
            try:
                count = nvml.nvmlDeviceGetCount()
            except nvml.NVMLError as exc:
                return GpuUnavailable(_describe(nvml, exc))
            if count == 0:
                return GpuUnavailable("the NVIDIA driver reports no GPU")
            return [self._sample(nvml, i) for i in range(count)]

    def _sample(self, nvml: Any, index: int) -> GpuSample:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)

        def q(func: Callable[..., T], *args: Any) -> T | None:
            try:
                return func(handle, *args)
            except nvml.NVMLError:
                return None  # NotSupported and friends: shown as N/A

        memory = q(nvml.nvmlDeviceGetMemoryInfo)
        util = q(nvml.nvmlDeviceGetUtilizationRates)
        power = q(nvml.nvmlDeviceGetPowerUsage)
        procs = q(nvml.nvmlDeviceGetComputeRunningProcesses) or []
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
            power_w=power / 1000 if power is not None else None,
            processes=tuple(GpuProcess(p.pid, getattr(p, "usedGpuMemory", None)) for p in procs),
        )


def _describe(nvml: Any, exc: Exception) -> str:
    """A short reason for a failed NVML call."""
    if isinstance(exc, getattr(nvml, "NVMLError_LibraryNotFound", ())):
        return "NVML library not found (no NVIDIA driver installed)"
    if isinstance(exc, getattr(nvml, "NVMLError_DriverNotLoaded", ())):
        return "NVIDIA driver not loaded"
    if isinstance(exc, getattr(nvml, "NVMLError_NoPermission", ())):
        return "no permission to query the NVIDIA driver"
    return f"NVML error: {exc}"
