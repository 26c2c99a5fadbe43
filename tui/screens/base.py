"""What the panel's screens share: typed access to the app (its node, settings, readers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

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
