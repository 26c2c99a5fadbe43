"""The playground's session modals: a name to save under, a saved session to load."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 64; height: auto; max-height: 80%;
    border: thick $primary; background: $surface; padding: 1 2;
}}
{name} OptionList {{ height: auto; max-height: 16; }}
"""


class SaveSessionModal(ModalScreen[str | None]):
    """Ask for a session name; Enter saves, Escape cancels."""

    DEFAULT_CSS = MODAL_CSS.format(name="SaveSessionModal")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.initial = name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Save playground session[/b]  [dim]letters, digits, _ . -[/dim]")
            yield Input(self.initial, placeholder="session name", id="session-name")

    @on(Input.Submitted)
    def save(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LoadSessionModal(ModalScreen[str | None]):
    """The saved sessions; Enter loads the highlighted one, Escape cancels."""

    DEFAULT_CSS = MODAL_CSS.format(name="LoadSessionModal")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Load playground session[/b]")
            yield OptionList(*[Option(n, id=n) for n in self.names], id="sessions")

    @on(OptionList.OptionSelected)
    def choose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
