"""What the Ollama tests share besides the fixtures in conftest.py: the fake on PATH, settings."""

from __future__ import annotations

import socket
import stat
import sys
from pathlib import Path

from naptha_tui.backends.settings import Settings

FAKE = Path(__file__).parents[1] / "fakes" / "fake_ollama.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ollama_settings(host: str, manage: bool = False) -> Settings:
    return Settings.model_validate(
        {"stop_grace_seconds": 3.0, "ollama": {"host": host, "manage": manage}}
    )


def fake_binary(folder: Path, script: str | None = None) -> Path:
    """An `ollama` on PATH: the fake daemon (``ollama serve``), or ``script`` (shell)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ollama"
    path.write_text(script or f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path
