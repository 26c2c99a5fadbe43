"""The evaluation, in the panel: BFCL's cases through the node, driven from a form, live.

A run screen (``screens/run.py``) for the evaluation; it drives the same core as
``naptha-tui eval`` (``backends/evals``). The form's values go through ``read_form``
(Textual-free, the command's checks): a problem is shown under its field and nothing is sent.
``EvalRun.prepare`` then checks the categories against the install and the model against what
the proxy serves (refused: under its field, nothing sent), and the run goes in the worker. Its
Progress (after every sample) feeds the accuracy table (category x temperature x pass), the
counts and the bar; each failed sample joins the failed cases as it lands. Escape calls
``EvalRun.cancel()``: it stops sending and the partial result is kept, marked stopped. Every
result is saved in the state dir (``eval list``), and its failed cases can be inspected:
question, functions, possible answers, raw text, parsed and decoded calls, and the checker's
reason.

Without bfcl-eval the screen says what to run (``naptha-tui eval setup``) and offers a button
that runs the same code (``setup.install``) in a thread, its lines shown as they come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Button, Static, TabPane

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.evals.config import EvalConfig
from naptha_tui.backends.evals.fields import read_form, refusal
from naptha_tui.backends.evals.records import Cell, Progress, Record
from naptha_tui.backends.evals.report import EVAL_RUNS, about_lines, cells_of, notes_lines
from naptha_tui.backends.evals.results import compare, records
from naptha_tui.backends.evals.run import EvalRun
from naptha_tui.backends.evals.setup import (
    BfclInstall,
    EvalSetupError,
    install,
    locate,
    require,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.fields import Problem
from naptha_tui.tui.messages import ModelsListed
from naptha_tui.tui.screens.run import RunScreen
from naptha_tui.tui.widgets.eval_cases import CaseDetail, FailedTable
from naptha_tui.tui.widgets.eval_form import EvalForm
from naptha_tui.tui.widgets.eval_live import AccuracyTable, EvalLive
from naptha_tui.tui.widgets.eval_runs import CompareTable, run_cells
from naptha_tui.tui.widgets.eval_setup import SetupBox

IDLE_NOTES = (
    "The accuracy per category, temperature and pass fills in here as the run goes.\n"
    "Every run is saved in the state dir: `naptha-tui eval list`, `eval show RUN --failed`."
)
FAILED_HINT = "Enter shows a failed case below"
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


class EvalScreen(RunScreen):
    """Tool-calling accuracy on BFCL's cases through the proxy, per temperature, guided or not."""

    KIND = "eval"
    RUNS = EVAL_RUNS
    A_RUN = "an evaluation"
    ASKING = "loading the cases, asking the proxy for its models…"
    RUNS_COLUMNS = ("RUN", "MODEL", "CATEGORIES", "DONE", "ACCURACY", "")
    """As ``eval list``; the accuracy is pooled per temperature and pass."""
    SHOWN_TAB = "tab-accuracy"

    form = getters.query_one(EvalForm)
    setup_box = getters.query_one(SetupBox)
    live = getters.query_one(EvalLive)
    accuracy = getters.query_one(AccuracyTable)
    notes = getters.query_one("#eval-notes", Static)
    failed = getters.query_one(FailedTable)
    failed_hint = getters.query_one("#eval-failed-hint", Static)
    detail = getters.query_one(CaseDetail)
    compared = getters.query_one(CompareTable)
    compare_about = getters.query_one("#eval-compare-about", Static)

    def __init__(self) -> None:
        super().__init__()
        self._bfcl: BfclInstall | None = None

    def make_form(self, id: str) -> EvalForm:
        return EvalForm(id=id)

    def make_live(self, id: str) -> EvalLive:
        return EvalLive(id=id)

    def compose_above(self) -> ComposeResult:
        yield SetupBox(id="eval-setup")

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Accuracy", id="tab-accuracy"):
            yield AccuracyTable(id="eval-accuracy")
            yield Static(Text(IDLE_NOTES, style="dim"), id="eval-notes")
        with TabPane("Failed cases", id="tab-failed"):
            yield Static(Text(FAILED_HINT, style="dim"), id="eval-failed-hint")
            yield FailedTable(id="eval-failed")
            yield CaseDetail(id="eval-case")
        yield from self.saved_runs_tab()
        with TabPane("Compare", id="tab-compare"):
            yield Static(Text(COMPARE_HINT, style="dim"), id="eval-compare-about")
            yield CompareTable(id="eval-compare")

    def run_cells(self, run: dict[str, Any]) -> Sequence[str | Text]:
        return run_cells(run)

    def mounted(self) -> None:
        self.setup_box.display = False  # until the install is found missing
        self.find_setup(self.napp.paths)

    @property
    def ready(self) -> bool:
        return self._bfcl is not None and self._bfcl.ready

    # -- the run ------------------------------------------------------------------------
    def read(self) -> EvalConfig:
        return read_form(self.form.values())

    async def ask_models(self, server: str | None) -> ModelsListed:
        engine = self.napp.playground(self.napp.node.playground_target())
        try:
            return ModelsListed(await engine.served())
        except Exception as exc:
            return ModelsListed([], f"the proxy does not answer: {exc}")
        finally:
            await engine.aclose()

    async def prepare(self, config: EvalConfig) -> tuple[EvalRun, str]:
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
        except EvalSetupError:
            self.post_message(SetupFound(await asyncio.to_thread(locate, paths)))
            raise
        cases = sum(len(c) for c in plan.cases.values())
        self.post_message(EvalStarted(config, run.progress(), cases))
        return run, config.model

    def refusal(self, error: NapthaError) -> list[Problem]:
        return refusal(error)  # not set up, a model not served, a category, no proxy

    async def execute(self, job: EvalRun) -> tuple[dict[str, Any], list[Record]]:
        result = await job.run(self.progressed)
        return result, job.failed()

    async def release(self, job: EvalRun) -> None:
        await job.aclose()

    def progressed(self, progress: Progress) -> None:
        super().progressed(progress)
        if progress.last is not None and progress.last.failed:
            self.post_message(CaseFailed(progress.last))

    # -- setup --------------------------------------------------------------------------
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

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(EvalStarted)
    def show_started(self, message: EvalStarted) -> None:
        self.begin(message.config, message.progress, message.cases)

    @on(CaseFailed)
    def show_case_failed(self, message: CaseFailed) -> None:
        self.add_failed(message.record)

    @on(FailedTable.Inspect)
    def inspect(self, message: FailedTable.Inspect) -> None:
        self.detail.show(message.record)

    # -- rendering (tests feed these fixed states) --------------------------------------
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

    def show_doc(self, doc: dict[str, Any], details: Any = None) -> None:
        """A result (live or saved): the summary table, notes and failed cases (``details``,
        else the document's)."""
        failed: list[Record] = records(doc, failed_only=True) if details is None else details
        guided = bool((doc.get("config") or {}).get("guided"))
        self.accuracy.start(cells_of(doc), guided)
        self.notes.update(notes_text(doc))
        self.failed.set_records(failed)
        self._failed_count(len(failed))
        self.detail.show(None)

    def done_text(self, result: dict[str, Any]) -> str:
        done = f"{result.get('done', 0)} of {result.get('planned', 0)} samples"
        return f"{done}: {counts(cells_of(result))}"

    def show_comparison(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        self.compared.set_rows(compare(a, b))
        self.compare_about.update(Text("\n".join(about_lines(a, b))))
        self.tabs.active = "tab-compare"
        self.say("A and B compared: accuracy per category, and the cases that flipped")
