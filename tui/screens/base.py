"""What the panel's screens share: typed access to the app, and the one error channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from naptha_tui.tui.failures import ReportsWorkerFailures

if TYPE_CHECKING:
    from naptha_tui.tui.app import NapthaTuiApp


class NapthaScreen(ReportsWorkerFailures, Screen[None]):
    """A full screen of the panel; a worker of its that fails is reported to the app."""

    @property
    def napp(self) -> NapthaTuiApp:
        """The running panel (the app module imports the screens, so this import waits)."""
        from naptha_tui.tui.app import NapthaTuiApp

        assert isinstance(self.app, NapthaTuiApp)
        return self.app
