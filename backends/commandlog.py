"""The command log: what every action ran underneath, as a person could type it again.

A start records the server's command line and the environment it was given; a stop, a reload
or a kick the signal sent; a sleep, a wake or an Ollama load the HTTP call, as a ``curl`` line.
The panel and the CLI append to the same file, ``<state dir>/history.jsonl`` (JSON lines, 0600,
the last :data:`KEEP` entries), so what one did shows in the other.

Secrets never reach the file. An environment variable is recorded only when it differs from the
parent's and its name matters to a server (:data:`MATTERS`); a variable whose name says it is a
secret (``*_KEY``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``) is written as where it comes from
(``VLLM_API_KEY="$(cat <state>/keys/NAME.key)"``), never as its value; and any secret value the
caller names is replaced wherever else it would appear (:func:`scrub`).

Appends from several processes are serialised by an exclusive lock on ``history.lock``: an
entry is appended in one write, and when the file holds more than :data:`KEEP` entries it is
rewritten atomically with the newest :data:`KEEP`. Readers take no lock: they see the file
before or after a rename, and skip a line that does not parse.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from naptha_tui.backends.files import PRIVATE, atomic_write
from naptha_tui.backends.paths import Paths

KEEP = 1000
"""Entries kept: the newest thousand."""
MATTERS = ("VLLM_", "HF_", "CUDA_", "OMP_", "NAPTHA_", "LITELLM_", "OLLAMA_", "PYTHONPATH")
"""Names (prefixes) of the environment variables worth recording: what changes how a server or
the proxy runs. The rest of a child's environment is the parent's."""
SECRET_NAME = re.compile(r"_KEY$|TOKEN|SECRET|PASSWORD", re.I)
"""A variable with such a name holds a secret: its value is never recorded."""
REDACTED = "<redacted>"
_MIN_SECRET = 8
"""Shorter values are not scrubbed from text (they would match ordinary words)."""

Kind = Literal["exec", "signal", "http"]


def is_secret(name: str) -> bool:
    """Whether variable ``name`` holds a secret (``*_KEY``, ``*TOKEN*``, ``*SECRET*``...)."""
    return bool(SECRET_NAME.search(name))


def from_file(path: Path) -> str:
    """Where a secret comes from when it is a file: ``$(cat '/state/keys/x.key')``.

    A source goes inside double quotes (``NAME="$(cat ...)"``, ``-H "...: Bearer $(cat ...)"``).
    """
    return f"$(cat {shlex.quote(str(path))})"


def from_env(name: str) -> str:
    """Where a secret comes from when it is the caller's variable: ``$NAME``."""
    return f"${name}"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value in ``secrets`` replaced by ``<redacted>``."""
    for secret in secrets:
        if len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def env_words(
    env: Mapping[str, str],
    parent: Mapping[str, str] | None = None,
    sources: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables of ``env`` worth recording, each as the shell word that sets it.

    Args:
        env: the child's whole environment.
        parent: the environment it was derived from (``os.environ`` when None); only variables
            that differ from it are recorded.
        sources: for secret variables, where the value comes from (:func:`from_file`,
            :func:`from_env`); a secret without one is written ``"$NAME"`` (from the caller's
            environment).

    Returns:
        Name to shell word (a quoted value, or the secret's source), in name order.
    """
    parent = os.environ if parent is None else parent
    sources = sources or {}
    words = {}
    for name in sorted(env):
        if not name.startswith(MATTERS) or parent.get(name) == env[name]:
            continue
        if name in sources:
            words[name] = f'"{sources[name]}"'
        elif is_secret(name):
            words[name] = f'"{from_env(name)}"'
        else:
            words[name] = shlex.quote(env[name])
    return words


