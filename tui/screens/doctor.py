"""The doctor's report in the panel (like `naptha-tui doctor`): OK, WARN or FAIL per check."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from naptha_tui.backends.checks.doctor import Finding, with_matmul
from naptha_tui.backends.checks.doctor_checks import LABELS
from naptha_tui.tui.screens.base import NapthaScreen

LEVEL_STYLE = {"ok": "green", "warn": "bold yellow", "fail": "bold red"}
MEASURING = Finding("matmul", "ok", "measuring float32 against bfloat16 in the cpu runtime…")
"""Shown in the matmul's place while it runs (drawn as pending, not as OK)."""


@dataclass
class DoctorChecked(Message):
    """Every finding but the matmul's, for run ``run``."""

    run: int
    findings: list[Finding]


@dataclass
class DoctorMeasured(Message):
    """The matmul's finding, for run ``run``."""

    run: int
    finding: Finding


def findings_table(findings: list[Finding]) -> Table:
    """One row per finding: the level, the check, what was found and (below) what to do;
    ``MEASURING`` as a pending row."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=4, no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    for f in findings:
        if f is MEASURING:
            grid.add_row(Text("…", style="dim"), Text(f.name, style="bold"), Text(f.summary, "dim"))
            continue
        text = Text(f.summary)
        if f.advice:
            text.append(f"\n→ {f.advice}", style=LEVEL_STYLE[f.level] if f.level != "ok" else "")
        grid.add_row(
            Text(LABELS[f.level], style=LEVEL_STYLE[f.level]), Text(f.name, style="bold"), text
        )
    return grid


def verdict(findings: list[Finding]) -> Text:
    """The status line: whether anything blocks a start, and how many warnings."""
    fails = sum(f.level == "fail" for f in findings)
    warns = sum(f.level == "warn" for f in findings)
    if fails:
        line = Text(f"{fails} FAIL: the node's default start is blocked", style="bold red")
    else:
        line = Text("nothing blocks a start", style="green")
    if warns:
        line.append(f"  ·  {warns} WARN", style="yellow")
    return line


class DoctorScreen(NapthaScreen):
    """What this machine offers and what the node will do with it; ``r`` runs it again."""

    CSS_PATH = "doctor.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="doctor.back"),
        Binding("r", "run_again", "Run again", id="doctor.run"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.run = 0
        self.findings: list[Finding] = []
        self.matmul: Finding | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="doctor-findings"):
            yield Static(id="doctor-report")
        yield Static(id="doctor-status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "doctor"
        self.query_one("#doctor-findings").border_title = "Doctor"
        self.action_run_again()

    def action_run_again(self) -> None:
        self.run += 1
        self.findings, self.matmul = [], None
        self.show()
        self.check(self.run)

    # -- workers: the torch probe, NVML and the matmul take seconds ---------------------
    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False, description="doctor")
    def check(self, run: int) -> None:
        worker = get_current_worker()
        doctor = self.napp.doctor()
        findings = doctor.checks()
        if worker.is_cancelled:
            return
        self.post_message(DoctorChecked(run, findings))
        finding, _ = doctor.measure()
        if not worker.is_cancelled:
            self.post_message(DoctorMeasured(run, finding))

    # -- handlers: only these touch widgets ---------------------------------------------
    @on(DoctorChecked)
    def show_checks(self, message: DoctorChecked) -> None:
        if message.run == self.run:  # an earlier run's answer is stale
            self.findings = message.findings
            self.show()

    @on(DoctorMeasured)
    def show_matmul(self, message: DoctorMeasured) -> None:
        if message.run == self.run:
            self.matmul = message.finding
            self.show()

    def shown(self) -> list[Finding]:
        """The findings so far, the matmul's (or its pending row) after the CPU's."""
        if not self.findings:
            return []
        return with_matmul(self.findings, self.matmul or MEASURING)

    def show(self) -> None:
        report = self.query_one("#doctor-report", Static)
        status = self.query_one("#doctor-status", Static)
        if not self.findings:
            report.update(Text("checking…", style="dim"))
            status.update("")
            return
        report.update(findings_table(self.shown()))
        line = verdict(self.shown() if self.matmul else self.findings)
        if self.matmul is None:
            line.append("  ·  measuring…", style="dim")
        status.update(line)
