"""``eval setup``'s install: found ready, or not with the reason; a failed pip leaves nothing
that passes for ready; a half install is not ready; without pip in the panel's environment a
small venv lends its own. (The real install into the real data dir: tests/unit/evals_common.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from naptha_tui.backends.evals import setup as evals_setup
from naptha_tui.backends.evals.setup import (
    MARKER,
    EvalSetupError,
    bfcl_dir,
    install,
    locate,
    require,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.runtime import RuntimeProblem
from tests.unit.evals_common import installed


def test_nothing_installed_says_what_to_run(paths: Paths) -> None:
    found = locate(paths)
    assert (found.ready, found.detail) == (False, "not installed")
    assert found.location == paths.data_dir / "evals" / "bfcl-eval"
    with pytest.raises(EvalSetupError) as caught:
        require(paths)
    assert str(caught.value) == (
        f"bfcl-eval 2026.3.23 is not set up in {found.location} (not installed): "
        "run `naptha-tui eval setup` first"
    )


def _copy_install(paths: Paths) -> Path:
    target = bfcl_dir(paths)
    shutil.copytree(installed().location, target, symlinks=True)
    return target


def test_a_copy_with_its_marker_is_ready_and_without_it_is_not(paths: Paths) -> None:
    target = _copy_install(paths)
    assert locate(paths).ready and require(paths).version == "2026.3.23"
    (target / MARKER).unlink()
    found = locate(paths)
    assert not found.ready and "no ready marker" in found.detail
    (target / MARKER).write_text(json.dumps({"version": "2025.1.1"}))
    assert locate(paths).detail == "version 2025.1.1, this panel needs 2026.3.23"
    (target / MARKER).write_text(json.dumps({"version": "2026.3.23"}))
    (target / "bfcl_eval" / "data" / "BFCL_v4_simple_python.json").unlink()
    assert "incomplete: bfcl_eval/data/BFCL_v4_simple_python.json is missing" in (
        locate(paths).detail
    )


def test_a_failed_pip_leaves_nothing_ready(
    paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # offline: only this empty folder to look in
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    lines: list[str] = []
    with pytest.raises(RuntimeProblem) as caught:
        install(paths, lines.append)
    message = str(caught.value)
    assert "failed with exit code 1" in message
    assert "bfcl-eval==2026.3.23" in message and "setup.log" in message
    assert not bfcl_dir(paths).exists() and not locate(paths).ready
    assert lines[0].startswith("installing bfcl-eval==2026.3.23 without its dependencies")


def test_without_pip_a_small_venv_lends_its_own(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[list[str]] = []

    def fake_run(argv: list[str], progress: object, log: Path, **kw: object) -> str:
        ran.append(list(argv))
        if "--target" in argv:
            shutil.copytree(installed().location, argv[argv.index("--target") + 1])
        return ""

    monkeypatch.setattr(evals_setup, "has_pip", lambda: False)
    monkeypatch.setattr(evals_setup, "run_logged", fake_run)
    found = install(paths, lambda line: None)
    assert found.ready
    venv = paths.data_dir / "evals" / ".pip"
    assert ran[0][1:] == ["-m", "venv", str(venv)]
    pip = ran[1]
    assert pip[:3] == [str(venv / "bin" / "python"), "-m", "pip"]
    assert pip[3:5] == ["install", "--no-deps"] and pip[-1] == "bfcl-eval==2026.3.23"
    assert pip[pip.index("--target") + 1] == str(paths.data_dir / "evals" / "bfcl-eval.new")
    assert "load_checker" in ran[2][2]  # the import check, in a fresh interpreter
    assert not (paths.data_dir / "evals" / "bfcl-eval.new").exists()
