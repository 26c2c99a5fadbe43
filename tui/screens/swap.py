"""Swap a running server for another preset: pick it, read the planner's verdict, confirm."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.servers.verdict import Verdict
from naptha_tui.proxy.node.swap import SwapChoice
from naptha_tui.tui.dialog import Dialog
from naptha_tui.tui.failures import ReportsWorkerFailures
from naptha_tui.tui.format import gib_of

VerdictSource = Callable[[str, str], Awaitable[Verdict]]
"""``node.swap_verdict(running, preset)``."""


def place(v: Verdict) -> str:
    """``in RAM``, ``on GPU 0``."""
    return "in RAM" if v.device == "RAM" else f"on {v.device}"


def verdict_text(v: Verdict, running: str, preset: str) -> Text:
    """The verdict as the modal shows it: the answer, the numbers in GiB, refusals in red."""
    where = place(v)
    if v.fits is None:
        head = Text(f"{preset}: memory cannot be checked {where}", style="bold yellow")
    elif v.fits:
        head = Text(f"{preset} fits {where}", style="bold green")
    else:
        head = Text(f"{preset} will not fit {where}", style="bold red")
    lines = [head]
    if v.need is not None:
        n = v.need
        need = (
            f"needs    {gib_of(n.total, 2)}  (weights {gib_of(n.weights, 2)}"
            f" + KV cache {gib_of(n.kv, 2)} + overhead {gib_of(n.overhead, 2)})"
        )
        if v.device != "RAM" and v.budget is not None:
            need += f" of a budget of {gib_of(v.budget, 1)}"
        lines.append(Text(need))
    if v.free is not None:
        lines.append(Text(f"free     {gib_of(v.free)} once {running} is freed"))
    if v.held_by:
        held = ", ".join(f"{h.name} {gib_of(h.bytes)}" for h in v.held_by)
        lines.append(Text(f"held by  {held}"))
    if v.fits is False:
        lines += [Text(r, style="red") for r in v.reasons]
    lines += [Text(note, style="dim") for note in v.notes]
    return Text("\n").join(lines)


def choice_label(choice: SwapChoice) -> Text:
    """One line of the list: name, runtime and model; greyed with the reason when it cannot."""
    p = choice.preset
    if choice.blocked is None:
        return Text.assemble(p.name, ("  ", ""), (f"{p.runtime} · {p.model}", "dim"))
    return Text.assemble((p.name, "dim"), ("  ", ""), (choice.blocked, "dim italic"))


class SwapModal(ReportsWorkerFailures, Dialog):
    """Presets to swap in for ``running``; the highlighted one's verdict shows below the list.

    Presets that can start on this node come first; the others follow greyed, with the reason
    they cannot (they cannot be highlighted). Enter or ``y`` swaps (not when the planner
    refuses: the swap would refuse too), Escape cancels.
    """

    DEFAULT_CSS = """
    SwapModal > Vertical { width: 96; max-height: 90%; }
    SwapModal OptionList { max-height: 12; }
    SwapModal #verdict { height: auto; margin: 1 0 0 0; }
    SwapModal #swap-keys { margin: 1 0 0 0; }
    """
    BINDINGS = [Binding("y", "confirm", "Swap", id="swap.confirm")]

    @dataclass
    class Checked(Message):
        """The planner answered for ``preset`` (a string: why it could not)."""

        preset: str
        verdict: Verdict | str

    def __init__(self, running: str, choices: list[SwapChoice], verdict: VerdictSource) -> None:
        super().__init__()
        self.running = running
        self.choices = choices
        self.verdict = verdict
        self.checked: dict[str, Verdict | str] = {}
        """Per preset: the verdict, or why the planner could not answer (the swap then says
        it again, or goes ahead: an unknown never refuses)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]Swap {self.running}[/b] for the preset:")
            yield OptionList(
                *[
                    Option(choice_label(c), id=c.preset.name, disabled=c.blocked is not None)
                    for c in self.choices
                ]
            )
            runnable = sum(c.blocked is None for c in self.choices)
            yield Static(
                ""
                if runnable
                else Text(
                    f"nothing on this node can replace {self.running}: each preset says why",
                    style="yellow",
                ),
                id="verdict",
            )
            yield Label("[b]Enter[/b]/[b]y[/b] swap   [b]Escape[/b] cancel", id="swap-keys")

    @property
    def highlighted(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(OptionList.OptionHighlighted)
    def highlight(self, event: OptionList.OptionHighlighted) -> None:
        name = event.option.id
        if name is None:
            return
        if name in self.checked:
            self._show(name)
        else:
            self.query_one("#verdict", Static).update(Text("asking the planner…", style="dim"))
            self.check(name)

    @work(exclusive=True, group="verdict", exit_on_error=False, description="swap verdict")
    async def check(self, preset: str) -> None:
        try:
            self.post_message(self.Checked(preset, await self.verdict(self.running, preset)))
        except NapthaError as exc:
            self.post_message(self.Checked(preset, str(exc)))

    @on(Checked)
    def checked_one(self, message: Checked) -> None:
        self.checked[message.preset] = message.verdict
        if message.preset == self.highlighted:  # the highlight may have moved on meanwhile
            self._show(message.preset)

    def _show(self, preset: str) -> None:
        found = self.checked[preset]
        text = (
            verdict_text(found, self.running, preset)
            if isinstance(found, Verdict)
            else Text(f"{preset}: memory cannot be checked: {found}", style="yellow")
        )
        self.query_one("#verdict", Static).update(text)

    @on(OptionList.OptionSelected)
    def choose(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.confirm(event.option.id)

    def action_confirm(self) -> None:
        if (name := self.highlighted) is not None:
            self.confirm(name)

    def confirm(self, preset: str) -> None:
        if preset not in self.checked:
            self.notify("still asking the planner…", severity="warning")
            return
        found = self.checked[preset]
        if isinstance(found, Verdict) and found.fits is False:
            self.notify(
                f"{preset} will not fit {place(found)}: the swap would refuse it",
                title="swap",
                severity="error",
            )
            return
        self.dismiss(preset)