def exec_line(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """``NAME=word ... argv`` as one shell line (``env`` values are shell words already)."""
    prefix = [f"{name}={word}" for name, word in (env or {}).items()]
    return " ".join([*prefix, shlex.join(argv)])


def curl_line(
    method: str,
    url: str,
    auth: str | None = None,
    body: Mapping[str, Any] | None = None,
) -> str:
    """The ``curl`` line of an HTTP call; ``auth`` is where the bearer key comes from."""
    words = ["curl", "-sS"]
    if method != ("POST" if body is not None else "GET"):
        words += ["-X", method]
    line = shlex.join([*words, url])
    if auth is not None:
        line += f' -H "Authorization: Bearer {auth}"'
    if body is not None:
        line += " -H 'content-type: application/json' -d " + shlex.quote(json.dumps(body))
    return line


def signal_line(signal_name: str, pids: Sequence[int], group: bool = False) -> str:
    """``kill -HUP 123``, or ``kill -TERM -- -123`` for a whole process group."""
    targets = [f"-{p}" for p in pids] if group else [str(p) for p in pids]
    return " ".join(["kill", f"-{signal_name}", *(["--"] if group else []), *targets])


def current_via() -> str:
    """Who is acting: ``panel``, ``cli up``, ``cli ollama load``..., from this process's argv."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    args = sys.argv[1:]
    if prog not in ("naptha-tui", "__main__.py"):
        return prog
    if not args or args[0].startswith("-"):
        return "panel"
    words = [args[0]]
    if args[0] in ("ollama", "presets", "runtime", "model", "proxy", "bench", "eval"):
        words += args[1:2]
    return "cli " + " ".join(w for w in words if not w.startswith("-"))


@dataclass(frozen=True)
class Entry:
    """One thing an action ran: a process started, a signal sent, an HTTP call made."""

    at: float
    """When it was run (Unix time)."""
    via: str
    """Who ran it: ``panel``, ``cli up``..."""
    action: str
    """What the operator asked for, in a few words (``start server smollm2-cpu``)."""
    kind: Kind
    line: str
    """The shell line that does the same; secrets as where they come from."""
    outcome: str
    """What happened (``started pid 1234``, ``200 in 0.31 s``, ``failed: ...``)."""
    ok: bool
    argv: list[str] = field(default_factory=list)
    """The command line as started (``exec`` only)."""
    env: dict[str, str] = field(default_factory=dict)
    """The variables recorded for it (name to shell word, never a secret's value)."""
    cwd: str | None = None
    pid: int = 0
    """The process that recorded it."""

    @property
    def said(self) -> str:
        """The outcome as shown: ``FAILED ...`` when it failed and does not say so."""
        if self.ok or self.outcome.startswith("failed"):
            return self.outcome
        return f"FAILED {self.outcome}"

    def to_json(self) -> dict[str, Any]:
        """The entry as one JSON object (``history --json``, the file's lines)."""
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Entry:
        """An entry read back; ``KeyError``/``TypeError``/``ValueError`` when it is not one."""
        return cls(
            at=float(doc["at"]),
            via=str(doc["via"]),
            action=str(doc["action"]),
            kind=doc["kind"],
            line=str(doc["line"]),
            outcome=str(doc["outcome"]),
            ok=bool(doc["ok"]),
            argv=[str(a) for a in doc.get("argv") or []],
            env={str(k): str(v) for k, v in (doc.get("env") or {}).items()},
            cwd=doc.get("cwd"),
            pid=int(doc.get("pid") or 0),
        )


class CommandLog:
    """The node's command log: append from any process, read the newest entries."""

    def __init__(self, paths: Paths, via: str | None = None, keep: int = KEEP) -> None:
        """The command log of the node at ``paths``.

        Args:
            paths: the node's folders (the file is in the state dir).
            via: who records (default: :func:`current_via`).
            keep: how many entries are kept.
        """
        self.paths = paths
        self.via = via
        self.keep = keep

    @property
    def file(self) -> Path:
        """``<state dir>/history.jsonl``."""
        return self.paths.state_dir / "history.jsonl"

    @property
    def lock_file(self) -> Path:
        """The lock every writer takes (the log itself is replaced when trimmed)."""
        return self.paths.state_dir / "history.lock"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.paths.ensure(self.paths.state_dir)
        fd = os.open(self.lock_file, os.O_WRONLY | os.O_CREAT, PRIVATE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def append(self, entry: Entry) -> None:
        """Append ``entry``, trimming the file to the newest :attr:`keep` entries."""
        line = json.dumps(entry.to_json(), separators=(",", ":")) + "\n"
        with self._locked():
            fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE)
            try:
                os.fchmod(fd, PRIVATE)
                os.write(fd, line.encode())
            finally:
                os.close(fd)
            data = self.file.read_bytes()
            if data.count(b"\n") > self.keep:
                kept = data.splitlines(keepends=True)[-self.keep :]
                atomic_write(self.file, b"".join(kept).decode("utf-8", "replace"))

    def record(
        self,
        action: str,
        kind: Kind,
        line: str,
        outcome: str,
        ok: bool = True,
        *,
        argv: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        secrets: Iterable[str] = (),
    ) -> Entry | None:
        """Record what an action ran; never raises (a command log must not fail an action).

        Args:
            action: what the operator asked for.
            kind: ``exec``, ``signal`` or ``http``.
            line: the shell line.
            outcome: what happened.
            ok: whether it did what was asked.
            argv: the command line (``exec``).
            env: the recorded variables (:func:`env_words`).
            cwd: where it ran.
            secrets: values scrubbed from every recorded string, whatever else was done.

        Returns:
            The entry written, or None when the file could not be written.
        """
        hidden = [s for s in secrets if s]
        entry = Entry(
            at=time.time(),
            via=self.via or current_via(),
            action=scrub(action, hidden),
            kind=kind,
            line=scrub(line, hidden),
            outcome=scrub(outcome, hidden),
            ok=ok,
            argv=[scrub(a, hidden) for a in argv],
            env={k: scrub(v, hidden) for k, v in (env or {}).items()},
            cwd=str(cwd) if cwd is not None else None,
            pid=os.getpid(),
        )
        try:
            self.append(entry)
        except OSError:
            return None
        return entry

    def entries(self, limit: int | None = None) -> list[Entry]:
        """The entries, oldest first (the newest ``limit`` when given); bad lines skipped."""
        try:
            data = self.file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        found = []
        for raw in data.splitlines():
            try:
                found.append(Entry.from_json(json.loads(raw)))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return found[-limit:] if limit else found

    def stamp(self) -> tuple[int, int, int]:
        """Changes whenever the file does (inode, size, mtime): a reader re-reads only then."""
        try:
            st = self.file.stat()
        except OSError:
            return (0, 0, 0)
        return (st.st_ino, st.st_size, st.st_mtime_ns)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The values of ``env``'s secret variables (what :meth:`CommandLog.record` scrubs)."""
    return [v for k, v in env.items() if is_secret(k) and v]


def outcome_of(exc: BaseException) -> str:
    """``failed: <what went wrong>`` for an exception."""
    return f"failed: {type(exc).__name__}: {exc}"
