"""The CPU this node runs on, and the dtype the cpu runtime should use on it.

vLLM-CPU runs bfloat16 natively only where the CPU has AVX512_BF16 or AMX (x86) or the BF16
extension (Arm); elsewhere PyTorch emulates it and a small model runs 3-4x slower end to end
than in float32 (measured on AVX2: 0.29 against 1.04 req/s; pytorch PR #86550). So ``dtype:
auto`` on the cpu runtime resolves here, from the flags the kernel reports, once per process.

The runtime's own torch (what vLLM will see) is asked once per install and cached beside the
runtime (``cpu.json``): it costs an ``import torch``, seconds, so only ``doctor`` asks for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import psutil

CPUINFO = Path("/proc/cpuinfo")
CPUINFO_ENV = "NAPTHA_TUI_CPUINFO"
"""Read this file instead of ``/proc/cpuinfo`` (a recorded one: what would this node do on that
CPU? The tests use it; RAM and cores stay this machine's)."""
NODE_DIR = Path("/sys/devices/system/node")

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""x86 flags that mean native bfloat16 (Cooper Lake, Zen 4 and later; Sapphire Rapids' AMX)."""
ARM_BF16_FLAG = "bf16"
"""Arm's BF16 extension, in the ``Features`` line (Graviton 3, Neoverse V1/N2)."""
SHOWN_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile", "bf16")
"""The flags ``doctor`` and ``status`` report (the rest say nothing about vLLM's speed)."""

FLOAT32_SPEEDUP = "3.6-5.5x"
"""Measured on AVX2 (SmolLM2-135M, `bench --server`, concurrency 4 and 8): float32 over emulated
bfloat16 in requests/s (benchmarks/README.md, cpu_default.py)."""


@dataclass(frozen=True)
class CpuInfo:
    """What the kernel says about the CPU, and how much of it this process may use."""

    model: str
    flags: frozenset[str]
    arch: str
    """``x86_64``, ``aarch64`` ..."""
    cores: int
    """Logical CPUs this process may run on (its affinity), what vLLM's ``auto`` binding uses."""
    cpu_ids: tuple[int, ...]
    """Their ids, in order (what ``VLLM_CPU_OMP_THREADS_BIND`` lists)."""
    physical_cores: int | None
    numa_nodes: int
    ram_bytes: int

    @property
    def native_bf16(self) -> bool:
        """Whether bfloat16 runs on the CPU's own instructions rather than emulated."""
        return any(f in self.flags for f in (*BF16_FLAGS, ARM_BF16_FLAG))

    @property
    def isa(self) -> str:
        """The widest vector extension worth naming: ``AMX``, ``AVX512_BF16``, ``AVX2`` ..."""
        for flag, name in (
            ("amx_bf16", "AMX"),
            ("avx512_bf16", "AVX512_BF16"),
            ("avx512f", "AVX512"),
            ("avx2", "AVX2"),
            ("bf16", "NEON_BF16"),
            ("asimd", "NEON"),
        ):
            if flag in self.flags:
                return name
        return "baseline"

    def shown_flags(self) -> list[str]:
        """The flags that matter to vLLM-CPU, in a fixed order."""
        return [f for f in SHOWN_FLAGS if f in self.flags]

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json`` (flags limited to those that matter)."""
        doc = asdict(self)
        doc["flags"] = self.shown_flags()
        doc["isa"] = self.isa
        doc["native_bf16"] = self.native_bf16
        return doc


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str]]:
    """The model name and the flags of the first processor in ``/proc/cpuinfo``'s text.

    x86 says ``model name`` and ``flags``; Arm says ``Features`` (and often no model name, only
    ``CPU part``).
    """
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.split())
        elif not line.strip() and model and flags:
            break  # the first processor is enough: every core reports the same
    return model, flags


def _numa_nodes() -> int:
    try:
        return max(1, sum(1 for p in NODE_DIR.glob("node[0-9]*") if p.is_dir()))
    except OSError:
        return 1


def _usable_cpus() -> tuple[int, ...]:
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return tuple(range(os.cpu_count() or 1))


def read_cpu(cpuinfo: Path = CPUINFO) -> CpuInfo:
    """Read the CPU now (see :func:`this_cpu` for the cached reading)."""
    try:
        model, flags = parse_cpuinfo(cpuinfo.read_text(errors="replace"))
    except OSError:
        model, flags = "", frozenset()
    cpus = _usable_cpus()
    return CpuInfo(
        model=model or "unknown CPU",
        flags=flags,
        arch=os.uname().machine,
        cores=len(cpus),
        cpu_ids=cpus,
        physical_cores=psutil.cpu_count(logical=False),
        numa_nodes=_numa_nodes(),
        ram_bytes=psutil.virtual_memory().total,
    )


def this_cpu() -> CpuInfo:
    """This machine's CPU, read once per process (it does not change while we run).

    ``NAPTHA_TUI_CPUINFO`` names another cpuinfo file to read instead.
    """
    return _cpu_from(os.environ.get(CPUINFO_ENV) or str(CPUINFO))


@lru_cache(maxsize=4)
def _cpu_from(path: str) -> CpuInfo:
    return read_cpu(Path(path))


@dataclass(frozen=True)
class DtypeChoice:
    """The dtype a server is started with, and why (shown by status, presets show, the panel)."""

    value: str | None
    """What ``--dtype`` gets; None renders no flag (vLLM's own default)."""
    reason: str
    warning: str | None = None
    """Set when the preset's explicit dtype is emulated on this CPU (``presets check``)."""

    def to_json(self) -> dict[str, Any]:
        """``{"dtype": ..., "reason": ..., "warning": ...}``."""
        return {"dtype": self.value, "reason": self.reason, "warning": self.warning}


def cpu_dtype(asked: str | None, cpu: CpuInfo) -> DtypeChoice:
    """The dtype for a server of the cpu runtime that asked for ``asked`` (None: unset).

    ``auto`` (or unset) is bfloat16 where bfloat16 is native, float32 elsewhere; an explicit
    half-precision dtype the CPU emulates is kept, with a warning saying what it costs.
    """
    native = [f for f in (*BF16_FLAGS, ARM_BF16_FLAG) if f in cpu.flags]
    if asked in (None, "auto"):
        if native:
            return DtypeChoice("bfloat16", f"auto: native bfloat16 on this CPU ({native[0]})")
        return DtypeChoice(
            "float32",
            f"auto: this CPU ({cpu.isa}) has no avx512_bf16 or amx_bf16, so bfloat16 would be "
            f"emulated; float32 runs {FLOAT32_SPEEDUP} faster here",
        )
    choice = DtypeChoice(asked, "set in the preset")
    if asked == "bfloat16" and not native:
        warning = (
            f"bfloat16 is emulated on this CPU ({cpu.isa}, no avx512_bf16 or amx_bf16): "
            f"expect {FLOAT32_SPEEDUP} less throughput than float32; use dtype: auto"
        )
        return DtypeChoice(asked, choice.reason, warning)
    if asked in ("float16", "half") and not {"avx512_fp16", "amx_fp16"} & cpu.flags:
        warning = (
            f"float16 is emulated on this CPU ({cpu.isa}, no avx512_fp16 or amx_fp16) and vLLM-CPU "
            "converts it with a cost; use dtype: auto"
        )
        return DtypeChoice(asked, choice.reason, warning)
    return choice


# -- the runtime's own view (what vLLM will see) ---------------------------------------------

TORCH_PROBE = (
    "import json, torch; "
    "print(json.dumps({'torch': torch.__version__, "
    "'capability': torch.backends.cpu.get_cpu_capability(), "
    "'threads': torch.get_num_threads()}))"
)


def runtime_torch(python: Path, cache: Path, stamp: str) -> dict[str, Any] | None:
    """The runtime's torch version and CPU capability, cached in ``cache`` under ``stamp``.

    Args:
        python: the runtime's interpreter.
        cache: the file that keeps the answer (beside the runtime's ready marker).
        stamp: what the answer is valid for (the install's marker); another stamp asks again.

    Returns:
        ``{"torch", "capability", "threads"}``, or None when the runtime cannot answer.
    """
    try:
        kept = json.loads(cache.read_text())
        if kept.get("stamp") == stamp:
            return dict(kept["torch"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    try:
        done = subprocess.run(
            [str(python), "-c", TORCH_PROBE],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return None
    if not isinstance(answer, dict):
        return None
    with contextlib.suppress(OSError):  # a read-only data dir: ask again next time
        cache.write_text(json.dumps({"stamp": stamp, "torch": answer}))
    return answer
