"""API keys: one generated per model server, so nothing local can bypass the proxy's key.

Each server the node starts gets ``VLLM_API_KEY`` from its own key file,
``<state dir>/keys/NAME.key`` (0600 in a 0700 folder), created once and kept across restarts.
The proxy knows a key only as an ``os.environ/NAPTHA_KEY_<NAME>`` reference; the variable is
set from the key files when the proxy starts and re-read by each worker after a reload
(``proxy/litellm/hooks.py``). A preset with ``api_key_env`` uses the operator's key instead.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from naptha_tui.backends.commandlog import from_env, from_file
from naptha_tui.backends.paths import Paths

KEY_ENV_PREFIX = "NAPTHA_KEY_"


def read_or_create_secret(path: Path) -> str:
    """The secret in ``path``, or a new ``sk-`` key written there (0600, created exclusively)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    key = "sk-" + secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def key_env(name: str) -> str:
    """The environment variable that carries server ``name``'s generated key to the proxy."""
    return KEY_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class ServerKeys:
    """The generated keys of this node's servers."""

    def __init__(self, paths: Paths) -> None:
        self.dir = paths.state_dir / "keys"

    def file(self, name: str) -> Path:
        """Server ``name``'s key file."""
        return self.dir / f"{name}.key"

    def key(self, name: str) -> str:
        """Server ``name``'s key, generated on first use."""
        return read_or_create_secret(self.file(name))

    def environ(self) -> dict[str, str]:
        """``NAPTHA_KEY_<NAME>`` for every key file (the proxy's environment)."""
        if not self.dir.is_dir():
            return {}
        return {key_env(p.stem): p.read_text().strip() for p in sorted(self.dir.glob("*.key"))}

    def stamp(self) -> str:
        """Which key files exist and which version of each (inode, mtime; never the keys).

        A proxy whose workers loaded the keys under another stamp must reload to see them.
        """
        if not self.dir.is_dir():
            return ""
        lines = []
        for p in sorted(self.dir.glob("*.key")):
            st = p.stat()
            lines.append(f"{p.name} {st.st_ino} {st.st_mtime_ns}\n")
        return "".join(lines)

    def source(self, env: str | None) -> str | None:
        """Where :meth:`lookup` finds the key behind ``env``, as the command log writes it.

        ``$(cat '<state>/keys/NAME.key')`` for a generated key file, ``$ENV`` for the
        operator's variable; None without a reference.
        """
        if env is None:
            return None
        if env.startswith(KEY_ENV_PREFIX) and self.dir.is_dir():
            for path in self.dir.glob("*.key"):
                if key_env(path.stem) == env:
                    return from_file(path)
        return from_env(env)

    def lookup(self, env: str | None) -> str | None:
        """The key behind reference ``env``: a generated key file, else the environment."""
        if env is None:
            return None
        if env.startswith(KEY_ENV_PREFIX) and self.dir.is_dir():
            for path in self.dir.glob("*.key"):  # read only the file the name points at
                if key_env(path.stem) == env:
                    return path.read_text().strip()
        return os.environ.get(env) or None
