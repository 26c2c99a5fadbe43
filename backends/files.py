"""Writing files so that a reader never sees half of one, and two writers never collide.

Every file naptha-tui writes for later reading (the state file, the proxy's config and hooks,
ready markers, caches) goes through :func:`atomic_write`: a uniquely named temporary file in the
same folder, fsynced, then renamed over the target. A fixed ``.tmp`` name would let a panel and
a CLI writing at once rename each other's half-written file into place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE = 0o600
"""Only the owner reads it: state, keys, configs that name secrets."""
READABLE = 0o644
"""Anyone may read it: ready markers, caches (what a plain ``write_text`` gives)."""


def atomic_write(path: Path, text: str, mode: int = PRIVATE) -> None:
    """Replace ``path`` with ``text`` in one rename; the temporary file is removed on failure.

    Args:
        path: the target; its folder must exist.
        text: the whole new content (UTF-8).
        mode: the file's permissions (0600 unless the file is meant to be shared).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def same_text(path: Path, text: str) -> bool:
    """Whether ``path`` already holds exactly ``text`` (a missing file does not)."""
    try:
        return path.read_text(encoding="utf-8") == text
    except (FileNotFoundError, UnicodeDecodeError):
        return False
