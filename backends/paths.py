"""Where naptha-tui keeps its config, data, state and logs.

platformdirs gives the per-user defaults (XDG on Linux). Each folder can be moved with an
environment variable, which is how tests isolate themselves and how CI shares the heavy data dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "naptha-tui"


def _dir(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True)
class Paths:
    """The folders of one naptha-tui installation. Nothing is created until asked for."""

    config_dir: Path
    """Settings (``config.yaml``) and user presets (``presets/``)."""
    data_dir: Path
    """Heavy, re-creatable data: runtime venvs, prepared models."""
    state_dir: Path
    """What is running now: the state file, the proxy's key and config."""
    log_dir: Path
    """One log file per server and for the proxy."""

    @classmethod
    def from_env(cls) -> Paths:
        """Platform defaults, each overridable by ``NAPTHA_TUI_{CONFIG,DATA,STATE,LOG}_DIR``."""
        state = _dir("NAPTHA_TUI_STATE_DIR", platformdirs.user_state_path(APP_NAME))
        return cls(
            config_dir=_dir("NAPTHA_TUI_CONFIG_DIR", platformdirs.user_config_path(APP_NAME)),
            data_dir=_dir("NAPTHA_TUI_DATA_DIR", platformdirs.user_data_path(APP_NAME)),
            state_dir=state,
            log_dir=_dir("NAPTHA_TUI_LOG_DIR", state / "logs"),
        )

    @property
    def config_file(self) -> Path:
        """The settings file; ``NAPTHA_TUI_CONFIG_FILE`` points elsewhere."""
        return _dir("NAPTHA_TUI_CONFIG_FILE", self.config_dir / "config.yaml")

    @property
    def user_presets_dir(self) -> Path:
        """User presets; a preset here overrides a shipped one of the same name."""
        return self.config_dir / "presets"

    @property
    def runtimes_dir(self) -> Path:
        """One folder per managed runtime (a venv plus its ready marker)."""
        return self.data_dir / "runtimes"

    @property
    def models_dir(self) -> Path:
        """One folder per prepared model."""
        return self.data_dir / "models"

    @property
    def state_file(self) -> Path:
        """The record of the servers and proxy we started (pid, start time, port, argv)."""
        return self.state_dir / "servers.json"

    def ensure(self, path: Path, private: bool = False) -> Path:
        """Create ``path`` (a folder) if needed; ``private`` makes it 0700."""
        path.mkdir(parents=True, exist_ok=True)
        if private:
            path.chmod(0o700)
        return path
