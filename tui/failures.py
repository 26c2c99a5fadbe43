"""One error channel: a worker that fails, wherever it was started, reaches the app.

Textual posts ``Worker.StateChanged`` to the node that started the worker and does not bubble
it (``textual/worker.py``: ``bubble=False``), so a handler on a screen never hears the workers
of its widgets or of a modal over it. Every screen, widget and modal that starts workers mixes
in :class:`ReportsWorkerFailures`, which turns a worker's ERROR into
:class:`~naptha_tui.tui.messages.ActionFailed`; that message bubbles to the app, whose one
handler shows it (a notification and the dashboard's activity log) and keeps the panel
running. Workers are started with ``exit_on_error=False`` so Textual never ends the panel for
one (``tests/tui/test_one_error_channel.py`` checks both for every ``@work`` in ``tui/``).
"""

from __future__ import annotations

from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerState

from naptha_tui.backends.errors import NapthaError
from naptha_tui.tui.messages import ActionFailed


def failure_text(error: BaseException) -> str:
    """What the operator reads: a NapthaError's own words, else the exception's type too."""
    return str(error) if isinstance(error, NapthaError) else f"{type(error).__name__}: {error}"


class ReportsWorkerFailures:
    """Mix into a screen, widget or modal that starts workers (before its Textual base)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state != WorkerState.ERROR or worker.error is None:
            return
        assert isinstance(self, MessagePump)
        self.post_message(ActionFailed(failure_text(worker.error), worker.description or "error"))
