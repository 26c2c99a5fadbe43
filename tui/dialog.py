"""The panel's dialogs: a box in the screen's middle that answers a string, or None."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import ModalScreen


class Dialog(ModalScreen[str | None]):
    """A box in the middle of the screen; Escape answers None.

    Start a preset, swap, pull a model, save and load a session: each composes a ``Vertical``
    and sets what differs in its own DEFAULT_CSS (``SwapModal > Vertical { width: 96; }``),
    which Textual ranks above this one.
    """

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > Vertical {
        width: 80; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    Dialog OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)
