"""The Ollama daemon: its models, what is loaded (VRAM share, expiry), load / unload / pull.

No daemon is the normal case on most machines (and in CI): the panel then says so in one
line, polls again every ``POLL_S`` seconds, and never notifies or logs about it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Static

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.ollama.client import OllamaDown, tagged
from naptha_tui.backends.ollama.types import LoadedModel, OllamaModel, PullProgress
from naptha_tui.tui.dialog import Dialog
from naptha_tui.tui.failures import ReportsWorkerFailures
from naptha_tui.tui.format import decimal_size, percent, until
from naptha_tui.tui.messages import ActionFailed, ActivityNoted
from naptha_tui.tui.widgets.tables import cursor_key

POLL_S = 10.0
"""How often the daemon is asked for its models (rarely: usually nothing answers)."""


class OllamaLike(Protocol):
    """What the panel needs from an Ollama client (``backends.ollama.client.Ollama`` or a fake)."""

    host: str

    async def models(self) -> list[OllamaModel]: ...
    async def loaded(self) -> list[LoadedModel]: ...
    def pull(self, name: str) -> AsyncIterator[PullProgress]: ...
    async def load(self, name: str, keep_alive: str | int | None = None) -> None: ...
    async def unload(self, name: str) -> None: ...
    async def aclose(self) -> None: ...


COLUMNS = (
    ("model", "MODEL"),
    ("size", "SIZE"),
    ("params", "PARAMS"),
    ("memory", "LOADED"),
    ("vram", "VRAM"),
    ("expires", "EXPIRES"),
)


def model_rows(
    models: list[OllamaModel], loaded: list[LoadedModel]
) -> dict[str, tuple[str | Text, ...]]:
    """One row per model of the library, loaded ones first (as ``ollama ps`` orders them);
    a model in memory but no longer in the library still shows."""
    library = {m.name: m for m in models}
    rows: dict[str, tuple[str | Text, ...]] = {}
    for m in loaded:
        known = library.get(m.name)
        rows[m.name] = (
            Text(m.name, style="bold"),
            decimal_size(known.size) if known else "-",
            _params(known),
            decimal_size(m.size),
            vram(m),
            until(m.expires_at),
        )
    for name, known in library.items():
        if name not in rows:
            rows[name] = (name, decimal_size(known.size), _params(known), "-", "-", "-")
    return rows


def _params(m: OllamaModel | None) -> str:
    return (m.parameter_size or "-") if m is not None else "-"


def vram(m: LoadedModel) -> str:
    """The share of the loaded model on the GPU: ``100% GPU``, ``60% GPU``, ``0% GPU`` (the
    CLI's ``ollama ps`` form, ``40%/60% CPU/GPU``, is too wide for the panel)."""
    share = m.vram_share
    return f"{min(share, 1.0):.0%} GPU" if share is not None else "-"


class OllamaTable(DataTable[str | Text]):
    """The daemon's models; keys act on the highlighted one while the table has focus."""

    BINDINGS = [
        Binding("enter", "load", "Load model", id="ollama.load"),
        Binding("u", "unload", "Unload model", id="ollama.unload"),
        Binding("n", "pull", "Pull model", id="ollama.pull"),
    ]

    @property
    def selected(self) -> str | None:
        """The model under the cursor."""
        return cursor_key(self)

    def _panel(self) -> OllamaPanel:
        return self.query_ancestor(OllamaPanel)

    def action_load(self) -> None:
        self._panel().action_load()

    def action_unload(self) -> None:
        self._panel().action_unload()

    def action_pull(self) -> None:
        self._panel().action_pull()


class PullModal(Dialog):
    """Ask for the model to pull; Enter pulls, Escape cancels."""

    DEFAULT_CSS = "PullModal > Vertical { width: 64; }"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Pull an Ollama model[/b]  [dim]model[:tag], e.g. llama3.2:1b[/dim]")
            yield Input(placeholder="model:tag", id="pull-name")

    @on(Input.Submitted)
    def submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class OllamaPanel(ReportsWorkerFailures, Vertical):
    """Ollama's library and loaded models, polled every ``POLL_S`` seconds."""

    DEFAULT_CSS = """
    OllamaPanel { height: 1fr; }
    OllamaPanel > #ollama-status { height: auto; }
    OllamaPanel > OllamaTable { height: 1fr; }
    """

    @dataclass
    class Sampled(Message):
        """The daemon was asked; ``problem`` says why it could not answer."""

        models: list[OllamaModel]
        loaded: list[LoadedModel]
        problem: str | None = None

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, OllamaPanel.Sampled)

    @dataclass
    class Pulling(Message):
        """A pull moved on (``line`` None: it ended)."""

        line: str | None

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, OllamaPanel.Pulling)

    def __init__(
        self,
        client: Callable[[], OllamaLike],
        keep_alive: str | int | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.make_client = client
        self.keep_alive = keep_alive
        self.client: OllamaLike | None = None
        self.up: bool | None = None
        """None before the first answer; then whether the daemon answered last time."""
        self._rows: dict[str, tuple[str | Text, ...]] = {}
        self._pulling: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("[dim]Ollama: asking…[/dim]", id="ollama-status")
        yield OllamaTable(id="ollama-models")

    @property
    def table(self) -> OllamaTable:
        return self.query_one(OllamaTable)

    def on_mount(self) -> None:
        self.client = self.make_client()
        self.border_title = f"Ollama · {self.client.host}"
        self.table.cursor_type = "row"
        self.table.display = False
        for key, label in COLUMNS:
            self.table.add_column(label, key=key)
        self.poll()
        self.set_interval(POLL_S, self.poll)

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    # -- workers ------------------------------------------------------------------------
    @work(exclusive=True, group="ollama", exit_on_error=False, description="ask Ollama")
    async def poll(self) -> None:
        assert self.client is not None
        try:
            models, loaded = await asyncio.gather(self.client.models(), self.client.loaded())
        except OllamaDown:
            self.post_message(self.Sampled([], [], f"Ollama: no daemon at {self.client.host}"))
            return
        except NapthaError as exc:
            self.post_message(self.Sampled([], [], f"Ollama: {exc}"))
            return
        self.post_message(self.Sampled(models, loaded))

    @work(group="ollama-actions", exit_on_error=False, description="Ollama")
    async def act(self, verb: str, name: str) -> None:
        assert self.client is not None
        try:
            if verb == "load":
                self.note(f"ollama: loading {name}")
                await self.client.load(name, self.keep_alive)
                kept = f" (keep alive {self.keep_alive})" if self.keep_alive is not None else ""
                self.note(f"ollama: {name} loaded{kept}")
            elif verb == "unload":
                self.note(f"ollama: unloading {name}")
                await self.client.unload(name)
                self.note(f"ollama: {name} unloaded")
            else:
                await self._pull(name)
        except NapthaError as exc:
            self.post_message(ActionFailed(str(exc), f"ollama {verb}"))
        finally:
            if verb == "pull":
                self.post_message(self.Pulling(None))
            self.poll()

    async def _pull(self, name: str) -> None:
        assert self.client is not None
        self.note(f"ollama: pulling {name}")
        last = None
        async for p in self.client.pull(name):
            self.post_message(self.Pulling(f"pulling {name}: {percent(p)}"))
            if p.status != last:  # one activity line per step, not one per event
                last = p.status
                self.note(f"ollama pull {name}: {p.status}")

    def note(self, line: str) -> None:
        self.post_message(ActivityNoted(line))

    # -- handlers -----------------------------------------------------------------------
    @on(Sampled)
    def show(self, message: Sampled) -> None:
        message.stop()
        status = self.query_one("#ollama-status", Static)
        self.up = message.problem is None
        if message.problem is not None:
            self._rows = {}
            self.table.display = False
            status.update(Text(message.problem, style="dim"))
            status.display = True
            return
        self.table.display = True
        rows = model_rows(message.models, message.loaded)
        if rows != self._rows:
            keep = self.table.selected
            self.table.clear()
            for name, cells in rows.items():
                self.table.add_row(*cells, key=name)
            self._rows = rows
            if keep in rows:
                self.table.move_cursor(row=list(rows).index(keep), scroll=False)
        self._show_status()

    @on(Pulling)
    def show_pull(self, message: Pulling) -> None:
        message.stop()
        self._pulling = message.line
        self._show_status()

    def _show_status(self) -> None:
        status = self.query_one("#ollama-status", Static)
        if self._pulling is not None:
            status.update(Text(self._pulling))
            status.display = True
        elif self.up:
            loaded = sum(1 for cells in self._rows.values() if cells[3] != "-")
            status.update(Text(f"{len(self._rows)} model(s), {loaded} loaded", style="dim"))
            status.display = True

    # -- actions (keys on the table, and the command palette) ---------------------------
    def _selected(self) -> str | None:
        if not self.up:
            host = self.client.host if self.client else "its address"
            self.notify(f"no Ollama daemon answers at {host}", severity="warning")
            return None
        name = self.table.selected
        if name is None:
            self.notify("no Ollama model selected", severity="warning")
        return name

    def action_load(self) -> None:
        if name := self._selected():
            self.act("load", name)

    def action_unload(self) -> None:
        if name := self._selected():
            self.act("unload", name)

    def action_pull(self) -> None:
        def chosen(name: str | None) -> None:
            if name:
                self.act("pull", tagged(name))

        self.app.push_screen(PullModal(), chosen)
