"""Isolation: every test gets its own config, state and log dirs, and no NAPTHA_TUI_* leaks in.

The heavy data dir (runtimes, prepared models) is isolated too, except for integration tests,
which use the real one (NAPTHA_TUI_TEST_DATA_DIR, else the platform default) so the CPU runtime
and the embedded model are installed once per machine, as `make test` does before pytest.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from naptha_tui.backends.paths import APP_NAME, Paths
from naptha_tui.backends.settings import Settings

FAKE_VLLM = Path(__file__).parent / "fakes" / "fake_vllm.py"
REAL_DATA_DIR = Path(
    os.environ.get("NAPTHA_TUI_TEST_DATA_DIR") or platformdirs.user_data_path(APP_NAME)
)
# `make test` runs the unit and panel tests in pytest-xdist workers (gw0, gw1, ...): each takes
# its own ports, 1000 apart, so two workers' fake servers never race for the same one
PORT_OFFSET = 1000 * int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


@pytest.fixture(autouse=True)
def isolated(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Paths]:
    for key in list(os.environ):
        if key.startswith("NAPTHA_TUI_"):
            monkeypatch.delenv(key)
    root = tmp_path_factory.mktemp("nt")
    monkeypatch.setenv("NAPTHA_TUI_CONFIG_DIR", str(root / "config"))
    monkeypatch.setenv("NAPTHA_TUI_STATE_DIR", str(root / "state"))
    monkeypatch.setenv("NAPTHA_TUI_PORT_BASE", str(8100 + PORT_OFFSET))
    if request.node.get_closest_marker("integration") or request.node.get_closest_marker("gpu"):
        monkeypatch.setenv("NAPTHA_TUI_DATA_DIR", str(REAL_DATA_DIR))
    else:
        monkeypatch.setenv("NAPTHA_TUI_DATA_DIR", str(root / "data"))
    yield Paths.from_env()


@pytest.fixture
def paths(isolated: Paths) -> Paths:
    return isolated


@pytest.fixture
def settings() -> Settings:
    # short timeouts keep failure tests quick; ports away from a developer's own servers
    return Settings(port_base=18100 + PORT_OFFSET, stop_grace_seconds=3.0, startup_timeout=30.0)


@pytest.fixture
def fake_runtime_settings(settings: Settings) -> Settings:
    """Settings with an external runtime `fake` whose `vllm` is tests/fakes/fake_vllm.py."""
    return Settings.model_validate(
        {**settings.model_dump(), "runtimes": {"fake": {"executable": str(FAKE_VLLM)}}}
    )


def write_preset(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


PY = sys.executable
