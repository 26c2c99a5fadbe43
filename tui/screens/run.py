"""What the Bench, Eval and Playground screens share: one run screen that each specialises.

A form on the left (``RunForm``, made from the feature's field table), and on the right a
status line, the live view while a run goes, and the results: by default tabs, the feature's
own (a report, an accuracy table...) and the saved runs (``SavedRunsTable``: Enter shows one,
space marks A and B, c compares them); a feature whose runs are not kept (the playground:
``RUNS`` None) has no saved-runs tab. ids follow the feature's kind (``#bench-status``,
``#eval-runs``), and so does its stylesheet (``run.tcss``, then ``bench.tcss``).

A run goes one way (``backends/runs/lifecycle.py``): ctrl+r reads the form (a problem is
shown under its field and nothing is sent), then a worker in group ``run`` has the feature
prepare it against the target (refused: under its field, nothing sent) and run it; its
progress comes back as ``RunProgressed`` (or the feature's own messages), and the result,
saved in the feature's store when it has one, as ``RunFinished``. Escape calls the run's
``cancel()``, which keeps what landed; pressed before it started, nothing was sent; pressed
when idle, it goes back.

A feature says what is its own: its form, live view and results (``compose_*``), how it reads
and prepares a run and runs it (``read``, ``prepare``, ``execute``), and how it shows one
(``begin``, ``show_progress``, ``show_doc``, ``show_comparison``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.runs.fields import BadInput, Problem
from naptha_tui.backends.runs.lifecycle import Cancellable, keep
from naptha_tui.backends.runs.store import RunKind
from naptha_tui.tui.messages import (
    ActionFailed,
    ModelsListed,
    RunAbandoned,
    RunFinished,
    RunProgressed,
    RunRefused,
    RunsCompared,
    RunsListed,
    SavedRunLoaded,
)
from naptha_tui.tui.screens.base import NapthaScreen
from naptha_tui.tui.widgets.run_form import RunForm
from naptha_tui.tui.widgets.saved_runs import SavedRunsTable


class RunScreen(NapthaScreen):
    """A run's form, live view, report, saved runs and compare."""

    BINDINGS = [
        Binding("ctrl+r", "start", "Start", id="run.start"),
        Binding("escape", "stop_or_back", "Stop / Back", id="run.back"),
    ]

    KIND: ClassVar[str]
    """``bench``, ``eval``: the sub-title, the ids and how failures are titled."""
    RUNS: ClassVar[RunKind | None] = None
    """The feature's saved runs: its store, their summaries and how two compare (None: its
    runs are not kept, and it has no saved-runs tab)."""
    A_RUN: ClassVar[str]
    """What one run is called: ``a load test``, ``an evaluation`` (the status line before a run
    says ``ctrl+r starts the load test``, ctrl+r during one ``a load test is running``)."""
    ASKING: ClassVar[str]
    """Said while the run is prepared: ``asking the target for its models…``."""
    RUNS_COLUMNS: ClassVar[tuple[str, ...]] = ()
    RUNS_HINT: ClassVar[str] = "Enter shows a run · space marks A, then B · c compares A and B"
    SHOWN_TAB: ClassVar[str]
    """The tab a saved run is shown in."""

    form = getters.query_one(RunForm)
    runs = getters.query_one(SavedRunsTable)
    tabs = getters.query_one(TabbedContent)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "KIND" in cls.__dict__ and "CSS_PATH" not in cls.__dict__:
            cls.CSS_PATH = ["run.tcss", f"{cls.KIND}.tcss"]  # the shared layout, then its own

    def __init__(self) -> None:
        super().__init__()
        self._worker: Worker[None] | None = None
        self._job: Cancellable | None = None
        self._started = ""
        """What the status line says of the run going (``running random on m via proxy``)."""
        self.result: dict[str, Any] | None = None
        """The last run's result, as saved."""

    @property
    def status(self) -> Static:
        return self.query_one(f"#{self.KIND}-status", Static)

    @property
    def idle_text(self) -> str:
        return f"ctrl+r starts the {self.A_RUN.split(' ', 1)[1]}"

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.is_finished

    @property
    def target_server(self) -> str | None:
        """The server runs go to (None: the proxy)."""
        return None

    # -- what a feature composes ------------------------------------------------------------
    def compose(self) -> ComposeResult:
        k = self.KIND
        yield Header()
        with Horizontal(id=f"{k}-body", classes="run-body"):
            yield self.make_form(f"{k}-form").add_class("run-form")
            with Vertical(id=f"{k}-main", classes="run-main"):
                yield from self.compose_above()
                idle = Text(self.idle_text, style="dim")
                yield Static(idle, id=f"{k}-status", classes="run-status")
                yield self.make_live(f"{k}-live").add_class("run-live")
                yield from self.compose_results()
                yield from self.compose_below()
        yield Footer()

    def make_form(self, id: str) -> RunForm:
        raise NotImplementedError

    def make_live(self, id: str) -> Widget:
        raise NotImplementedError

    def compose_above(self) -> ComposeResult:
        """What stands above the status line."""
        yield from ()

    def compose_results(self) -> ComposeResult:
        """What stands under the live view: the feature's tabs (:meth:`compose_tabs`)."""
        with TabbedContent(id=f"{self.KIND}-tabs", classes="run-tabs"):
            yield from self.compose_tabs()

    def compose_tabs(self) -> ComposeResult:
        """The feature's tabs, with :meth:`saved_runs_tab` among them."""
        yield from self.saved_runs_tab()

    def compose_below(self) -> ComposeResult:
        """What stands under the tabs."""
        yield from ()

    def saved_runs_tab(self) -> ComposeResult:
        assert self.RUNS is not None, "a feature whose runs are not kept has no saved-runs tab"
        with TabPane("Saved runs", id="tab-runs"):
            runs = SavedRunsTable(self.RUNS_COLUMNS, self.run_cells, id=f"{self.KIND}-runs")
            yield runs.add_class("run-runs")
            hint = Text(self.RUNS_HINT, style="dim")
            yield Static(hint, id=f"{self.KIND}-runs-hint", classes="run-runs-hint")

    def run_cells(self, run: dict[str, Any]) -> Sequence[str | Text]:
        """A saved run's row after its name (the feature's ``list`` cells)."""
        raise NotImplementedError

    def on_mount(self) -> None:
        self.sub_title = self.KIND
        live = self.query_one(f"#{self.KIND}-live")
        live.border_title = "Live"
        live.display = False  # until a run starts
        self.mounted()
        self.list_models(self.target_server)
        if self.RUNS is not None:
            self.list_runs()

    def mounted(self) -> None:
        """The feature's own start (other widgets' state, other workers)."""

    # -- what a feature does ----------------------------------------------------------------
    def read(self) -> Any:
        """The run the form describes (BadInput: nothing to send)."""
        raise NotImplementedError

    async def ask_models(self, server: str | None) -> ModelsListed:
        """What the target serves, or why it did not say."""
        raise NotImplementedError

    async def prepare(self, plan: Any) -> tuple[Cancellable, str]:
        """The run, checked against the target (NapthaError: refused), and its label."""
        raise NotImplementedError

    def refusal(self, error: NapthaError) -> list[Problem]:
        """What ``prepare`` refused, under the field it is about."""
        return error.problems if isinstance(error, BadInput) else [Problem("", str(error))]

    async def execute(self, job: Any) -> tuple[dict[str, Any], Any]:
        """Run ``job`` (its progress through :meth:`progressed`): its result, and details."""
        raise NotImplementedError

    async def release(self, job: Any) -> None:
        """After the run, what it holds goes."""

    def progressed(self, progress: Any) -> None:
        self.post_message(RunProgressed(progress))

    # -- workers: I/O never runs on the UI thread ---------------------------------------
    @work(exclusive=True, group="run-models", exit_on_error=False, description="models")
    async def list_models(self, server: str | None) -> None:
        self.post_message(await self.ask_models(server))

    async def _start_run(self, plan: Any) -> None:
        try:
            job, label = await self.prepare(plan)
        except NapthaError as exc:  # a model not served, a target that does not answer, setup
            self.post_message(RunRefused(self.refusal(exc)))
            return
        except asyncio.CancelledError:
            self.post_message(RunAbandoned())
            raise
        self._job = job
        try:
            result, details = await self.execute(job)
        finally:
            self._job = None
            await self.release(job)
        not_saved = None
        if self.RUNS is not None:
            store, paths = self.RUNS.store, self.napp.paths
            not_saved = await asyncio.to_thread(keep, store, paths, result, label)
        self.post_message(RunFinished(result, not_saved, details))

    @work(exclusive=True, group="saved-runs", exit_on_error=False, description="saved runs")
    async def list_runs(self) -> None:
        assert self.RUNS is not None
        self.post_message(RunsListed(await asyncio.to_thread(self.RUNS.summaries, self.napp.paths)))

    @work(exclusive=True, group="saved-run", exit_on_error=False, description="saved run")
    async def open_run(self, name: str) -> None:
        assert self.RUNS is not None
        doc = await asyncio.to_thread(self.RUNS.store.load, self.napp.paths, name)
        self.post_message(SavedRunLoaded(doc))

    @work(exclusive=True, group="saved-run", exit_on_error=False, description="compare")
    async def compare_runs(self, a: str, b: str) -> None:
        assert self.RUNS is not None
        load = self.RUNS.store.load
        da, db = [await asyncio.to_thread(load, self.napp.paths, n) for n in (a, b)]
        self.post_message(RunsCompared(da, db))

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(ModelsListed)
    def show_models(self, message: ModelsListed) -> None:
        if message.server != self.target_server:
            return  # for a target chosen before this one
        self.form.set_served(message.models, message.error)
        if message.error:
            self.say(message.error, "red")

    @on(RunRefused)
    def show_refused(self, message: RunRefused) -> None:
        self.refuse(message.problems)

    @on(RunAbandoned)
    def show_abandoned(self) -> None:
        self.say("stopped before anything was sent", "yellow")

    @on(RunProgressed)
    def show_progressed(self, message: RunProgressed) -> None:
        self.show_progress(message.progress)

    @on(RunFinished)
    def show_finished(self, message: RunFinished) -> None:
        self.show_result(message.result, message.details)
        if message.not_saved:
            self.post_message(ActionFailed(message.not_saved, self.KIND))

    @on(RunsListed)
    def show_runs(self, message: RunsListed) -> None:
        self.runs.set_runs(message.runs)

    @on(SavedRunsTable.ShowRun)
    def show_run_pressed(self, message: SavedRunsTable.ShowRun) -> None:
        self.open_run(message.name)

    @on(SavedRunsTable.CompareRuns)
    def compare_pressed(self, message: SavedRunsTable.CompareRuns) -> None:
        self.compare_runs(message.a, message.b)

    @on(SavedRunLoaded)
    def show_saved(self, message: SavedRunLoaded) -> None:
        self.show_doc(message.result)
        self.tabs.active = self.SHOWN_TAB
        self.say(f"saved run {message.result.get('name')}")

    @on(RunsCompared)
    def show_compared(self, message: RunsCompared) -> None:
        self.show_comparison(message.a, message.b)

    @on(Button.Pressed, "#start")
    def start_pressed(self) -> None:
        self.action_start()

    # -- rendering (tests feed these fixed states) --------------------------------------
    def say(self, text: str, style: str = "") -> None:
        self.status.update(Text(text, style=style))

    def refuse(self, problems: list[Problem]) -> None:
        """Nothing was sent: each problem under its field, the first one in the status line."""
        self.form.show_problems(problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        self.say(f"nothing was sent: {problems[0]}{more}", "red")

    def show_progress(self, progress: Any) -> None:
        raise NotImplementedError

    def show_result(self, result: dict[str, Any], details: Any = None) -> None:
        """The finished (or stopped) run: shown, the saved runs listed again, and said."""
        self.result = result
        self.show_doc(result, details)
        if result.get("name"):
            self.list_runs()
        saved = f" · saved as {result['name']}" if result.get("name") else ""
        if result.get("cancelled"):
            self.say(f"stopped: {self.stopped_text(result)}{saved}", "yellow")
        else:
            self.say(f"done: {self.done_text(result)}{saved}", "green")

    def show_doc(self, doc: dict[str, Any], details: Any = None) -> None:
        """A result (live or saved) in the feature's tabs."""
        raise NotImplementedError

    def done_text(self, result: dict[str, Any]) -> str:
        raise NotImplementedError

    def stopped_text(self, result: dict[str, Any]) -> str:
        return f"partial result, {self.done_text(result)}"

    def show_comparison(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- actions ------------------------------------------------------------------------
    def action_start(self) -> None:
        if self.running:
            self.notify(f"{self.A_RUN} is running: Escape stops it", severity="warning")
            return
        try:
            plan = self.read()
        except BadInput as exc:
            self.refuse(exc.problems)
            return
        self.form.show_problems([])
        self.say(self.ASKING, "yellow")
        self._worker = self.run_worker(
            self._start_run(plan),
            group="run",
            exclusive=True,
            exit_on_error=False,
            description=self.KIND,
        )

    def action_stop_or_back(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.say(f"{self._started} · stopping: in-flight requests are dropped", "yellow")
        elif self.running:
            self.workers.cancel_group(self, "run")
        else:
            self.app.pop_screen()
