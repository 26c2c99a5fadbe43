"""The load test, in the panel: the headless ``bench`` command's core with a form and live view.

A run screen (``screens/run.py``) for the load test. Its form adds the target: the proxy, or
one ready server. The form's values go through ``read_form`` (Textual-free, the same checks
as the command's flags); the model is then checked against what the target serves
(``resolve_model``), and the run (a ``LoadTest``, or a ``Sweep``) goes in the worker. Its
Progress snapshots (every 0.5 s) feed the figures, the bar and the sparklines. Escape calls
the runner's ``cancel()``: it stops sending, drops what is in flight and returns what had
completed, marked stopped. Every result is saved in the state dir (``bench list`` shows it)
and shown as the command prints it; a sweep also as a latency-versus-throughput plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Select, Static, TabPane
from textual_plotext import PlotextPlot

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.loadgen.client import resolve_model, served_models
from naptha_tui.backends.loadgen.fields import BENCH, BenchPlan, read_form
from naptha_tui.backends.loadgen.live import Progress
from naptha_tui.backends.loadgen.plot import draw_sweep
from naptha_tui.backends.loadgen.report import BENCH_RUNS, compare_lines, list_cells, result_lines
from naptha_tui.backends.loadgen.run import LoadTest
from naptha_tui.backends.loadgen.sweep import Sweep
from naptha_tui.backends.runs.fields import Problem
from naptha_tui.tui.messages import ModelsListed
from naptha_tui.tui.screens.run import RunScreen
from naptha_tui.tui.widgets.bench_form import BenchForm
from naptha_tui.tui.widgets.bench_live import BenchLive
from naptha_tui.tui.widgets.saved_runs import stopped

IDLE_REPORT = (
    "A run's report shows here when it ends (or is stopped), as `naptha-tui bench` prints it.\n"
    "Every run is saved in the state dir: `naptha-tui bench list`, `bench compare A B`."
)
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


class BenchScreen(RunScreen):
    """Load the proxy (or one server) with random prompts or simulated agents."""

    KIND = "bench"
    RUNS = BENCH_RUNS
    A_RUN = "a load test"
    ASKING = "asking the target for its models…"
    RUNS_COLUMNS = ("RUN", "MODEL", "WORKLOAD", "OK/FAIL", "REQ/S", "TTFT ms", "TPOT ms", "")
    """As ``bench list``, narrower: TTFT and TPOT are medians; A or B before a marked run."""
    SHOWN_TAB = "tab-report"

    form = getters.query_one(BenchForm)
    live = getters.query_one(BenchLive)
    report = getters.query_one("#bench-report", Static)
    plot = getters.query_one("#bench-plot", PlotextPlot)

    def __init__(self) -> None:
        super().__init__()
        self._stage = ""

    def make_form(self, id: str) -> BenchForm:
        return BenchForm(id=id)

    def make_live(self, id: str) -> BenchLive:
        return BenchLive(id=id)

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Report", id="tab-report"), VerticalScroll(id="bench-report-box"):
            yield Static(Text(IDLE_REPORT, style="dim"), id="bench-report")
        yield from self.saved_runs_tab()

    def compose_below(self) -> ComposeResult:
        yield PlotextPlot(id="bench-plot")

    def run_cells(self, run: dict[str, Any]) -> Sequence[str | Text]:
        return [*list_cells(run)[1:-1], stopped(run)]

    def mounted(self) -> None:
        self.plot.border_title = "Latency vs throughput"
        self.plot.display = False
        self.list_targets()

    @property
    def target_server(self) -> str | None:
        return self.form.target_server

    # -- the run ------------------------------------------------------------------------
    def read(self) -> tuple[BenchPlan, str | None]:
        return read_form(self.form.values()), self.form.target_server

    async def ask_models(self, server: str | None) -> ModelsListed:
        try:
            access = self.napp.node.bench_access(server)
            async with httpx.AsyncClient() as client:
                models = await served_models(client, access)
        except NapthaError as exc:
            return ModelsListed([], str(exc), server)
        return ModelsListed(models, server=server)

    async def prepare(self, plan: tuple[BenchPlan, str | None]) -> tuple[LoadTest | Sweep, str]:
        bench, server = plan
        access = self.napp.node.bench_access(server)
        async with httpx.AsyncClient() as client:
            await resolve_model(client, access, bench.config.model)
        config, runs = bench.config, bench.sweep_runs
        runner = Sweep(config, access, runs) if runs else LoadTest(config, access)
        self.post_message(BenchStarted(bench, access.label))
        return runner, access.label

    def refusal(self, error: NapthaError) -> list[Problem]:
        return [BENCH.problem(str(error))]

    async def execute(self, job: LoadTest | Sweep) -> tuple[dict[str, Any], None]:
        if isinstance(job, Sweep):

            def stage(label: str, index: int, stages: int) -> None:
                self.post_message(StageStarted(label, index, stages))

            return await job.run(stage, self.progressed), None
        return await job.run(self.progressed), None

    @work(exclusive=True, group="bench-targets", exit_on_error=False, description="servers")
    async def list_targets(self) -> None:
        status = await self.napp.node.status()
        self.post_message(TargetsListed([s.name for s in status.servers if s.status == "ready"]))

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(TargetsListed)
    def show_targets(self, message: TargetsListed) -> None:
        self.form.set_targets(message.servers)

    @on(Select.Changed, "#target")
    def target_changed(self) -> None:
        self.list_models(self.form.target_server)

    @on(BenchStarted)
    def show_started(self, message: BenchStarted) -> None:
        self.begin(message.plan, message.label)

    @on(StageStarted)
    def show_stage(self, message: StageStarted) -> None:
        self.stage(message.label, message.index, message.stages)

    # -- rendering (tests feed these fixed states) --------------------------------------
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

    def show_doc(self, doc: dict[str, Any], details: Any = None) -> None:
        """The report, as ``bench`` prints it, and a sweep's plot."""
        # the panel draws the sweep as a widget: the report keeps the table, not the text plot
        self.report.update(Text("\n".join(result_lines(doc, plot=False))))
        self.show_sweep(doc.get("sweep") or [])
        self.tabs.active = "tab-report"

    def done_text(self, result: dict[str, Any]) -> str:
        return f"{result.get('completed', 0)} completed, {result.get('failed', 0)} failed"

    def stopped_text(self, result: dict[str, Any]) -> str:
        dropped = result.get("incomplete", 0)
        return f"partial result, {self.done_text(result)} ({dropped} in flight dropped)"

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

    def show_comparison(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        self.report.update(Text("\n".join(compare_lines(a, b))))
        self.show_sweep([])
        self.tabs.active = "tab-report"
        self.say("A and B compared: B-A and B/A per figure")
