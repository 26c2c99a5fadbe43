"""The playground: one prompt across modes and temperatures, each sample judged as it lands.

The screen drives the same core as ``naptha-tui try`` (``backends/playground``): the form
builds a Spec, ``prepare`` checks it against the models the proxy serves (a problem is shown
under its field and nothing is sent) and lints it (warnings above the results, never
blocking), then the sweep runs in a worker in group ``playground``. Escape stops it and keeps
what landed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, DataTable, Footer, Header, Static
from textual.worker import Worker

from naptha_tui.backends.endpoints import Target
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.playground.layers import Evidence
from naptha_tui.backends.playground.results import Cell, Sample, Sweep
from naptha_tui.backends.playground.run import Prepared
from naptha_tui.backends.playground.sessions import (
    curl_command,
    list_sessions,
    load_session,
    save_session,
    sdk_snippet,
)
from naptha_tui.backends.playground.spec import Spec, check
from naptha_tui.backends.runs.fields import Problem
from naptha_tui.tui.messages import ModelsListed
from naptha_tui.tui.screens.base import NapthaScreen
from naptha_tui.tui.widgets.playground_form import PlaygroundForm, field_key
from naptha_tui.tui.widgets.playground_results import GridTable, SampleDetail, SampleTable
from naptha_tui.tui.widgets.playground_sessions import LoadSessionModal, SaveSessionModal

if TYPE_CHECKING:
    from naptha_tui.tui.app import PlaygroundEngine


@dataclass
class SweepPrepared(Message):
    """``prepare`` answered: problems (nothing is sent) or warnings and the sweep to come."""

    prepared: Prepared
    sweep: Sweep


@dataclass
class SampleLanded(Message):
    """One sample came back and was judged."""

    sweep: Sweep
    sample: Sample
    cell: Cell


@dataclass
class SweepEnded(Message):
    """The sweep finished, or was stopped (``sweep.cancelled``) with what had landed."""

    sweep: Sweep
    sent: bool = True
    """False: it was stopped before anything was sent."""


@dataclass
class SampleExplained(Message):
    """A sample's layer was named (``evidence``), or asking for it failed (``error``)."""

    sample: Sample
    evidence: Evidence | None
    error: str | None = None


@dataclass
class SessionLoaded(Message):
    """A saved session was read (``problem``: why it could not be, and nothing changed)."""

    name: str
    spec: Spec | None
    problem: str | None = None


@dataclass
class SessionSaved(Message):
    name: str
    path: Path


