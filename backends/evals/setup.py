"""``eval setup``: the leaderboard's own package, ``bfcl-eval``, in a folder of the data dir.

The wheel (1.9 MB) carries the cases (``bfcl_eval/data/BFCL_v4_*.json``), their possible
answers (``data/possible_answer/``) and the AST checker. Its declared dependencies are heavy and
pinned (numpy 1.26.4, sentence-transformers, faiss, every provider SDK) and none of them is
needed for the data or the checker, so it is installed without them, with the panel's own pip::

    python -m pip install --no-deps --target <data dir>/evals/bfcl-eval bfcl-eval==2026.3.23

into a fresh folder that is renamed into place only after the checker was seen to import in a
fresh interpreter; then a ready marker is written. An interrupted or failed install therefore
leaves nothing that passes for a working one, and a second ``eval setup`` returns at once.
pip's usual settings apply (``PIP_INDEX_URL``, ``PIP_FIND_LINKS`` for an offline wheel). Where
the panel's environment has no pip (installed by uv), a small venv in ``evals/.pip`` lends its
own. The folder is never put on ``sys.path``: :mod:`.checker` loads the ``bfcl_eval`` package
from it by location.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.files import READABLE, atomic_write
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.install import run_logged, start_log

BFCL_VERSION = "2026.3.23"
"""The release the converter, decoder and stand-in were checked against (gorilla 6ea57973)."""
REQUIREMENT = f"bfcl-eval=={BFCL_VERSION}"
MARKER = ".naptha-ready.json"
# what setup checks is there before it calls the install ready
EXPECTED_FILES = (
    "bfcl_eval/eval_checker/ast_eval/ast_checker.py",
    "bfcl_eval/constants/enums.py",
    "bfcl_eval/data/BFCL_v4_simple_python.json",
    "bfcl_eval/data/possible_answer/BFCL_v4_simple_python.json",
)
SMOKE = (
    "import sys; from pathlib import Path; "
    "from naptha_tui.backends.evals.checker import load_checker; "
    "m = load_checker(Path(sys.argv[1])); print(m.__name__)"
)

Progress = Callable[[str], None]


class EvalSetupError(NapthaError):
    """bfcl-eval is missing, half installed, or failed to install."""


@dataclass(frozen=True)
class BfclInstall:
    """Where bfcl-eval is (or would be) and whether it is ready."""

    location: Path
    """The ``--target`` folder: ``bfcl_eval/`` and its dist-info are inside."""
    ready: bool
    version: str | None = None
    detail: str = ""

    @property
    def package_dir(self) -> Path:
        return self.location / "bfcl_eval"

    @property
    def data_dir(self) -> Path:
        """The cases (``BFCL_v4_*.json``); possible answers in ``possible_answer/``."""
        return self.package_dir / "data"

    def to_json(self) -> dict[str, object]:
        return {
            "location": str(self.location),
            "ready": self.ready,
            "version": self.version,
            "detail": self.detail,
        }


def evals_dir(paths: Paths) -> Path:
    return paths.data_dir / "evals"


def bfcl_dir(paths: Paths) -> Path:
    return evals_dir(paths) / "bfcl-eval"


def locate(paths: Paths) -> BfclInstall:
    """The install as found (starts nothing, writes nothing)."""
    root = bfcl_dir(paths)
    marker = root / MARKER
    if not root.exists():
        return BfclInstall(root, False, detail="not installed")
    try:
        doc = json.loads(marker.read_text())
    except (OSError, ValueError):
        return BfclInstall(root, False, detail="no ready marker (an install that did not finish)")
    missing = [f for f in EXPECTED_FILES if not (root / f).is_file()]
    if missing:
        return BfclInstall(root, False, detail=f"incomplete: {missing[0]} is missing")
    version = doc.get("version") if isinstance(doc, dict) else None
    if version != BFCL_VERSION:
        return BfclInstall(
            root, False, str(version), detail=f"version {version}, this panel needs {BFCL_VERSION}"
        )
    return BfclInstall(root, True, version)


def require(paths: Paths) -> BfclInstall:
    """The ready install; EvalSetupError saying what to run when it is not there.

    Raises:
        EvalSetupError: not installed, not finished, or another version.
    """
    found = locate(paths)
    if not found.ready:
        raise EvalSetupError(
            f"bfcl-eval {BFCL_VERSION} is not set up in {found.location} ({found.detail}): "
            "run `naptha-tui eval setup` first"
        )
    return found


@contextmanager
def _lock(folder: Path, progress: Progress) -> Iterator[None]:
    """Held while installing; a second setup waits for the first (then finds it ready)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"another `eval setup` is running ({folder}); waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def has_pip() -> bool:
    """Whether the panel's own environment has pip (one installed by uv has none)."""
    return importlib.util.find_spec("pip") is not None


