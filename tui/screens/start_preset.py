"""Pick a preset to start."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from naptha_tui.backends.presets import Preset
from naptha_tui.tui.dialog import Dialog


class StartPresetModal(Dialog):
    """A list of presets; Enter starts the highlighted one, Escape cancels."""

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
