"""Pick a preset to start."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from naptha_tui.backends.presets import Preset


class StartPresetModal(ModalScreen[str | None]):
    """A list of presets; Enter starts the highlighted one, Escape cancels."""

    DEFAULT_CSS = """
    StartPresetModal { align: center middle; }
    StartPresetModal > Vertical {
        width: 80; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    StartPresetModal OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modal.cancel")]

    def __init__(self, presets: list[Preset]) -> None:
        super().__init__()
        self.presets = presets

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Start a preset[/b]")
            yield OptionList(
                *[
                    Option(f"{p.name}  [dim]{p.runtime} · {p.model}[/dim]", id=p.name)
                    for p in self.presets
                ]
            )

    @on(OptionList.OptionSelected)
    def choose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