def _pip(paths: Paths, progress: Progress, log: Path) -> list[str]:
    """The panel's own pip, or a small venv's where the panel's environment has none."""
    if has_pip():
        return [sys.executable, "-m", "pip"]
    venv = evals_dir(paths) / ".pip"
    python = venv / "bin" / "python"
    if not python.exists():
        argv = [sys.executable, "-m", "venv", str(venv)]
        run_logged(argv, progress, log, label=f"creating a venv for pip in {venv}")
    return [str(python), "-m", "pip"]


def install(paths: Paths, progress: Progress, force: bool = False) -> BfclInstall:
    """Install bfcl-eval without dependencies; a ready install returns at once.

    Args:
        paths: whose data dir gets ``evals/bfcl-eval``.
        progress: receives a few lines (what runs, heartbeats, done).
        force: reinstall even when ready.

    Raises:
        EvalSetupError: the package installed without the files it should hold.
        RuntimeProblem: pip or the import check failed (the tail of its output and the log's
            path in the message); nothing is then left that passes for ready.
    """
    found = locate(paths)
    if found.ready and not force:
        progress(f"bfcl-eval {found.version} is ready at {found.location}")
        return found
    folder = paths.ensure(evals_dir(paths))
    with _lock(folder, progress):
        found = locate(paths)
        if found.ready and not force:  # the setup we waited for did it
            progress(f"bfcl-eval {found.version} is ready at {found.location}")
            return found
        log = folder / "setup.log"
        start_log(log, f"eval setup: {REQUIREMENT}")
        progress(f"installing {REQUIREMENT} without its dependencies (full output in {log})")
        fresh = folder / "bfcl-eval.new"
        shutil.rmtree(fresh, ignore_errors=True)
        pip = _pip(paths, progress, log)
        started = time.monotonic()
        run_logged(
            [
                *pip,
                "install",
                "--no-deps",
                "--no-input",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
                "--target",
                str(fresh),
                REQUIREMENT,
            ],
            progress,
            log,
            label=f"installing {REQUIREMENT} into {fresh}",
            size=("folder", fresh),
        )
        missing = [f for f in EXPECTED_FILES if not (fresh / f).is_file()]
        if missing:
            raise EvalSetupError(
                f"{REQUIREMENT} installed but {fresh / missing[0]} is missing (log: {log})"
            )
        run_logged(
            [sys.executable, "-c", SMOKE, str(fresh)],
            progress,
            log,
            label="checking its AST checker imports without the provider SDKs",
        )
        target = bfcl_dir(paths)
        shutil.rmtree(target, ignore_errors=True)
        fresh.rename(target)
        marker = {
            "requirement": REQUIREMENT,
            "version": BFCL_VERSION,
            "installed_at": time.time(),
            "seconds": round(time.monotonic() - started, 1),
        }
        atomic_write(target / MARKER, json.dumps(marker, indent=2), READABLE)
    done = locate(paths)
    progress(f"bfcl-eval {done.version} is ready at {done.location}")
    return done
