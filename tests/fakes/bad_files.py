"""The five files a user may hand the panel by mistake, and what each must be called.

Every file the panel or a command reads from a user (tools, schema, grammar, conversation,
session) is tried with each: the message names the file and says what is wrong with it.
"""

from __future__ import annotations

from pathlib import Path

HUGE_BYTES = 50 * 10**6
"""The "50 MB" file: sparse, so making it costs nothing, and it is refused from its size."""

BAD_FILES: dict[str, str] = {
    "not-utf8": "not UTF-8 text",
    "binary": "a binary file",
    "directory": "Is a directory",
    "empty": "empty",
    "huge": "over the 8.0 MiB limit",
}
"""Each kind of bad file and a phrase its message carries."""


def bad_file(folder: Path, kind: str, name: str = "input.json") -> Path:
    """Make the bad file ``kind`` (a key of BAD_FILES) as ``folder/kind/name``."""
    path = folder / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "not-utf8":
        path.write_bytes('[{"name": "café"}]'.encode("latin-1"))
    elif kind == "binary":
        path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(range(256)))
    elif kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "huge":
        with path.open("wb") as fh:
            fh.truncate(HUGE_BYTES)
    else:
        raise ValueError(f"unknown bad file {kind!r}")
    return path
