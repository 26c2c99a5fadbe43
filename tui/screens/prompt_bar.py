"""The one-line prompt at the bottom of any screen: ``:`` commands, ``/`` the server filter."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label


class PromptBarModal(ModalScreen[str | None]):
    """A k9s-style prompt over the screen's last line; Enter gives the text, Escape ``None``.

    A modal, not a widget of each screen, so every screen gets it and none of their layouts (nor
    their snapshots) changes while it is closed. ``changed`` hears every keystroke (the filter
    follows the typing).
    """

    DEFAULT_CSS = """
    PromptBarModal { align: left bottom; }
    PromptBarModal > Horizontal { height: 1; width: 100%; background: $panel; }
    PromptBarModal Label { width: auto; padding: 0 0 0 1; color: $accent; text-style: bold; }
    PromptBarModal #prompt, PromptBarModal #prompt:focus {
        border: none; height: 1; padding: 0 1; width: 1fr; background: $panel;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(
        self,
        prefix: str,
        suggestions: Sequence[str] = (),
        value: str = "",
        placeholder: str = "",
        changed: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.prefix = prefix
        self.suggestions = list(suggestions)
        self.value = value
        self.placeholder = placeholder
        self.changed = changed

    def on_mount(self) -> None:
        # inline, as app.tcss's opaque ``Screen`` rule outranks any DEFAULT_CSS: the screen
        # under the bar stays in view, as under k9s's prompt
        self.styles.background = "transparent"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.prefix)
            yield Input(
                self.value,
                placeholder=self.placeholder,
                suggester=SuggestFromList(self.suggestions) if self.suggestions else None,
                id="prompt",
            )

    @on(Input.Changed, "#prompt")
    def follow(self, event: Input.Changed) -> None:
        if self.changed is not None:
            self.changed(event.value)

    @on(Input.Submitted, "#prompt")
    def submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
