"""What a playground sweep shows: the validity grid, one row per sample, and one sample whole."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from naptha_tui.backends.playground.layers import Answer, Evidence
from naptha_tui.backends.playground.results import Cell, Sample, Sweep
from naptha_tui.tui.format import PLAYGROUND_GRID_HEADER, ms

GRID_COLUMNS = (*PLAYGROUND_GRID_HEADER, "RIGHT TOOL")
SAMPLE_COLUMNS = ("MODE", "TEMP", "#", "VERDICT", "FINISH", "MS", "TOKENS")
VERDICT_STYLE = {"VALID": "bold green", "INVALID": "bold red", "UNCHECKED": "dim", "ERROR": "red"}
PROMPT_EXCERPT = 320
"""Characters of the rendered prompt shown from each end (its tools sit near the start)."""


def verdict_word(s: Sample) -> str:
    if s.error is not None:
        return "ERROR"
    return {True: "VALID", False: "INVALID", None: "UNCHECKED"}[s.verdict.valid]


def rate_text(cell: Cell) -> Text:
    rate = cell.valid_rate
    if rate is None:
        return Text("n/a" if cell.samples else "-", style="dim")
    style = "green" if rate == 1 else "red" if rate == 0 else "yellow"
    return Text(f"{rate:.0%}", style=style)


def cell_key(mode: str, temperature: float) -> str:
    return f"{mode}@{temperature:g}"


class GridTable(DataTable[str | Text]):
    """Validity by mode and temperature, filled as samples land."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, show_cursor=False, zebra_stripes=True)

    def on_mount(self) -> None:
        for label in GRID_COLUMNS:
            self.add_column(label, key=label.lower())

    def start(self, sweep: Sweep) -> None:
        self.clear()
        for cell in sweep.grid.cells.values():
            self.add_row(*self._cells(cell), key=cell_key(cell.mode, cell.temperature))

    def update(self, cell: Cell) -> None:
        row = cell_key(cell.mode, cell.temperature)
        for label, value in zip(GRID_COLUMNS, self._cells(cell), strict=True):
            self.update_cell(row, label.lower(), value)

    @staticmethod
    def _cells(cell: Cell) -> list[str | Text]:
        return [
            cell.mode,
            f"{cell.temperature:g}",
            str(cell.samples),
            str(cell.valid) if cell.checked else "-",
            rate_text(cell),
            Text(str(cell.errors), style="bold red" if cell.errors else ""),
            ms(cell.latency_s / cell.samples * 1000) if cell.samples else "-",
            f"{cell.right_tool / cell.expected:.0%}" if cell.expected else "-",
        ]


class SampleTable(DataTable[str | Text]):
    """One row per sample, in the order they land; c and k copy the highlighted one."""

    BINDINGS = [
        Binding("c", "screen.copy_curl", "Copy curl", id="playground.copy-curl"),
        Binding("k", "screen.copy_sdk", "Copy SDK", id="playground.copy-sdk"),
        Binding("x", "screen.explain", "Where it broke", id="playground.explain"),
    ]

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.samples: list[Sample] = []

    def on_mount(self) -> None:
        for label in SAMPLE_COLUMNS:
            self.add_column(label, key=label.lower())

    def reset(self) -> None:
        self.samples = []
        self.clear()

    def add(self, s: Sample) -> None:
        self.samples.append(s)
        word = verdict_word(s)
        self.add_row(
            s.mode,
            f"{s.temperature:g}",
            str(s.index),
            Text(word, style=VERDICT_STYLE[word]),
            s.finish_reason or "-",
            ms(s.latency_s * 1000),
            str(s.completion_tokens) if s.completion_tokens is not None else "-",
            key=str(len(self.samples) - 1),
        )

    @property
    def highlighted(self) -> Sample | None:
        if not self.samples or not 0 <= self.cursor_row < len(self.samples):
            return None
        return self.samples[self.cursor_row]


