"""Writing files so that a reader never sees half of one, and reading the files a user names.

Every file naptha-tui writes for later reading (the state file, the proxy's config and hooks,
ready markers, caches) goes through :func:`atomic_write`: a uniquely named temporary file in the
same folder, fsynced, then renamed over the target. A fixed ``.tmp`` name would let a panel and
a CLI writing at once rename each other's half-written file into place.

Every text file a user names (a tools file, a schema, a grammar, a conversation, a session, a
preset, the settings) is read through :func:`read_text_file`: a directory, a binary file, a file
that is not UTF-8, an empty one or a huge one becomes :class:`UnreadableFile`, whose message
names the file, instead of an exception the caller did not expect or a read that never ends.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from naptha_tui.backends.errors import NapthaError

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


MAX_TEXT_BYTES = 8 * 2**20
"""The largest text file a user may hand us (8 MiB). Tools, schemas, grammars, conversations,
sessions and presets are kilobytes; anything near this size is the wrong file (a model, a log),
refused from its size alone before a byte of it is read."""
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class UnreadableFile(NapthaError):
    """A file a user named that cannot be used as text; ``str()`` is ``PATH: REASON``."""

    def __init__(self, path: Path, reason: str) -> None:
        """The file and why it cannot be read (``reason`` reads after ``cannot read PATH:``)."""
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def read_text_file(path: Path, *, limit: int = MAX_TEXT_BYTES, allow_empty: bool = False) -> str:
    """The text of a file a user named, or an :class:`UnreadableFile` saying why not.

    Args:
        path: the file (symbolic links are followed).
        limit: the largest size accepted, in bytes; a larger file is refused unread.
        allow_empty: an empty (or all-whitespace) file is text too; else it is refused.

    Returns:
        The file's text, decoded as UTF-8 (a leading byte-order mark is dropped).

    Raises:
        UnreadableFile: missing or unreadable, a directory or another non-regular file (a
            FIFO or a device is never opened, so nothing blocks), over ``limit``, empty, binary
            (it holds NUL bytes), UTF-16, or not valid UTF-8.
    """
    try:
        st = path.stat()
    except OSError as exc:
        raise UnreadableFile(path, exc.strerror or str(exc)) from exc
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableFile(path, os.strerror(errno.EISDIR))  # as open() would say
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile(path, "not a regular file")
    too_big = f"over the {_size(limit)} limit for a text file (is it the right file?)"
    if st.st_size > limit:
        raise UnreadableFile(path, f"{_size(st.st_size)}, {too_big}")
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)  # the file may have grown since stat
    except OSError as exc:
        raise UnreadableFile(path, exc.strerror or str(exc)) from exc
    if len(data) > limit:
        raise UnreadableFile(path, too_big)
    if not allow_empty and not data.strip():
        raise UnreadableFile(path, "empty")
    if data.startswith(_UTF16_BOMS):
        raise UnreadableFile(path, "UTF-16 text; save it as UTF-8")
    if b"\0" in data:
        raise UnreadableFile(path, "a binary file, not text (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            path,
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8",
        ) from exc
