"""The evaluation, in the panel: BFCL's cases through the node, driven from a form, live.

The screen drives the same core as ``naptha-tui eval`` (``backends/evals``). The form's values
go through ``read_form`` (Textual-free, the command's checks): a problem is shown under its
field and nothing is sent. ``EvalRun.prepare`` then checks the categories against the install
and the model against what the proxy serves (refused: under its field, nothing sent), and the
run goes in a worker in group ``eval``. Its Progress (after every sample) feeds the accuracy
table (category x temperature x pass), the counts and the bar; each failed sample joins the
failed cases as it lands. Escape calls ``EvalRun.cancel()``: it stops sending and the partial
result is kept, marked stopped. Every result is saved in the state dir (``eval list``), and
its failed cases can be inspected: question, functions, possible answers, raw text, parsed
and decoded calls, and the checker's reason.

Without bfcl-eval the screen says what to run (``naptha-tui eval setup``) and offers a button
that runs the same code (``setup.install``) in a thread, its lines shown as they come.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.evals.config import EvalConfig
from naptha_tui.backends.evals.fields import read_form, refusal
from naptha_tui.backends.evals.records import Cell, Progress, Record
from naptha_tui.backends.evals.report import about_lines, cells_of, notes_lines
from naptha_tui.backends.evals.results import (
    RUNS,
    Row,
    compare,
    load_run,
    records,
    run_summaries,
)
from naptha_tui.backends.evals.run import EvalRun
from naptha_tui.backends.evals.setup import (
    BfclInstall,
    EvalSetupError,
    install,
    locate,
    require,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.fields import BadInput, Problem
from naptha_tui.backends.runs.lifecycle import keep
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
from naptha_tui.tui.widgets.eval_cases import CaseDetail, FailedTable
from naptha_tui.tui.widgets.eval_form import EvalForm
from naptha_tui.tui.widgets.eval_live import AccuracyTable, EvalLive
from naptha_tui.tui.widgets.eval_runs import RUNS_COLUMNS, CompareTable, run_cells
from naptha_tui.tui.widgets.eval_setup import SetupBox
from naptha_tui.tui.widgets.saved_runs import SavedRunsTable

IDLE_NOTES = (
    "The accuracy per category, temperature and pass fills in here as the run goes.\n"
    "Every run is saved in the state dir: `naptha-tui eval list`, `eval show RUN --failed`."
)
FAILED_HINT = "Enter shows a failed case below"
RUNS_HINT = "Enter shows a run · space marks A, then B · c compares A and B"
COMPARE_HINT = "Mark two runs in Saved runs (space, A then B) and press c to compare them here."


@dataclass
class SetupFound(Message):
    """Where bfcl-eval is and whether it is ready (at mount, or after a setup)."""

    found: BfclInstall
    installed: bool = False
    """It was just set up by the button."""


@dataclass
class SetupLine(Message):
    text: str


@dataclass
class SetupFailed(Message):
    text: str


@dataclass
class EvalStarted(Message):
    config: EvalConfig
    progress: Progress
    """Before the first sample: every cell, with what it plans."""
    cases: int


@dataclass
class CaseFailed(Message):
    """A sample failed (never coalesced: each one joins the failed cases)."""

    record: Record


def notes_text(doc: dict[str, Any]) -> Text:
    """What the run measured, whether it stopped early, and what was skipped (as ``eval``)."""
    first, *rest = notes_lines(doc)
    out = Text(first)
    for line in rest:
        out.append(f"\n{line}", "yellow")
    return out


def counts(cells: list[Cell]) -> str:
    passed = sum(c.passed for c in cells)
    failed = sum(c.failed for c in cells)
    skipped = sum(c.skipped for c in cells)
    scored = passed + failed
    acc = f" ({passed / scored:.1%})" if scored else ""
    return f"{passed} passed{acc}, {failed} failed, {skipped} skipped"


class EvalScreen(NapthaScreen):
    """Tool-calling accuracy on BFCL's cases through the proxy, per temperature, guided or not."""

    CSS_PATH = "eval.tcss"
    BINDINGS = [
        Binding("ctrl+r", "start", "Start", id="eval.start"),
        Binding("escape", "stop_or_back", "Stop / Back", id="eval.back"),
    ]

    form = getters.query_one(EvalForm)
    setup_box = getters.query_one(SetupBox)
    live = getters.query_one(EvalLive)
    status = getters.query_one("#eval-status", Static)
    accuracy = getters.query_one(AccuracyTable)
    notes = getters.query_one("#eval-notes", Static)
    failed = getters.query_one(FailedTable)
    failed_hint = getters.query_one("#eval-failed-hint", Static)
    detail = getters.query_one(CaseDetail)
    runs = getters.query_one(SavedRunsTable)
    compared = getters.query_one(CompareTable)
    compare_about = getters.query_one("#eval-compare-about", Static)
    tabs = getters.query_one(TabbedContent)

    def __init__(self) -> None:
        super().__init__()
        self._worker: Worker[None] | None = None
        self._run: EvalRun | None = None
        self._bfcl: BfclInstall | None = None
        self._started = ""
        self.result: dict[str, Any] | None = None
        """The last run's result, as saved."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="eval-body"):
            yield EvalForm(id="eval-form")
            with Vertical(id="eval-main"):
                yield SetupBox(id="eval-setup")
                yield Static(Text("ctrl+r starts the evaluation", style="dim"), id="eval-status")
                yield EvalLive(id="eval-live")
                with TabbedContent(id="eval-tabs"):
                    with TabPane("Accuracy", id="tab-accuracy"):
                        yield AccuracyTable(id="eval-accuracy")
                        yield Static(Text(IDLE_NOTES, style="dim"), id="eval-notes")
                    with TabPane("Failed cases", id="tab-failed"):
                        yield Static(Text(FAILED_HINT, style="dim"), id="eval-failed-hint")
                        yield FailedTable(id="eval-failed")
                        yield CaseDetail(id="eval-case")
                    with TabPane("Saved runs", id="tab-runs"):
                        yield SavedRunsTable(RUNS_COLUMNS, run_cells, id="eval-runs")
                        yield Static(Text(RUNS_HINT, style="dim"), id="eval-runs-hint")
                    with TabPane("Compare", id="tab-compare"):
                        yield Static(Text(COMPARE_HINT, style="dim"), id="eval-compare-about")
                        yield CompareTable(id="eval-compare")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "eval"
        self.live.border_title = "Live"
        self.live.display = False  # until a run starts
        self.setup_box.display = False  # until the install is found missing
        self.find_setup(self.napp.paths)
        self.list_models()
        self.list_runs()

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.is_finished

    @property
    def ready(self) -> bool:
        return self._bfcl is not None and self._bfcl.ready

    # -- workers: I/O never runs on the UI thread ---------------------------------------
    @work(exclusive=True, group="eval-setup-find", exit_on_error=False, description="bfcl-eval")
    async def find_setup(self, paths: Paths) -> None:
        self.post_message(SetupFound(await asyncio.to_thread(locate, paths)))

    @work(thread=True, exclusive=True, group="eval-setup", exit_on_error=False, description="setup")
    def run_setup(self, paths: Paths) -> None:
        """``eval setup``'s code, in a thread (pip runs for seconds); its lines as they come."""

        def line(text: str) -> None:
            self.post_message(SetupLine(text))

        try:
            found = install(paths, line)
        except (OSError, NapthaError) as exc:
            self.post_message(SetupFailed(str(exc)))
            return
        except Exception as exc:  # a bug: said, and the button can be pressed again
            self.post_message(SetupFailed(f"{type(exc).__name__}: {exc}"))
            raise
        self.post_message(SetupFound(found, installed=True))

    @work(exclusive=True, group="eval-models", exit_on_error=False, description="models")
    async def list_models(self) -> None:
        engine = self.napp.playground(self.napp.node.playground_target())
        try:
            models = await engine.served()
        except Exception as exc:
            self.post_message(ModelsListed([], f"the proxy does not answer: {exc}"))
            return
        finally:
            await engine.aclose()
        self.post_message(ModelsListed(models))

    @work(exclusive=True, group="eval", exit_on_error=False, description="eval")
    async def run_eval(self, config: EvalConfig) -> None:
        paths = self.napp.paths
        try:
            found = self._bfcl if self.ready else None
            if found is None:
                found = await asyncio.to_thread(require, paths)  # says to run `eval setup`
            run = EvalRun(config, self.napp.node.playground_target(), found)
            try:
                plan = await run.prepare()
            except BaseException:
                await run.aclose()
                raise
        except NapthaError as exc:  # not set up, a model not served, a category, no proxy
            if isinstance(exc, EvalSetupError):
                self.post_message(SetupFound(await asyncio.to_thread(locate, paths)))
            self.post_message(RunRefused(refusal(exc)))
            return
        except asyncio.CancelledError:
            self.post_message(RunAbandoned())
            raise
        self._run = run
        cases = sum(len(c) for c in plan.cases.values())
        self.post_message(EvalStarted(config, run.progress(), cases))

        def progressed(p: Progress) -> None:
            self.post_message(RunProgressed(p))
            if p.last is not None and p.last.failed:
                self.post_message(CaseFailed(p.last))

        try:
            result = await run.run(progressed)
            failed = run.failed()
        finally:
            self._run = None
            await run.aclose()
        not_saved = await asyncio.to_thread(keep, RUNS, paths, result, config.model)
        self.post_message(RunFinished(result, not_saved, failed))

    @work(exclusive=True, group="eval-runs", exit_on_error=False, description="saved runs")
    async def list_runs(self) -> None:
        self.post_message(RunsListed(await asyncio.to_thread(run_summaries, self.napp.paths)))

    @work(exclusive=True, group="eval-run", exit_on_error=False, description="saved run")
    async def open_run(self, name: str) -> None:
        doc = await asyncio.to_thread(load_run, self.napp.paths, name)
        self.post_message(SavedRunLoaded(doc))

    @work(exclusive=True, group="eval-run", exit_on_error=False, description="compare")
    async def compare_runs(self, a: str, b: str) -> None:
        da, db = [await asyncio.to_thread(load_run, self.napp.paths, n) for n in (a, b)]
        self.post_message(RunsCompared(da, db))

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(SetupFound)
    def show_setup(self, message: SetupFound) -> None:
        self._bfcl = message.found
        self.setup_box.show(message.found)
        if message.installed:
            self.say(f"bfcl-eval {message.found.version} is ready at {message.found.location}")
            self.notify("bfcl-eval is set up", title="eval setup")
        elif not message.found.ready and not self.running:
            self.say("bfcl-eval is not set up: run `naptha-tui eval setup` (or Set up)", "yellow")

    @on(SetupLine)
    def show_setup_line(self, message: SetupLine) -> None:
        self.setup_box.line(message.text)

    @on(SetupFailed)
    def show_setup_failed(self, message: SetupFailed) -> None:
        self.setup_box.failed(message.text)
        self.say("eval setup failed (the box above says why)", "red")

    @on(Button.Pressed, "#setup")
    def setup_pressed(self) -> None:
        self.setup_box.started()
        self.say("setting up bfcl-eval…", "yellow")
        self.run_setup(self.napp.paths)

    @on(ModelsListed)
    def show_models(self, message: ModelsListed) -> None:
        self.form.set_served(message.models, message.error)
        if message.error:
            self.say(message.error, "red")

    @on(RunRefused)
    def show_refused(self, message: RunRefused) -> None:
        self.refuse(message.problems)

    @on(RunAbandoned)
    def show_abandoned(self) -> None:
        self.say("stopped before anything was sent", "yellow")

    @on(EvalStarted)
    def show_started(self, message: EvalStarted) -> None:
        self.begin(message.config, message.progress, message.cases)

    @on(RunProgressed)
    def show_progressed(self, message: RunProgressed) -> None:
        self.show_progress(message.progress)

    @on(CaseFailed)
    def show_case_failed(self, message: CaseFailed) -> None:
        self.add_failed(message.record)

    @on(RunFinished)
    def show_finished(self, message: RunFinished) -> None:
        self.show_result(message.result, message.details)
        if message.not_saved:
            self.post_message(ActionFailed(message.not_saved, "eval"))

    @on(FailedTable.Inspect)
    def inspect(self, message: FailedTable.Inspect) -> None:
        self.detail.show(message.record)

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
        self.show_doc(message.result, records(message.result, failed_only=True))
        self.tabs.active = "tab-accuracy"
        self.say(f"saved run {message.result.get('name')}")

    @on(RunsCompared)
    def show_compared(self, message: RunsCompared) -> None:
        self.show_comparison(message.a, message.b, compare(message.a, message.b))

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

    def begin(self, config: EvalConfig, progress: Progress, cases: int) -> None:
        """A run was started: the live view and the tables start over."""
        temps = ", ".join(f"{t:g}" for t in config.temperatures)
        guided = ", unguided and guided" if config.guided else ""
        self._started = (
            f"running {progress.planned} samples of {cases} cases on {config.model}, "
            f"t={temps}{guided}"
        )
        self.result = None
        self.live.reset(progress.planned)
        self.live.display = True
        self.accuracy.start(progress.cells, config.guided)
        self.notes.update(Text("Escape stops and keeps what landed.", style="dim"))
        self.failed.set_records([])
        self.failed_hint.update(Text(FAILED_HINT, style="dim"))
        self.detail.show(None)
        self.tabs.active = "tab-accuracy"
        self.say(f"{self._started} · Escape stops", "yellow")

    def show_progress(self, progress: Progress) -> None:
        self.live.update(progress)
        self.accuracy.update(progress.cells)

    def add_failed(self, record: Record) -> None:
        self.failed.add(record)
        self._failed_count(len(self.failed.records))

    def _failed_count(self, n: int) -> None:
        word = "sample" if n == 1 else "samples"
        self.failed_hint.update(Text(f"{n} failed {word} · {FAILED_HINT}", style="dim"))

    def show_result(self, result: dict[str, Any], failed: list[Record]) -> None:
        """The finished (or stopped) run: the summary table, its failed cases, saved."""
        self.result = result
        self.show_doc(result, failed)
        if result.get("name"):
            self.list_runs()
        saved = f" · saved as {result['name']}" if result.get("name") else ""
        done = f"{result.get('done', 0)} of {result.get('planned', 0)} samples"
        tally = counts(cells_of(result))
        if result.get("cancelled"):
            self.say(f"stopped: partial result, {done}: {tally}{saved}", "yellow")
        else:
            self.say(f"done: {done}: {tally}{saved}", "green")

    def show_doc(self, doc: dict[str, Any], failed: list[Record]) -> None:
        """A result document (live or saved): the summary table, notes and failed cases."""
        guided = bool((doc.get("config") or {}).get("guided"))
        self.accuracy.start(cells_of(doc), guided)
        self.notes.update(notes_text(doc))
        self.failed.set_records(failed)
        self._failed_count(len(failed))
        self.detail.show(None)

    def show_comparison(self, a: dict[str, Any], b: dict[str, Any], rows: list[Row]) -> None:
        self.compared.set_rows(rows)
        self.compare_about.update(Text("\n".join(about_lines(a, b))))
        self.tabs.active = "tab-compare"
        self.say("A and B compared: accuracy per category, and the cases that flipped")

    # -- actions ------------------------------------------------------------------------
    def action_start(self) -> None:
        if self.running:
            self.notify("an evaluation is running: Escape stops it", severity="warning")
            return
        try:
            config = read_form(self.form.values())
        except BadInput as exc:
            self.refuse(exc.problems)
            return
        self.form.show_problems([])
        self.say("loading the cases, asking the proxy for its models…", "yellow")
        self._worker = self.run_eval(config)

    def action_stop_or_back(self) -> None:
        if self._run is not None:
            self._run.cancel()
            self.say(f"{self._started} · stopping: in-flight requests are dropped", "yellow")
        elif self.running:
            self.workers.cancel_group(self, "eval")
        else:
            self.app.pop_screen()