def _decoded_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls with JSON arguments shown as objects (left as sent when they do not parse)."""
    out = []
    for call in calls:
        fn = dict(call.get("function") or {})
        args = fn.get("arguments")
        if isinstance(args, str):
            with contextlib.suppress(json.JSONDecodeError):
                fn["arguments"] = json.loads(args)
        out.append({**call, "function": fn})
    return out


def parsed_text(s: Sample) -> Text:
    """What the server made of the sample: finish reason, calls, content, verdict."""
    word = verdict_word(s)
    out = Text.assemble(
        (f"{s.mode} t={s.temperature:g} #{s.index}", "bold"),
        (f" seed={s.seed}" if s.seed is not None else "", "bold"),
        "\n",
        ("verdict ", "bold"),
        (word, VERDICT_STYLE[word]),
        "\n",
        ("finish_reason ", "bold"),
        str(s.finish_reason),
        "\n",
    )
    if s.error:
        out.append(f"error: {s.error}\n", style="red")
    if s.tool_calls:
        out.append("tool_calls", style="bold")
        out.append(" (arguments decoded)\n", style="dim")
        out.append(json.dumps(_decoded_calls(s.tool_calls), indent=2, ensure_ascii=False) + "\n")
    else:
        out.append("tool_calls", style="bold")
        out.append(" none\n")
    out.append("content ", style="bold")
    out.append(json.dumps(s.content, ensure_ascii=False) + "\n")
    for p in s.verdict.problems:
        out.append(f"✗ {p}\n", style="red")
    for c in s.verdict.checked:
        out.append(f"✓ {c}\n", style="green")
    for m in s.mismatches:
        out.append(f"⚠ {m.message()}\n", style="yellow")
    out.rstrip()
    return out


def raw_text(s: Sample) -> Text:
    out = Text(s.raw if s.raw is not None else "(no raw text)", style="" if s.raw else "dim")
    if s.raw_note:
        out.append(f"\n\n{s.raw_note}", style="yellow")
    return out


def answer_text(a: Answer | None) -> Text:
    """One layer's answer in a line or two: its calls (name and arguments), else its content."""
    if a is None:
        return Text("not asked", style="dim")
    if a.error:
        return Text(f"error: {a.error}", style="red")
    calls = [c.get("function") or {} for c in a.tool_calls]
    out = Text(", ".join(f"{fn.get('name')}({fn.get('arguments')})" for fn in calls) or "no call")
    if a.content:
        out.append(f"\ncontent {json.dumps(a.content[:200], ensure_ascii=False)}", style="dim")
    return out


def evidence_text(s: Sample, e: Evidence) -> Text:
    """The layer verdict, then each layer's evidence in the order the request passed them."""
    out = Text.assemble(
        ("layer ", "bold"),
        (s.layer or "?", "bold green" if s.layer == "none" else "bold red"),
        "\n",
        (s.layer_reason or "", ""),
        "\n\n",
        ("template", "bold"),
    )
    if e.prompt_tokens is not None:
        of = f" of max_model_len {e.max_model_len}" if e.max_model_len else ""
        out.append(f" {e.prompt_tokens} prompt tokens{of}", style="dim")
    out.append("\n")
    if e.prompt is None:
        out.append("(not rendered: a model the node does not run)\n", style="dim")
    elif len(e.prompt) > 2 * PROMPT_EXCERPT:
        out.append(f"{e.prompt[:PROMPT_EXCERPT]}\n…\n{e.prompt[-PROMPT_EXCERPT:]}\n")
    else:
        out.append(e.prompt + "\n")
    for p in e.template_problems:
        out.append(f"✗ {p}\n", style="red")
    parser = f" (parser {e.server_parser})" if e.server_parser else " (no tool parser)"
    for title, answer in (
        (f"server, directly{parser}", e.direct),
        ("streamed from the server", e.streamed_direct),
        ("through the proxy", e.proxied),
        ("streamed through the proxy, reassembled as the SDK does", e.streamed),
    ):
        out.append(f"\n{title}\n", style="bold")
        out.append_text(answer_text(answer))
        out.append("\n")
    out.rstrip()
    return out


class SampleDetail(Horizontal):
    """The highlighted sample: the model's raw text beside what the server parsed out of it,
    and, once asked (``x``), the evidence of each layer it passed and the one where it broke."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="raw-pane"):
            yield Static("", id="raw-source")
            yield Static(Text("select a sample", style="dim"), id="raw")
        with VerticalScroll(id="parsed-pane"):
            yield Static("", id="parsed")
        with VerticalScroll(id="evidence-pane"):
            yield Static("", id="evidence")

    def on_mount(self) -> None:
        self.query_one("#raw-source").display = False
        self.query_one("#evidence-pane").display = False
        self.query_one("#raw-pane").border_title = "raw: model output"
        self.query_one("#parsed-pane").border_title = "parsed by the server"
        self.query_one("#evidence-pane").border_title = "where it broke"

    def show(self, s: Sample | None, evidence: Evidence | None = None) -> None:
        source = self.query_one("#raw-source", Static)
        source.display = s is not None
        pane = self.query_one("#evidence-pane")
        pane.display = s is not None and evidence is not None
        if s is None:
            source.update("")
            self.query_one("#raw", Static).update(Text("select a sample", style="dim"))
            self.query_one("#parsed", Static).update("")
            self.query_one("#evidence", Static).update("")
            return
        source.update(Text(f"from {s.raw_source}", style="dim"))
        self.query_one("#raw", Static).update(raw_text(s))
        self.query_one("#parsed", Static).update(parsed_text(s))
        if evidence is not None:
            self.query_one("#evidence", Static).update(evidence_text(s, evidence))
