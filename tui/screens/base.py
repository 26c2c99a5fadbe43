"""What the panel's screens share: typed access to the app, and one worker-failure handler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from naptha_tui.backends.errors import NapthaError

if TYPE_CHECKING:
    from naptha_tui.tui.app import NapthaTuiApp


class NapthaScreen(Screen[None]):
    """A full screen of the panel."""

    @property
    def napp(self) -> NapthaTuiApp:
        """The running panel (the app module imports the screens, so this import waits)."""
        from naptha_tui.tui.app import NapthaTuiApp

        assert isinstance(self.app, NapthaTuiApp)
        return self.app

    @on(Worker.StateChanged)
    def _report_failure(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        text = str(error) if isinstance(error, NapthaError) else f"{type(error).__name__}: {error}"
        self.show_failure(text, event.worker.description or "error")

    def show_failure(self, text: str, title: str) -> None:
        """A worker failed (an operator-fixable problem, or a bug): tell the operator."""
        self.notify(text, title=title, severity="error", timeout=10)
