"""The playground's session modals: a name to save under, a saved session to load."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from naptha_tui.tui.dialog import Dialog

MODAL_CSS = "{name} > Vertical {{ width: 64; }} {name} OptionList {{ max-height: 16; }}"


class SaveSessionModal(Dialog):
    """Ask for a session name; Enter saves, Escape cancels."""

    DEFAULT_CSS = MODAL_CSS.format(name="SaveSessionModal")

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


class LoadSessionModal(Dialog):
    """The saved sessions; Enter loads the highlighted one, Escape cancels."""

    DEFAULT_CSS = MODAL_CSS.format(name="LoadSessionModal")

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
