"""The load test, in the panel: the headless ``bench`` command's core with a form and live view.

The form's values go through ``read_form`` (Textual-free, the same checks as the command's
flags): a problem is shown under its field and nothing is sent. The model is then checked
against what the target serves (``resolve_model``), and the run (a ``LoadTest``, or a
``Sweep``) goes in a worker in group ``bench``. Its Progress snapshots (every 0.5 s) feed the
figures, the bar and the sparklines. Escape calls the runner's ``cancel()``: it stops sending,
drops what is in flight and returns what had completed, marked stopped. Every result is saved
in the state dir (``bench list`` shows it) and shown as the command prints it; a sweep also as a
latency-versus-throughput plot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Footer, Header, Select, Static, TabbedContent, TabPane
from textual.worker import Worker
from textual_plotext import PlotextPlot

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.loadgen.client import resolve_model, served_models
from naptha_tui.backends.loadgen.fields import BENCH, BenchPlan, read_form
from naptha_tui.backends.loadgen.live import Progress
from naptha_tui.backends.loadgen.plot import draw_sweep
from naptha_tui.backends.loadgen.report import compare_lines, list_cells, result_lines
from naptha_tui.backends.loadgen.results import RUNS, load_run, run_summaries
from naptha_tui.backends.loadgen.run import LoadTest
from naptha_tui.backends.loadgen.sweep import Sweep
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
from naptha_tui.tui.widgets.bench_form import BenchForm
from naptha_tui.tui.widgets.bench_live import BenchLive
from naptha_tui.tui.widgets.saved_runs import SavedRunsTable, stopped

IDLE_REPORT = (
    "A run's report shows here when it ends (or is stopped), as `naptha-tui bench` prints it.\n"
    "Every run is saved in the state dir: `naptha-tui bench list`, `bench compare A B`."
)

RUNS_COLUMNS = ("RUN", "MODEL", "WORKLOAD", "OK/FAIL", "REQ/S", "TTFT ms", "TPOT ms", "")
"""As ``bench list``, narrower: TTFT and TPOT are medians; A or B before a marked run."""


def run_cells(run: dict[str, Any]) -> list[str | Text]:
    """A saved run's row after its name: ``bench list``'s cells, stopped in yellow."""
    return [*list_cells(run)[1:-1], stopped(run)]


RUNS_HINT = "Enter shows a run's report · space marks A, then B · c compares A and B"
RUNNING_REPORT = (
    "The report shows here when the run ends; Escape stops it and reports what completed."
)


@dataclass
class TargetsListed(Message):
    """The node's ready servers (each a target besides the proxy)."""

    servers: list[str]


@dataclass
class BenchStarted(Message):
    plan: BenchPlan
    label: str
    """The target's label (``proxy`` or the server's name)."""


@dataclass
class StageStarted(Message):
    """A sweep's next stage."""

    label: str
    index: int
    stages: int