class PlaygroundScreen(NapthaScreen):
    """Debug tool calls and guided outputs: a sweep of samples, each with its raw text."""

    CSS_PATH = "playground.tcss"
    BINDINGS = [
        Binding("ctrl+r", "run", "Run", id="playground.run"),
        Binding("escape", "stop_or_back", "Stop / Back", id="playground.back"),
        Binding("ctrl+s", "save_session", "Save", id="playground.save"),
        Binding("ctrl+o", "load_session", "Load", id="playground.load"),
    ]

    form = getters.query_one(PlaygroundForm)
    grid = getters.query_one(GridTable)
    samples = getters.query_one(SampleTable)
    detail = getters.query_one(SampleDetail)
    status = getters.query_one("#playground-status", Static)
    warnings = getters.query_one("#playground-warnings", Static)

    def __init__(self) -> None:
        super().__init__()
        self._engine: PlaygroundEngine | None = None
        self._target: Target | None = None
        self._retired: list[PlaygroundEngine] = []
        """Engines of an earlier target (a server started or stopped): closed on unmount."""
        self._sweep_worker: Worker[None] | None = None
        self._sweep: Sweep | None = None
        self._session = ""
        self._evidence: dict[int, Evidence] = {}
        """Per explained sample of this sweep (by ``id``), what each layer said."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="playground-body"):
            yield PlaygroundForm(id="playground-form")
            with Vertical(id="playground-results"):
                yield Static("", id="playground-warnings")
                yield Static(Text("ctrl+r runs the sweep", style="dim"), id="playground-status")
                yield GridTable(id="playground-grid")
                yield SampleTable(id="playground-samples")
                yield SampleDetail(id="playground-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "playground"
        self.grid.border_title = "Validity"
        self.samples.border_title = "Samples"
        self.warnings.display = False
        self.list_models()

    async def on_unmount(self) -> None:
        for engine in [*self._retired, *([self._engine] if self._engine else [])]:
            await engine.aclose()

    @property
    def running(self) -> bool:
        return self._sweep_worker is not None and not self._sweep_worker.is_finished

    # -- workers: I/O never runs on the UI thread ---------------------------------------
    def engine(self) -> PlaygroundEngine:
        """The engine for the node's current target (servers come and go)."""
        target = self.napp.node.playground_target()
        if self._engine is None or target != self._target:
            if self._engine is not None:
                self._retired.append(self._engine)
            self._engine, self._target = self.napp.playground(target), target
        return self._engine

    @work(exclusive=True, group="playground-models", exit_on_error=False, description="models")
    async def list_models(self) -> None:
        try:
            models = await self.engine().served()
        except Exception as exc:
            self.post_message(ModelsListed([], f"{type(exc).__name__}: {exc}"))
            raise
        self.post_message(ModelsListed(models))

    @work(exclusive=True, group="playground", exit_on_error=False, description="playground sweep")
    async def run_sweep(self, spec: Spec) -> None:
        sweep = Sweep(spec)
        sent = False
        try:
            engine = self.engine()
            prepared = await engine.prepare(spec)
            self.post_message(SweepPrepared(prepared, sweep))
            if prepared.problems:
                return
            sent = True

            def landed(s: Sample, cell: Cell) -> None:
                self.post_message(SampleLanded(sweep, s, cell))

            await sweep.run(engine, landed)
        except asyncio.CancelledError:
            self.post_message(SweepEnded(sweep, sent=sent))
            raise
        self.post_message(SweepEnded(sweep))

    @work(group="playground-explain", exit_on_error=False, description="explain a sample")
    async def explain_sample(self, spec: Spec, s: Sample) -> None:
        try:
            evidence = await self.engine().explain(spec, s)
        except Exception as exc:  # said on the status line; the panel and the sweep go on
            self.post_message(SampleExplained(s, None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(SampleExplained(s, evidence))

    @work(group="playground-sessions", exit_on_error=False, description="save session")
    async def save_as(self, spec: Spec) -> None:
        name = await self.app.push_screen_wait(SaveSessionModal(self._session))
        if name:
            path = await asyncio.to_thread(save_session, self.napp.paths, name, spec)
            self.post_message(SessionSaved(name, path))

    @work(group="playground-sessions", exit_on_error=False, description="load session")
    async def choose_session(self) -> None:
        names = await asyncio.to_thread(list_sessions, self.napp.paths)
        if not names:
            self.notify("no saved playground sessions yet (ctrl+s saves one)")
            return
        name = await self.app.push_screen_wait(LoadSessionModal(names))
        if name:
            try:
                spec = await asyncio.to_thread(load_session, self.napp.paths, name)
            except NapthaError as exc:  # a bad file in the sessions folder: said in the form
                self.post_message(SessionLoaded(name, None, str(exc)))
            else:
                self.post_message(SessionLoaded(name, spec))

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(ModelsListed)
    def show_models(self, message: ModelsListed) -> None:
        self.form.set_served(message.models, message.error)

    @on(SweepPrepared)
    def show_prepared(self, message: SweepPrepared) -> None:
        prepared = message.prepared
        self.form.show_problems(prepared.problems)
        if prepared.problems:
            self.say(f"nothing was sent: {len(prepared.problems)} problem(s) in the form", "red")
            return
        self._sweep = message.sweep
        self._evidence.clear()
        self.show_warnings(prepared.warnings)
        self.grid.start(message.sweep)
        self.samples.reset()
        self.detail.show(None)
        self.say(self._progress(message.sweep), "yellow")

    @on(SampleLanded)
    def show_sample(self, message: SampleLanded) -> None:
        if message.sweep is not self._sweep:
            return  # from a sweep this one replaced
        self.grid.update(message.cell)
        self.samples.add(message.sample)
        self.say(self._progress(message.sweep), "yellow")

    @on(SweepEnded)
    def show_end(self, message: SweepEnded) -> None:
        if message.sent and message.sweep is not self._sweep:
            return
        n = len(message.sweep.samples)
        if not message.sent:
            self.say("stopped before anything was sent", "yellow")
        elif message.sweep.cancelled:
            self.say(f"stopped: {n} samples (the partial results stay)", "yellow")
        else:
            self.say(f"done: {n} samples", "green")

    @on(SampleExplained)
    def show_explained(self, message: SampleExplained) -> None:
        s = message.sample
        if message.evidence is None:
            self.say(f"{_label(s)}: could not name the layer: {message.error}", "red")
            return
        self._evidence[id(s)] = message.evidence
        self.say(f"{_label(s)}: layer {s.layer}: {s.layer_reason}", "green")
        if self.samples.highlighted is s:
            self.detail.show(s, message.evidence)

    @on(DataTable.RowHighlighted, "#playground-samples")
    def show_highlighted(self) -> None:
        s = self.samples.highlighted
        self.detail.show(s, self._evidence.get(id(s)) if s is not None else None)

    @on(Button.Pressed, "#run")
    def run_pressed(self) -> None:
        self.action_run()

    @on(SessionLoaded)
    def fill_session(self, message: SessionLoaded) -> None:
        if message.spec is None:
            # under the form's own line: "session NAME: FILE: cannot read: why"
            self.form.show_problems([Problem(f"session {message.name}", str(message.problem))])
            return
        self._session = message.name
        self.form.fill(message.spec)
        self.notify(f"loaded session {message.name}")

    @on(SessionSaved)
    def saved(self, message: SessionSaved) -> None:
        self._session = message.name
        self.notify(f"saved session {message.name} ({message.path})")

    # -- rendering ----------------------------------------------------------------------
    def say(self, text: str, style: str = "") -> None:
        self.status.update(Text(text, style=style))

    def show_warnings(self, warnings: list[str]) -> None:
        self.warnings.update(Text("\n".join(f"⚠ {w}" for w in warnings), style="yellow"))
        self.warnings.display = bool(warnings)

    @staticmethod
    def _progress(sweep: Sweep) -> str:
        return f"running: {len(sweep.samples)} of {sweep.planned} samples · Escape stops"

    # -- actions ------------------------------------------------------------------------
    def action_run(self) -> None:
        if self.running:
            self.notify("a sweep is running: Escape stops it", severity="warning")
            return
        spec, problems = self.form.read()
        if problems:
            # what the form could not read, and what else the core would say: nothing is sent
            seen = {field_key(p.field) for p in problems}
            problems += [p for p in check(spec, None) if field_key(p.field) not in seen]
            self.form.show_problems(problems)
            self.say(f"nothing was sent: {len(problems)} problem(s) in the form", "red")
            return
        self.form.show_problems([])
        self.show_warnings([])
        self.say("checking the session…", "yellow")
        worker = self.run_sweep(spec)
        self._sweep_worker = worker

    def action_stop_or_back(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "playground")
        else:
            self.app.pop_screen()

    def action_explain(self) -> None:
        s = self.samples.highlighted
        if s is None or self._sweep is None:
            self.notify("no sample selected", severity="warning")
            return
        if s.error is not None:
            self.notify(f"{_label(s)} failed ({s.error}): no answer to explain", severity="warning")
            return
        self.say(f"{_label(s)}: asking each layer (about five more requests)…", "yellow")
        self.explain_sample(self._sweep.spec, s)

    def action_save_session(self) -> None:
        spec, problems = self.form.read()
        if problems:
            self.form.show_problems(problems)
            self.notify("fix the marked fields before saving", severity="warning")
            return
        self.save_as(spec)

    def action_load_session(self) -> None:
        self.choose_session()

    def _copy(self, what: str) -> None:
        s = self.samples.highlighted
        if s is None or self._target is None:
            self.notify("no sample selected", severity="warning")
            return
        t = self._target
        if what == "curl":
            text = curl_command(t.proxy_url, s.body, t.key_file)
        else:
            text = sdk_snippet(t.proxy_url, s.body, t.key_file)
        self.app.copy_to_clipboard(text)
        self.notify(
            f"{_label(s)} copied as {what} ({len(text)} chars)",
            title="clipboard",
        )

    def action_copy_curl(self) -> None:
        self._copy("curl")

    def action_copy_sdk(self) -> None:
        self._copy("OpenAI SDK code")


def _label(s: Sample) -> str:
    return f"{s.mode} t={s.temperature:g} #{s.index}"
