"""How a run goes: progress while it runs, a cancel that keeps what landed, saved, finished.

A run (``LoadTest``, ``Sweep``, ``EvalRun``) calls back with a progress snapshot as it goes
and returns its result document; ``cancel()`` stops it sending, and it then returns what had
landed, marked ``cancelled``. Headless, Ctrl-C is that cancel (:func:`ctrl_c_cancels`) and a
progress line is printed every few seconds (:class:`Every`); in the panel, Escape is, and each
snapshot is a message. Either way the result is then saved in the feature's store
(:func:`keep`) and shown by the feature's report.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths

from .store import RunStore

PROGRESS_EVERY_S = 2.0
"""A headless run's progress line: at most one every so many seconds."""


class Cancellable(Protocol):
    def cancel(self) -> None:
        """Stop sending; the run returns what had landed, marked cancelled."""


@contextlib.contextmanager
def ctrl_c_cancels(run: Cancellable, say: Callable[[str], None]) -> Iterator[None]:
    """While inside (on the running loop), a first Ctrl-C cancels ``run``; a second quits."""
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        say("stopping: Ctrl-C again to quit at once")
        run.cancel()
        loop.remove_signal_handler(signal.SIGINT)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, interrupted)
    try:
        yield
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)


class Every:
    """Says a run's progress line at most every ``seconds`` of its elapsed time."""

    def __init__(self, say: Callable[[str], None], seconds: float = PROGRESS_EVERY_S) -> None:
        self.say = say
        self.seconds = seconds
        self.last = 0.0

    def __call__(self, elapsed_s: float, line: str, now: bool = False) -> None:
        """``line`` at ``elapsed_s`` into the run (``now``: whatever the time, the last one)."""
        if now or elapsed_s - self.last >= self.seconds:
            self.last = elapsed_s
            self.say(line)

    def restart(self) -> None:
        """A new stage: its clock starts at zero again."""
        self.last = 0.0


def keep(store: RunStore, paths: Paths, result: dict[str, Any], label: str) -> str | None:
    """Save ``result`` (its ``name`` set); why it could not be, or None (it is shown anyway)."""
    try:
        result["name"] = store.save(paths, result, label)
    except (OSError, NapthaError) as exc:
        return f"not saved: {exc}"
    return None
