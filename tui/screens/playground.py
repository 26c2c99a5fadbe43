"""The playground: one prompt across modes and temperatures, each sample judged as it lands.

A run screen (``screens/run.py``), as bench and eval are, driving the same core as
``naptha-tui try`` (``backends/playground``): ctrl+r reads the form into a Spec (a problem is
shown under its field and nothing is sent), ``prepare`` checks it against the models the proxy
serves and lints it (warnings above the results, never blocking), then the sweep runs in the
run's worker; each sample fills the validity grid (the live view) and the samples table as it
lands. Escape stops it and keeps what landed. Its own: the samples' detail (x names the layer
where a call broke, c and k copy one as curl or SDK code) and sessions (ctrl+s, ctrl+o) in
place of saved runs: a sweep's results are not kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from naptha_tui.backends.endpoints import Target
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.playground.form import field_key
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
from naptha_tui.backends.runs.fields import BadInput, Problem
from naptha_tui.tui.messages import ModelsListed
from naptha_tui.tui.screens.run import RunScreen
from naptha_tui.tui.widgets.playground_form import PlaygroundForm
from naptha_tui.tui.widgets.playground_results import GridTable, SampleDetail, SampleTable
from naptha_tui.tui.widgets.playground_sessions import LoadSessionModal, SaveSessionModal

if TYPE_CHECKING:
    from naptha_tui.tui.app import PlaygroundEngine


@dataclass
class SweepPrepared(Message):
    """``prepare`` found nothing wrong: its warnings, and the sweep to come."""

    prepared: Prepared
    sweep: Sweep


@dataclass
class SampleLanded(Message):
    """One sample came back and was judged."""

    sweep: Sweep
    sample: Sample
    cell: Cell


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


class PlaygroundScreen(RunScreen):
    """Debug tool calls and guided outputs: a sweep of samples, each with its raw text."""

    BINDINGS = [
        Binding("ctrl+r", "start", "Run", id="playground.run"),
        Binding("escape", "stop_or_back", "Stop / Back", id="playground.back"),
        Binding("ctrl+s", "save_session", "Save", id="playground.save"),
        Binding("ctrl+o", "load_session", "Load", id="playground.load"),
    ]
    KIND = "playground"
    A_RUN = "a sweep"
    ASKING = "checking the session…"

    form = getters.query_one(PlaygroundForm)
    grid = getters.query_one(GridTable)
    samples = getters.query_one(SampleTable)
    detail = getters.query_one(SampleDetail)
    warnings = getters.query_one("#playground-warnings", Static)

    def __init__(self) -> None:
        super().__init__()
        self._engine: PlaygroundEngine | None = None
        self._target: Target | None = None
        self._retired: list[PlaygroundEngine] = []
        """Engines of an earlier target (a server started or stopped): closed on unmount."""
        self._sweeping: PlaygroundEngine | None = None
        """The engine the sweep going was prepared on."""
        self._sweep: Sweep | None = None
        self._session = ""
        self._evidence: dict[int, Evidence] = {}
        """Per explained sample of this sweep (by ``id``), what each layer said."""

    def make_form(self, id: str) -> PlaygroundForm:
        return PlaygroundForm(id=id)

    def make_live(self, id: str) -> GridTable:
        return GridTable(id=id)

    def compose_above(self) -> ComposeResult:
        yield Static("", id="playground-warnings")

    def compose_results(self) -> ComposeResult:
        yield SampleTable(id="playground-samples")
        yield SampleDetail(id="playground-detail")

    def mounted(self) -> None:
        self.grid.border_title = "Validity"
        self.samples.border_title = "Samples"
        self.warnings.display = False

    async def on_unmount(self) -> None:
        for engine in [*self._retired, *([self._engine] if self._engine else [])]:
            await engine.aclose()

    def engine(self) -> PlaygroundEngine:
        """The engine for the node's current target (servers come and go)."""
        target = self.napp.node.playground_target()
        if self._engine is None or target != self._target:
            if self._engine is not None:
                self._retired.append(self._engine)
            self._engine, self._target = self.napp.playground(target), target
        return self._engine

    # -- the run ------------------------------------------------------------------------
    def read(self) -> Spec:
        spec, problems = self.form.read()
        if problems:
            # what the form could not read, and what else the core would say: nothing is sent
            seen = {field_key(p.field) for p in problems}
            problems += [p for p in check(spec, None) if field_key(p.field) not in seen]
            raise BadInput(problems)
        self.show_warnings([])
        return spec

    async def ask_models(self, server: str | None) -> ModelsListed:
        try:
            return ModelsListed(await self.engine().served())
        except Exception as exc:
            self.post_message(ModelsListed([], f"{type(exc).__name__}: {exc}"))
            raise  # said by the error channel too: what failed, and where

    async def prepare(self, spec: Spec) -> tuple[Sweep, str]:
        engine = self.engine()
        prepared = await engine.prepare(spec)
        if prepared.problems:
            raise BadInput(prepared.problems)
        sweep, self._sweeping = Sweep(spec), engine
        self.post_message(SweepPrepared(prepared, sweep))
        return sweep, "proxy"

    async def execute(self, job: Sweep) -> tuple[dict[str, Any], Sweep]:
        def landed(s: Sample, cell: Cell) -> None:
            self.post_message(SampleLanded(job, s, cell))

        assert self._sweeping is not None
        await job.run(self._sweeping, landed)
        return job.to_json() | {"cancelled": job.cancelled}, job

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
    @on(SweepPrepared)
    def show_prepared(self, message: SweepPrepared) -> None:
        self.begin(message.sweep, message.prepared.warnings)

    @on(SampleLanded)
    def show_sample(self, message: SampleLanded) -> None:
        if message.sweep is not self._sweep:
            return  # from a sweep this one replaced
        self.grid.update(message.cell)
        self.samples.add(message.sample)
        self.say(self._progress(message.sweep), "yellow")

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

    # -- rendering (tests feed these fixed states) --------------------------------------
    def begin(self, sweep: Sweep, warnings: list[str]) -> None:
        """A sweep was checked and starts: the grid and samples start over."""
        self._sweep = sweep
        self._evidence.clear()
        self._started = self._progress(sweep)
        self.show_warnings(warnings)
        self.grid.start(sweep)
        self.grid.display = True
        self.samples.reset()
        self.detail.show(None)
        self.say(self._started, "yellow")

    def show_doc(self, doc: dict[str, Any], details: Any = None) -> None:
        """The grid and samples were filled as they landed: nothing more to show."""

    def done_text(self, result: dict[str, Any]) -> str:
        return f"{result['samples']} samples"

    def stopped_text(self, result: dict[str, Any]) -> str:
        return f"{self.done_text(result)} (the partial results stay)"

    def show_warnings(self, warnings: list[str]) -> None:
        self.warnings.update(Text("\n".join(f"⚠ {w}" for w in warnings), style="yellow"))
        self.warnings.display = bool(warnings)

    @staticmethod
    def _progress(sweep: Sweep) -> str:
        return f"running: {len(sweep.samples)} of {sweep.planned} samples · Escape stops"

    # -- actions ------------------------------------------------------------------------
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
