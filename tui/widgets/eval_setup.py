"""bfcl-eval not set up: what to run, a button that runs ``eval setup``'s code, and its lines."""

from __future__ import annotations

from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Log, Static

from naptha_tui.backends.evals.setup import BFCL_VERSION, REQUIREMENT, BfclInstall

LINES = 200
"""Setup lines kept (pip's own output goes to the setup log, only a few lines come here)."""


def not_ready_text(found: BfclInstall) -> Text:
    return Text.assemble(
        (f"bfcl-eval {BFCL_VERSION} is not set up", "bold yellow"),
        f" in {found.location} ({found.detail}).\n",
        "Run ",
        ("naptha-tui eval setup", "bold"),
        f", or press Set up: it installs {REQUIREMENT} without its dependencies (its cases, "
        "possible answers and AST checker, 1.9 MB) with pip.",
    )


class SetupBox(Vertical):
    """Shown while bfcl-eval is not ready; ``done`` hides it."""

    about = getters.query_one("#setup-message", Static)
    button = getters.query_one("#setup", Button)
    lines = getters.query_one("#setup-log", Log)

    def compose(self) -> ComposeResult:
        yield Static("", id="setup-message")
        with Horizontal(id="setup-row"):
            yield Button("Set up bfcl-eval", id="setup", variant="warning", compact=True)
            yield Static("", id="setup-state")
        yield Log(id="setup-log", max_lines=LINES, auto_scroll=True)

    def on_mount(self) -> None:
        self.lines.display = False

    def show(self, found: BfclInstall) -> None:
        """Not ready: say what to run (ready: hidden)."""
        self.display = not found.ready
        if not found.ready:
            self.about.update(not_ready_text(found))

    def started(self) -> None:
        self.button.disabled = True
        self.lines.clear()
        self.lines.display = True
        self.state("installing…", "yellow")

    def line(self, text: str) -> None:
        self.lines.write_line(text)

    def failed(self, text: str) -> None:
        self.button.disabled = False
        self.line(text)
        self.state("setup failed: see the last lines (the setup log has pip's output)", "red")

    def state(self, text: str, style: str) -> None:
        self.query_one("#setup-state", Static).update(Text(text, style=style))
