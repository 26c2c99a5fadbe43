"""A real crash of the panel: a non-zero exit, and the traceback kept in a log file.

Textual ends the app on an exception no handler caught (``App._handle_exception``: it sets
``return_code`` to 1, prints the traceback and closes), but ``App.run`` returns normally, so
the exit status was 0 and the traceback lived only in the terminal's scrollback. Workers never
get here (``tui/failures.py`` reports them and the panel carries on); this is for the rest.
"""

from __future__ import annotations

import platform
import sys
import traceback
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from textual.app import App
from textual.worker import WorkerFailed

from naptha_tui.backends.files import PRIVATE, atomic_write
from naptha_tui.backends.paths import Paths

CRASH_LOG = "panel-crash.log"
"""In the log dir, 0600 (a traceback's locals may hold a prompt); the latest crash only."""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def crash_report(error: BaseException | None, return_code: int) -> str:
    """The crash log's text: when, which versions, and the traceback (when there is one)."""
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = (
        f"naptha-tui {_version('naptha-tui')} panel crashed at {when} (exit code {return_code}; "
        f"Python {platform.python_version()}, Textual {_version('textual')})\n\n"
    )
    if isinstance(error, WorkerFailed):  # Textual's wrapper says nothing of where it happened
        error = error.error
    if error is None:
        return head + "no exception was recorded\n"
    return head + "".join(traceback.format_exception(error))


def write_crash_log(paths: Paths, error: BaseException | None, return_code: int = 1) -> str:
    """Write the crash log; returns where it is (or why it could not be written)."""
    path = paths.log_dir / CRASH_LOG
    try:
        paths.ensure(paths.log_dir)
        atomic_write(path, crash_report(error, return_code), PRIVATE)
    except OSError as exc:
        return f"(not written: {path}: {exc.strerror or exc})"
    return str(path)


def run_panel(app: App[Any], paths: Paths, **run: Any) -> int:
    """Run the panel; on a crash write the log, say where on stderr, and return non-zero.

    Args:
        app: the panel (or, in tests, any app).
        paths: where the log dir is.
        **run: passed to ``App.run`` (tests run headless).

    Returns:
        0 when the panel was quit, else the app's return code (1 after a crash).
    """
    try:
        app.run(**run)
    except Exception as exc:  # raised outside Textual's own loop (building or tearing down)
        error: BaseException | None = exc
        code = 1
    else:
        code = app.return_code or 0
        if code == 0:
            return 0
        # the exception that ended the app (Textual 8.2 keeps it for test frameworks)
        error = getattr(app, "_exception", None)
    where = write_crash_log(paths, error, code)
    what = f": {type(error).__name__}: {error}" if error is not None else ""
    print(f"naptha-tui: error: the panel crashed{what}; traceback in {where}", file=sys.stderr)
    return code
