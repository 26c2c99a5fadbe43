"""The panel's view settings that outlive it: ``<state dir>/view.json`` (0600).

Only how things are shown lives here (the log screen's wrap); what the node does is in the
settings file. A missing or unreadable file is an empty one: the defaults apply.
"""

from __future__ import annotations

import json
from pathlib import Path

from naptha_tui.backends.files import atomic_write
from naptha_tui.backends.paths import Paths

LOG_WRAP = "log_wrap"
"""Whether the log screen wraps long lines (False: they scroll sideways)."""


class ViewPrefs:
    """Read and write the view settings; every call reads the file again."""

    def __init__(self, paths: Paths) -> None:
        """The view settings of the node at ``paths``."""
        self.paths = paths

    @property
    def file(self) -> Path:
        """``<state dir>/view.json``."""
        return self.paths.state_dir / "view.json"

    def load(self) -> dict[str, object]:
        """Everything saved; empty when the file is missing or unreadable."""
        try:
            doc = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def flag(self, key: str, default: bool = False) -> bool:
        """A yes/no setting (``default`` when unset or not a boolean)."""
        value = self.load().get(key)
        return value if isinstance(value, bool) else default

    def set(self, key: str, value: bool) -> None:
        """Save one setting, keeping the others (atomically, 0600)."""
        doc = self.load() | {key: value}
        self.paths.ensure(self.paths.state_dir)
        atomic_write(self.file, json.dumps(doc, indent=2, sort_keys=True) + "\n")
