"""`doctor`: what this machine offers and what the node will do with it.

A list of checks, each giving one :class:`Finding` that says OK, WARN or FAIL and what to do.
FAIL is kept for what stops the node's default start (``make run``: the embedded preset on the
cpu runtime behind the proxy): a runtime or the model not installed, the proxy's port taken by
another program. Everything else worth fixing is a WARN. ``naptha-tui doctor`` prints the
findings; the panel's Doctor screen shows the same ones.

The checks are cheap but two: the runtime's own torch (:func:`runtime_torch`, an ``import
torch`` the first time per install, then cached beside the runtime) and the float32 against
bfloat16 matmul in the cpu runtime (:mod:`naptha_tui.backends.telemetry.matmul`, seconds). The
command waits for both; the screen runs them in a worker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from naptha_tui.backends.checks.doctor_checks import (
    Finding,
    Level,
    ProxyView,
    check_disk,
    check_gpu,
    check_key_files,
    check_memory,
    check_proxy_port,
    gib,
    render,
)
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset, PresetCatalog
from naptha_tui.backends.runtimes.models import EMBEDDED, is_prepared
from naptha_tui.backends.runtimes.runtime import Runtime, all_runtimes, get_runtime
from naptha_tui.backends.servers.vllm import dtype_choice
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.cpu import (
    CpuInfo,
    DtypeChoice,
    cpu_dtype,
    runtime_torch,
    this_cpu,
)
from naptha_tui.backends.telemetry.gpu import GpuReader, GpuReport, GpuUnavailable
from naptha_tui.backends.telemetry.matmul import SHAPE, Matmul, MatmulFailed, run_matmul

__all__ = ["Doctor", "Finding", "ProxyView", "Report", "render", "with_matmul"]

DEFAULT_PRESET = "smollm2-cpu"
"""What ``make run`` starts (the Makefile's ``PRESET``): its runtime and model must be there."""
CPU_RUNTIME = "cpu"
"""The runtime whose torch is asked and whose Python runs the matmul."""
SLOWER_NATIVE_RATIO = 1.2
"""A native bfloat16 more than this much slower than float32 is worth a word."""


class GpuSource(Protocol):
    """A GPU reader (``GpuReader``, the panel's own, or a fake)."""

    def read(self) -> GpuReport: ...


MatmulProbe = Callable[[Path], Matmul]
"""Runs the matmul with a runtime's interpreter (:func:`run_matmul`; tests pass a stub)."""


@dataclass(frozen=True)
class Report:
    """Every finding, and the data behind the CPU's (for ``--json``)."""

    findings: tuple[Finding, ...]
    cpu: CpuInfo
    dtype_auto: DtypeChoice
    torch: dict[str, Any] | None
    """The cpu runtime's torch: version, capability, threads (None: not asked)."""
    matmul: Matmul | None

    @property
    def ok(self) -> bool:
        """Nothing blocks a start (warnings allowed)."""
        return all(f.level != "fail" for f in self.findings)

    @property
    def exit_code(self) -> int:
        """0 with warnings, 1 when something blocks a start."""
        return 0 if self.ok else 1

    def lines(self) -> list[str]:
        """One line per finding, names aligned."""
        return render(self.findings)

    def to_json(self) -> dict[str, Any]:
        """``{"ok", "native_bf16", "findings", "cpu", "matmul"}``."""
        cpu = {**self.cpu.to_json(), "dtype_auto": self.dtype_auto.to_json(), "torch": self.torch}
        return {
            "ok": self.ok,
            "native_bf16": self.cpu.native_bf16,
            "findings": [f.to_json() for f in self.findings],
            "cpu": cpu,
            "matmul": self.matmul.to_json() if self.matmul else None,
        }


def with_matmul(findings: Sequence[Finding], matmul: Finding) -> list[Finding]:
    """The matmul's finding placed right after the CPU's (where the report shows it)."""
    at = next((i + 1 for i, f in enumerate(findings) if f.name == "cpu"), 0)
    return [*findings[:at], matmul, *findings[at:]]


def _marker_stamp(runtime: Runtime) -> str:
    """What the runtime's torch answer is valid for: this install (its ready marker)."""
    text = runtime.marker.read_text()
    try:
        return str(json.loads(text)["installed_at"])
    except (ValueError, KeyError, TypeError):
        return text


class Doctor:
    """The checks of one report, over one node's paths and settings (make one per report)."""

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        proxy: ProxyView,
        *,
        gpu: GpuSource | None = None,
        cpu: CpuInfo | None = None,
        matmul: MatmulProbe = run_matmul,
        default_preset: str = DEFAULT_PRESET,
    ) -> None:
        """Checks for the node at ``paths`` with ``settings``.

        Args:
            paths: the node's folders.
            settings: its settings (proxy host and port, runtimes).
            proxy: the proxy's manager (its key file, its record, its bind rule).
            gpu: the GPU reader (a new ``GpuReader`` by default).
            cpu: the CPU (``this_cpu()`` by default).
            matmul: what runs the matmul with the cpu runtime's interpreter.
            default_preset: the preset whose start the FAIL findings are about.
        """
        self.paths = paths
        self.settings = settings
        self.proxy = proxy
        self.gpu = gpu or GpuReader()
        self.cpu = cpu or this_cpu()
        self.matmul = matmul
        self.default_preset = default_preset

    # -- what the checks share ----------------------------------------------------------
    @cached_property
    def cpu_runtime(self) -> Runtime:
        """The runtime the matmul and the torch probe run in."""
        return get_runtime(CPU_RUNTIME, self.paths, self.settings)

    @cached_property
    def cpu_runtime_unusable(self) -> str | None:
        """Why the cpu runtime's Python cannot be asked (None: it can)."""
        runtime = self.cpu_runtime
        if runtime.external is not None:
            return f"the cpu runtime is external ({runtime.external}): no Python of ours to ask"
        info = runtime.info()
        return None if info.ready else f"the cpu runtime is {info.detail}"

    @cached_property
    def torch(self) -> dict[str, Any] | None:
        """The cpu runtime's torch (version, capability, threads), or None when not ready."""
        if self.cpu_runtime_unusable is not None:
            return None
        runtime = self.cpu_runtime
        try:
            stamp = _marker_stamp(runtime)
        except OSError:
            return None
        return runtime_torch(runtime.python, runtime.root / "cpu.json", stamp)

    @cached_property
    def preset(self) -> Preset | NapthaError:
        """The default preset, or why it does not load."""
        try:
            return PresetCatalog(self.paths.user_presets_dir).get(self.default_preset)
        except NapthaError as exc:
            return exc

    @cached_property
    def gpus(self) -> GpuReport:
        """One NVML reading for the whole report."""
        return self.gpu.read()

    # -- the report ---------------------------------------------------------------------
    def checks(self) -> list[Finding]:
        """Every finding but the matmul's (a second at most once the torch answer is cached)."""
        return [
            self.check_cpu(),
            check_memory(),
            check_gpu(self.gpus),
            *self.check_runtimes(),
            *self.check_default_preset(),
            check_disk(self.paths),
            check_proxy_port(self.paths, self.settings, self.proxy),
            check_key_files(self.paths, self.settings, self.proxy),
        ]

    def measure(self) -> tuple[Finding, Matmul | None]:
        """The matmul in the cpu runtime (seconds), or why it was skipped."""
        unusable = self.cpu_runtime_unusable
        if unusable is not None:
            advice = None if self.cpu_runtime.external else "naptha-tui runtime install cpu"
            return Finding("matmul", "warn", f"skipped: {unusable}", advice), None
        try:
            result = self.matmul(self.cpu_runtime.python)
        except MatmulFailed as exc:
            advice = "naptha-tui runtime install cpu --force (if `import torch` fails there)"
            return Finding("matmul", "warn", f"failed: {exc}", advice), None
        return self.matmul_finding(result), result

    def report(self) -> Report:
        """Every finding, the matmul's after the CPU's."""
        found, result = self.measure()
        return Report(
            tuple(with_matmul(self.checks(), found)),
            self.cpu,
            cpu_dtype("auto", self.cpu),
            self.torch,
            result,
        )

    # -- the checks that share the CPU, the runtimes and the default preset -------------
    def check_cpu(self) -> Finding:
        """Model, vector extensions, cores, NUMA, RAM, native bfloat16 and what auto picks."""
        cpu = self.cpu
        flags = ", ".join(cpu.shown_flags()) or "none of note"
        nodes = f"{cpu.numa_nodes} NUMA node" + ("s" if cpu.numa_nodes != 1 else "")
        text = (
            f"{cpu.model}, {cpu.isa} (flags: {flags}), {cpu.cores} cores, {nodes}, "
            f"{gib(cpu.ram_bytes)} RAM; native bf16: {'yes' if cpu.native_bf16 else 'no'}, "
            f"dtype auto -> {cpu_dtype('auto', cpu).value}"
        )
        torch = self.torch
        if torch:
            text += (
                f"; the runtime's torch {torch.get('torch')} runs {torch.get('capability')} "
                f"kernels on {torch.get('threads')} threads"
            )
        return Finding("cpu", "ok", text)

    def matmul_finding(self, m: Matmul) -> Finding:
        """What the matmul says about bfloat16 here."""
        size = f"{SHAPE[0]}x{SHAPE[1]} @ {SHAPE[1]}x{SHAPE[2]}"
        text = f"float32 {m.float32_gflops:.1f} GFLOPS, bfloat16 {m.bfloat16_gflops:.1f} GFLOPS"
        if m.ratio >= 1:
            text += f": float32 {m.ratio:.1f}x faster ({size})"
        elif m.ratio > 0:
            text += f": bfloat16 {1 / m.ratio:.1f}x faster ({size})"
        if self.cpu.native_bf16 and m.ratio > SLOWER_NATIVE_RATIO:
            return Finding(
                "matmul",
                "warn",
                f"{text}; bfloat16 is native here yet slower",
                "set dtype: float32 in your cpu presets",
            )
        return Finding("matmul", "ok", text)

    def check_runtimes(self) -> list[Finding]:
        """Each runtime's readiness and version; FAIL for those the default start needs."""
        needs: dict[str, str] = {}
        if isinstance(self.preset, Preset) and self.preset.kind == "vllm":
            needs[self.preset.runtime] = f"preset {self.default_preset}"
        needs[self.settings.proxy.runtime] = "the proxy"
        has_gpu = not isinstance(self.gpus, GpuUnavailable)
        runtimes = all_runtimes(self.paths, self.settings)
        return [self._runtime(r, needs.get(r.name), has_gpu) for r in runtimes]

    def _runtime(self, runtime: Runtime, needed_by: str | None, has_gpu: bool) -> Finding:
        info = runtime.info()
        name = f"runtime {runtime.name}"
        if info.ready:
            spec = runtime.spec
            what = re.split(r"[\[=<>]", spec.packages[0])[0] if spec else "vllm"
            version = f", {what} {info.version}" if info.version else ""
            return Finding(name, "ok", f"ready{version} ({info.kind}, {info.location})")
        level: Level = "fail" if needed_by else "warn"
        if runtime.external is not None:
            return Finding(
                name,
                level,
                f"{runtime.external} is not an executable",
                f"fix runtimes.{runtime.name}.executable in {self.paths.config_file}",
            )
        install = f"naptha-tui runtime install {runtime.name}"
        if needed_by:
            return Finding(name, level, f"{info.detail}: {needed_by} needs it", install)
        if has_gpu:
            return Finding(name, "warn", f"{info.detail}; presets on this GPU need it", install)
        return Finding(name, "ok", f"{info.detail} (only presets with runtime: {runtime.name})")

    def check_default_preset(self) -> list[Finding]:
        """The default preset loads, its embedded model is prepared, its dtype and why."""
        name = f"preset {self.default_preset}"
        preset = self.preset
        if isinstance(preset, NapthaError):
            advice = "fix that file, or remove it from your presets to use the shipped one"
            return [Finding(name, "fail", str(preset), advice)]
        found = []
        if preset.model in EMBEDDED:
            model = f"model {preset.model}"
            if is_prepared(self.paths, preset.model):
                where = self.paths.models_dir / preset.model
                found.append(Finding(model, "ok", f"prepared ({where})"))
            else:
                found.append(
                    Finding(
                        model,
                        "fail",
                        f"not prepared: preset {preset.name} needs it",
                        f"naptha-tui model prepare {preset.model}",
                    )
                )
        if preset.kind == "vllm":
            choice = dtype_choice(preset, self.cpu)
            text = f"runs in {choice.value or 'the model dtype'}: {choice.reason}"
            found.append(Finding(name, "warn" if choice.warning else "ok", text, choice.warning))
        return found
