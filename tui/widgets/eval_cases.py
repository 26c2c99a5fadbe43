"""The failed cases of a run (``EvalRun.failed()`` or a saved run's), and one of them whole.

A case shows what the playground shows for a sample, plus what the leaderboard knows: the
question, the functions offered and the possible answers beside the model's raw text, the tool
calls the server parsed out of it, their decoded (checker's) form, and the checker's reason.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from naptha_tui.backends.evals.records import Record

COLUMNS = ("CASE", "CATEGORY", "T", "PASS", "ERROR", "REASON")
REASON_WIDTH = 60


def short_type(error_type: str | None) -> str:
    """``simple_function_checker:unexpected_param`` as ``unexpected_param`` (the heading of an
    inspected case has it whole)."""
    return (error_type or "-").rsplit(":", 1)[-1]


def pass_name(r: Record) -> str:
    return "guided" if r.guided else "unguided"


class FailedTable(DataTable[str | Text]):
    """One row per failed sample; Enter inspects the one under the cursor."""

    @dataclass
    class Inspect(Message):
        """Show this failed case whole."""

        record: Record

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.records: list[Record] = []

    def on_mount(self) -> None:
        for label in COLUMNS:
            self.add_column(label, key=label.lower())

    def set_records(self, records: list[Record]) -> None:
        self.records = []
        self.clear()
        for r in records:
            self.add(r)

    def add(self, r: Record) -> None:
        self.records.append(r)
        reason = r.verdict.reason.replace("\n", " ")
        if len(reason) > REASON_WIDTH:
            reason = reason[: REASON_WIDTH - 1] + "…"
        self.add_row(
            r.case_id,
            r.category,
            f"{r.temperature:g}",
            pass_name(r),
            Text(short_type(r.verdict.error_type), style="red"),
            reason,
            key=str(len(self.records) - 1),
        )

    @property
    def highlighted(self) -> Record | None:
        if not self.records or not 0 <= self.cursor_row < len(self.records):
            return None
        return self.records[self.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if (r := self.highlighted) is not None:
            self.post_message(self.Inspect(r))


def _one(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def call_line(name: str, arguments: Any) -> str:
    """``name(a=1, b="x")``; arguments that are not an object as they came."""
    if isinstance(arguments, dict):
        return f"{name}({', '.join(f'{k}={_one(v)}' for k, v in arguments.items())})"
    return f"{name}({arguments if isinstance(arguments, str) else _one(arguments)})"


def sent_line(call: dict[str, Any]) -> str:
    """A tool call as the server parsed it, its JSON arguments decoded when they parse."""
    args = call.get("arguments")
    if isinstance(args, str):
        with contextlib.suppress(json.JSONDecodeError):
            args = json.loads(args)
    return call_line(str(call.get("name")), args)


def expected_lines(expected: list[dict[str, Any]]) -> list[str]:
    """Each possible answer as ``name(param=[accepted values])``."""
    out = []
    for answer in expected:
        for name, params in answer.items():
            out.append(call_line(name, params))
    return out


def heading_text(r: Record) -> Text:
    """Which sample failed, and the checker's reason."""
    out = Text.assemble(
        ("FAIL ", "bold red"),
        (r.case_id, "bold"),
        f"  {r.category}, t={r.temperature:g}, {pass_name(r)}",
        (f"  tool_choice {r.tool_choice}" if r.tool_choice else "  no tools", "dim"),
        (" strict" if r.strict else "", "dim"),
        "\n",
        ("reason ", "bold"),
        (str(r.verdict.error_type or "-"), "red"),
        "\n",
        (r.verdict.reason or "(none given)", "red"),
    )
    if r.layer is not None:  # which layer lost it: the model, or the server's parser
        out.append_text(
            Text.assemble("\n", ("layer ", "bold"), (r.layer, "bold yellow"), f"  {r.layer_reason}")
        )
    return out


def case_text(r: Record) -> Text:
    """What was asked and what a right answer is."""
    out = Text()
    out.append("question\n", style="bold")
    for m in r.question or []:
        out.append(f"{m.get('role')}: ", style="cyan")
        out.append(f"{m.get('content')}\n")
    if r.question is None:
        out.append("(not saved)\n", style="dim")
    out.append("\nfunctions offered ", style="bold")
    out.append(", ".join(r.functions or []) or "none")
    out.append("\n\nexpected", style="bold")
    if r.expected is None:
        word = "no call" if "irrelevance" in r.category else "a call of an offered function"
        out.append(f" {word}\n")
    else:
        out.append(' (accepted values per parameter; "" may be left out)\n', style="dim")
        out.append("\n".join(expected_lines(r.expected)) + "\n")
    out.rstrip()
    return out


def came_back_text(r: Record) -> Text:
    """What the model wrote, what the server parsed out of it, and the checker's form of it."""
    out = Text()
    out.append("raw", style="bold")
    out.append(f" model output, from {r.raw_source}\n", style="dim")
    out.append(r.raw if r.raw is not None else "(no raw text)", style="" if r.raw else "dim")
    out.append("\n")
    if r.raw_note:
        out.append(f"{r.raw_note}\n", style="yellow")
    if r.error:
        out.append(f"\nerror: {r.error}\n", style="red")
    out.append("\ntool_calls", style="bold")
    if r.tool_calls:
        out.append(" parsed by the server\n", style="dim")
        out.append("\n".join(sent_line(c) for c in r.tool_calls) + "\n")
    else:
        out.append(" none\n")
    out.append("\ndecoded", style="bold")
    if r.decoded is None:
        out.append(" (did not decode)\n", style="dim")
    else:
        out.append(" in the checker's form\n", style="dim")
        out.append("\n".join(_one(c) for c in r.decoded) + "\n")
    out.append("\ncontent ", style="bold")
    out.append(json.dumps(r.content, ensure_ascii=False) + "\n")
    out.append("finish_reason ", style="bold")
    out.append(f"{r.finish_reason}\n")
    for m in r.mismatches:
        out.append(f"⚠ {m}\n", style="yellow")
    out.rstrip()
    return out


class CaseDetail(Vertical):
    """One failed case: the checker's reason over the case beside what came back."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.record: Record | None = None
        """The case shown."""

    def compose(self) -> ComposeResult:
        yield Static(Text("Enter on a failed case shows it here", style="dim"), id="case-heading")
        with Horizontal(id="case-panes"):
            with VerticalScroll(id="case-pane"):
                yield Static("", id="case-asked")
            with VerticalScroll(id="came-back-pane"):
                yield Static("", id="case-came-back")

    def on_mount(self) -> None:
        self.query_one("#case-pane").border_title = "case: asked and expected"
        self.query_one("#came-back-pane").border_title = "came back: raw, parsed, decoded"

    def show(self, r: Record | None) -> None:
        self.record = r
        heading = self.query_one("#case-heading", Static)
        if r is None:
            heading.update(Text("Enter on a failed case shows it here", style="dim"))
            self.query_one("#case-asked", Static).update("")
            self.query_one("#case-came-back", Static).update("")
            return
        heading.update(heading_text(r))
        self.query_one("#case-asked", Static).update(case_text(r))
        self.query_one("#case-came-back", Static).update(came_back_text(r))