class BenchScreen(NapthaScreen):
    """Load the proxy (or one server) with random prompts or simulated agents."""

    CSS_PATH = "bench.tcss"
    BINDINGS = [
        Binding("ctrl+r", "start", "Start", id="bench.start"),
        Binding("escape", "stop_or_back", "Stop / Back", id="bench.back"),
    ]

    form = getters.query_one(BenchForm)
    live = getters.query_one(BenchLive)
    status = getters.query_one("#bench-status", Static)
    report = getters.query_one("#bench-report", Static)
    plot = getters.query_one("#bench-plot", PlotextPlot)
    runs = getters.query_one(SavedRunsTable)
    tabs = getters.query_one(TabbedContent)

    def __init__(self) -> None:
        super().__init__()
        self._worker: Worker[None] | None = None
        self._runner: LoadTest | Sweep | None = None
        self._stage = ""
        self._started = ""
        self.result: dict[str, Any] | None = None
        """The last run's result, as saved."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="bench-body"):
            yield BenchForm(id="bench-form")
            with Vertical(id="bench-main"):
                yield Static(Text("ctrl+r starts the load test", style="dim"), id="bench-status")
                yield BenchLive(id="bench-live")
                with TabbedContent(id="bench-tabs"):
                    with TabPane("Report", id="tab-report"), VerticalScroll(id="bench-report-box"):
                        yield Static(Text(IDLE_REPORT, style="dim"), id="bench-report")
                    with TabPane("Saved runs", id="tab-runs"):
                        yield SavedRunsTable(RUNS_COLUMNS, run_cells, id="bench-runs")
                        yield Static(Text(RUNS_HINT, style="dim"), id="bench-runs-hint")
                yield PlotextPlot(id="bench-plot")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "bench"
        self.live.border_title = "Live"
        self.plot.border_title = "Latency vs throughput"
        self.plot.display = False
        self.live.display = False  # until a run starts
        self.list_targets()
        self.list_models(None)
        self.list_runs()

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.is_finished

    # -- workers: I/O never runs on the UI thread ---------------------------------------
    @work(exclusive=True, group="bench-targets", exit_on_error=False, description="servers")
    async def list_targets(self) -> None:
        status = await self.napp.node.status()
        self.post_message(TargetsListed([s.name for s in status.servers if s.status == "ready"]))

    @work(exclusive=True, group="bench-models", exit_on_error=False, description="models")
    async def list_models(self, server: str | None) -> None:
        try:
            access = self.napp.node.bench_access(server)
            async with httpx.AsyncClient() as client:
                models = await served_models(client, access)
        except NapthaError as exc:
            self.post_message(ModelsListed([], str(exc), server))
            return
        self.post_message(ModelsListed(models, server=server))

    @work(exclusive=True, group="bench", exit_on_error=False, description="bench")
    async def run_bench(self, plan: BenchPlan, server: str | None) -> None:
        try:
            access = self.napp.node.bench_access(server)
            async with httpx.AsyncClient() as client:
                await resolve_model(client, access, plan.config.model)
        except NapthaError as exc:  # a model it does not serve, a target that does not answer
            self.post_message(RunRefused([BENCH.problem(str(exc))]))
            return
        except asyncio.CancelledError:
            self.post_message(RunAbandoned())
            raise
        config = plan.config
        runner: LoadTest | Sweep
        runner = (
            Sweep(config, access, plan.sweep_runs) if plan.sweep_runs else LoadTest(config, access)
        )
        self._runner = runner
        self.post_message(BenchStarted(plan, access.label))

        def progressed(p: Progress) -> None:
            self.post_message(RunProgressed(p))

        def stage(label: str, index: int, stages: int) -> None:
            self.post_message(StageStarted(label, index, stages))

        try:
            if isinstance(runner, Sweep):
                result = await runner.run(stage, progressed)
            else:
                result = await runner.run(progressed)
        finally:
            self._runner = None
        not_saved = await asyncio.to_thread(keep, RUNS, self.napp.paths, result, access.label)
        self.post_message(RunFinished(result, not_saved))

    @work(exclusive=True, group="bench-runs", exit_on_error=False, description="saved runs")
    async def list_runs(self) -> None:
        self.post_message(RunsListed(await asyncio.to_thread(run_summaries, self.napp.paths)))

    @work(exclusive=True, group="bench-run", exit_on_error=False, description="saved run")
    async def open_run(self, name: str) -> None:
        doc = await asyncio.to_thread(load_run, self.napp.paths, name)
        self.post_message(SavedRunLoaded(doc))

    @work(exclusive=True, group="bench-run", exit_on_error=False, description="compare")
    async def compare_runs(self, a: str, b: str) -> None:
        da, db = [await asyncio.to_thread(load_run, self.napp.paths, n) for n in (a, b)]
        self.post_message(RunsCompared(da, db))

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(TargetsListed)
    def show_targets(self, message: TargetsListed) -> None:
        self.form.set_targets(message.servers)

    @on(Select.Changed, "#target")
    def target_changed(self) -> None:
        self.list_models(self.form.target_server)

    @on(ModelsListed)
    def show_models(self, message: ModelsListed) -> None:
        if message.server != self.form.target_server:
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

    @on(BenchStarted)
    def show_started(self, message: BenchStarted) -> None:
        self.begin(message.plan, message.label)

    @on(StageStarted)
    def show_stage(self, message: StageStarted) -> None:
        self.stage(message.label, message.index, message.stages)

    @on(RunProgressed)
    def show_progressed(self, message: RunProgressed) -> None:
        self.show_progress(message.progress)

    @on(RunFinished)
    def show_finished(self, message: RunFinished) -> None:
        self.show_result(message.result)
        if message.not_saved:
            self.post_message(ActionFailed(message.not_saved, "bench"))

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
        self.show_report(message.result)
        self.tabs.active = "tab-report"
        self.say(f"saved run {message.result.get('name')}", "")

    @on(RunsCompared)
    def show_compared(self, message: RunsCompared) -> None:
        self.report.update(Text("\n".join(compare_lines(message.a, message.b))))
        self.show_sweep([])
        self.tabs.active = "tab-report"
        self.say("A and B compared: B-A and B/A per figure", "")

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

    def begin(self, plan: BenchPlan, label: str) -> None:
        """A run was started against ``label``: the live view starts over."""
        c = plan.config
        what = c.workload.describe()
        kind = f"{what['kind']} sweep of {plan.sweep_runs}" if plan.sweep_runs else what["kind"]
        self._stage = ""
        self._started = f"running {kind} on {c.model} via {label}"
        self.live.reset()
        self.live.remove_class("-sweep")
        self.live.display = True
        self.report.update(Text(RUNNING_REPORT, style="dim"))
        self.plot.display = False
        self.say(f"{self._started} · Escape stops", "yellow")

    def stage(self, label: str, index: int, stages: int) -> None:
        self._stage = f"stage {index}/{stages}: {label}"
        self.live.new_stage()
        self.say(f"{self._started} · {self._stage} · Escape stops", "yellow")

    def show_progress(self, progress: Progress) -> None:
        self.live.update(progress)

    def show_result(self, result: dict[str, Any]) -> None:
        """The finished (or stopped) run: the report, and a sweep's plot."""
        self.result = result
        self.show_report(result)
        self.tabs.active = "tab-report"
        if result.get("name"):
            self.list_runs()
        saved = f" · saved as {result['name']}" if result.get("name") else ""
        done = f"{result.get('completed', 0)} completed, {result.get('failed', 0)} failed"
        if result.get("cancelled"):
            dropped = result.get("incomplete", 0)
            self.say(
                f"stopped: partial result, {done} ({dropped} in flight dropped){saved}", "yellow"
            )
        else:
            self.say(f"done: {done}{saved}", "green")

    def show_report(self, result: dict[str, Any]) -> None:
        # the panel draws the sweep as a widget: the report keeps the table, not the text plot
        self.report.update(Text("\n".join(result_lines(result, plot=False))))
        self.show_sweep(result.get("sweep") or [])

    def show_sweep(self, points: list[dict[str, Any]]) -> None:
        # the plot takes the sparklines' room: the report keeps its height
        self.live.set_class(bool(points), "-sweep")
        self.plot.display = bool(points)
        if not points:
            return
        plt = self.plot.plt
        plt.clear_figure()
        draw_sweep(plt, points)
        self.plot.refresh()

    # -- actions ------------------------------------------------------------------------
    def action_start(self) -> None:
        if self.running:
            self.notify("a load test is running: Escape stops it", severity="warning")
            return
        try:
            plan = read_form(self.form.values())
        except BadInput as exc:
            self.refuse(exc.problems)
            return
        self.form.show_problems([])
        self.say("asking the target for its models…", "yellow")
        self._worker = self.run_bench(plan, self.form.target_server)

    def action_stop_or_back(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            self.say(f"{self._started} · stopping: in-flight requests are dropped", "yellow")
        elif self.running:
            self.workers.cancel_group(self, "bench")
        else:
            self.app.pop_screen()
