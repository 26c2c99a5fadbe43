"""The findings of `doctor`, and its checks that need nothing but their inputs.

Each check returns one :class:`Finding`: OK, WARN or FAIL, what was found and what to do. The
checks that share the CPU, the runtimes and the default preset live in
:mod:`naptha_tui.backends.checks.doctor`, which runs all of them.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import psutil

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.install import human_size
from naptha_tui.backends.servers.keys import ServerKeys
from naptha_tui.backends.servers.ports import PortInUse, check_free
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord
from naptha_tui.backends.telemetry.gpu import GpuReport, GpuUnavailable

Level = Literal["ok", "warn", "fail"]
"""``fail`` only for what stops a start; ``warn`` for what is worth fixing."""
LABELS: dict[Level, str] = {"ok": "OK", "warn": "WARN", "fail": "FAIL"}

DISK_WARN_BYTES = 5 * 10**9
"""Free space in the data dir below which doctor warns: the cpu runtime alone is 3.5 GB."""
RAM_WARN_BYTES = 4 * 2**30
"""Available RAM below which doctor warns: the embedded server in float32 holds about this
much (the engine ~1.5 GiB, a 2 GiB KV cache, 0.5 GiB of weights)."""
GIB = 2**30


@dataclass(frozen=True)
class Finding:
    """One line of the report."""

    name: str
    level: Level
    summary: str
    """What was found, with the figures."""
    advice: str | None = None
    """What to do (a command to run, a setting to change); None when nothing."""

    def to_json(self) -> dict[str, Any]:
        """``{"name", "level", "summary", "advice"}``."""
        return asdict(self)

    def line(self, width: int = 0) -> str:
        """``OK   name  summary``, ``WARN name  summary — advice`` (name padded to ``width``)."""
        text = f"{LABELS[self.level]:<4} {self.name:<{width}}  {self.summary}"
        return f"{text} — {self.advice}" if self.advice else text


def render(findings: Sequence[Finding]) -> list[str]:
    """The text report: one line per finding, names aligned."""
    width = max((len(f.name) for f in findings), default=0)
    return [f.line(width) for f in findings]


def gib(n: int) -> str:
    """Bytes as ``23.4 GiB``."""
    return f"{n / GIB:.1f} GiB"


class ProxyView(Protocol):
    """What doctor asks of the proxy (``ProxyManager`` is one; it lives a layer up)."""

    @property
    def key_file(self) -> Path: ...
    def live(self) -> tuple[ProcessRecord | None, bool]: ...
    def check_bind(self) -> None: ...


def check_memory() -> Finding:
    """RAM available now for a new server."""
    memory = psutil.virtual_memory()
    text = f"{gib(memory.available)} of {gib(memory.total)} RAM available"
    if memory.available < RAM_WARN_BYTES:
        return Finding(
            "memory",
            "warn",
            f"{text}; the embedded server needs about {gib(RAM_WARN_BYTES)}",
            "stop what holds it (`naptha-tui status` names the node's servers)",
        )
    return Finding("memory", "ok", text)


def check_gpu(report: GpuReport) -> Finding:
    """GPUs through NVML, or why there are none (no GPU is fine: cpu presets need none)."""
    if isinstance(report, GpuUnavailable):
        return Finding("gpu", "ok", f"no NVIDIA GPU: {report.reason}; cpu presets serve on the CPU")
    parts = []
    for s in report:
        if s.error:
            parts.append(f"{s.index}: {s.error}")
        elif s.memory_total is not None:
            used = gib(s.memory_used) if s.memory_used is not None else "?"
            parts.append(f"{s.index}: {s.name} ({used} of {gib(s.memory_total)} used)")
        else:
            parts.append(f"{s.index}: {s.name}")
    text = f"{len(report)} GPU{'s' if len(report) != 1 else ''}: " + "; ".join(parts)
    if any(s.error for s in report):
        return Finding("gpu", "warn", text, "check the driver with `nvidia-smi`")
    return Finding("gpu", "ok", text)


def check_disk(paths: Paths) -> Finding:
    """Free space where runtimes and models go (the data dir, or its nearest parent)."""
    folder = where = paths.data_dir
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        usage = shutil.disk_usage(where)
    except OSError as exc:
        return Finding("disk", "warn", f"cannot read {where}: {exc.strerror or exc}")
    text = f"{human_size(usage.free)} free in {folder} (of {human_size(usage.total)})"
    if usage.free < DISK_WARN_BYTES:
        return Finding(
            "disk",
            "warn",
            f"{text}; the cpu runtime takes 3.5 GB, the embedded model 0.3 GB",
            "free space there, or move the data dir with NAPTHA_TUI_DATA_DIR",
        )
    return Finding("disk", "ok", text)


def check_proxy_port(paths: Paths, settings: Settings, proxy: ProxyView) -> Finding:
    """The proxy's address: allowed, and free or held by the node's own proxy."""
    host, port = settings.proxy.host, settings.proxy.port
    try:
        proxy.check_bind()
    except NapthaError as exc:
        return Finding("proxy port", "fail", str(exc), "set proxy.master_key_env or bind 127.0.0.1")
    record, alive = proxy.live()
    if record is not None and alive and record.port == port:
        return Finding("proxy port", "ok", f"{port} on {host}: the node's proxy (pid {record.pid})")
    try:
        check_free(port, host, "settings proxy.port")
    except PortInUse as exc:
        return Finding(
            "proxy port",
            "fail",
            str(exc),
            f"stop that program, or set proxy.port in {paths.config_file} "
            "(or NAPTHA_TUI_PROXY__PORT)",
        )
    return Finding("proxy port", "ok", f"{port} on {host} is free")


def check_key_files(paths: Paths, settings: Settings, proxy: ProxyView) -> Finding:
    """The proxy's master key and the servers' keys: 0600, in 0700 folders."""
    env = settings.proxy.master_key_env
    master = proxy.key_file
    keys = ServerKeys(paths).dir
    servers = sorted(keys.glob("*.key")) if keys.is_dir() else []
    if env is not None and os.environ.get(env):
        where = f"the master key comes from ${env}"
        files = servers
    elif master.exists():
        where = f"{master}: mode 0600"
        files = [master, *servers]
    else:
        where = f"{master} not made yet (the proxy's first start makes it, 0600)"
        files = servers
    folders = {f.parent for f in files}
    wrong: list[tuple[Path, int, int]] = []
    for item, want in [*((f, 0o600) for f in files), *((d, 0o700) for d in sorted(folders))]:
        try:
            mode = stat.S_IMODE(item.stat().st_mode)
        except OSError:
            continue  # removed meanwhile
        if mode != want:
            wrong.append((item, mode, want))
    if not wrong:
        extra = f", {len(servers)} server key(s) 0600" if servers else ""
        return Finding("key file", "ok", where + extra)
    text = "; ".join(f"{p} has mode {m:04o}, not {w:04o}" for p, m, w in wrong)
    fixes: dict[int, list[str]] = {}
    for p, _, w in wrong:
        fixes.setdefault(w, []).append(str(p))
    advice = " && ".join(f"chmod {w:o} {' '.join(ps)}" for w, ps in fixes.items())
    return Finding("key file", "warn", f"{text} (other users may read the keys)", advice)
