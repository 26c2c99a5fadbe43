"""The playground's form, made from the ``try`` field table: every field of a Spec, read back
with each problem under its field.

The fields, their labels, placeholders and order are ``backends/playground/fields.TRY``'s (the
command's flags); :class:`~naptha_tui.tui.widgets.run_form.RunForm` lays them out and shows
the problems, as for bench and eval. What is the playground's own is composed here: text areas
for the conversation, tools, schema and grammar, the tools' example and file on one row, the
list of modes (with ``tool:NAME`` per tool), each mode's field shown only while the mode is
chosen, and ``parallel_tool_calls`` as default, true or false.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from textual import getters, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, SelectionList, Static, TextArea
from textual.widgets.selection_list import Selection

from naptha_tui.backends.files import UnreadableFile, read_text_file
from naptha_tui.backends.playground.examples import EXAMPLES
from naptha_tui.backends.playground.fields import TRY
from naptha_tui.backends.playground.form import PARALLEL, field_key, form_values, read_form
from naptha_tui.backends.playground.spec import (
    MODE_KINDS,
    Spec,
    parse_tools,
)
from naptha_tui.backends.runs.fields import Field, Problem, as_text
from naptha_tui.tui.failures import ReportsWorkerFailures
from naptha_tui.tui.widgets.run_form import RunForm, field_row

EXTRA_FIELDS = {"json_schema": "schema", "regex": "regex", "choice": "choice", "grammar": "grammar"}
"""The mode that needs a field of its own, and that field."""
TEXT_AREAS = ("conversation", "schema", "grammar")
"""Fields written as JSON or a grammar, in a text area (the tools' has a row of its own)."""


def mode_names(tool_names: Iterable[str], keep: Iterable[str] = ()) -> list[str]:
    """The modes offered: every kind, ``tool:NAME`` per tool, and any chosen mode besides."""
    names = [k for k in MODE_KINDS if k != "tool"] + [f"tool:{n}" for n in tool_names if n]
    return names + [m for m in keep if m not in names]


def first(key: str) -> str:
    """A Spec field's default as the form's first text (the defaults are the Spec's)."""
    return as_text(Spec.model_fields[key].default)


def _field(f: Field, *widgets: Any) -> Vertical:
    """Field ``f`` as widgets stacked (a text area under its label), its error line last."""
    return Vertical(
        *widgets,
        Static("", id=f"{f.dom_id}-error", classes="field-error"),
        id=f"{f.dom_id}-field",
        classes="field",
    )


class PlaygroundForm(ReportsWorkerFailures, RunForm):
    """Model, conversation, tools, modes and sampling settings of one playground session."""

    TABLE = TRY
    FIRST = ("model", "system", "prompt")
    START = "Run  ctrl+r"

    @dataclass
    class ToolsFileRead(Message):
        """A tools file was read (``error``: why not)."""

        path: str
        text: str | None
        error: str | None = None

    tools = getters.query_one("#tools", TextArea)
    modes = getters.query_one("#modes", SelectionList)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tool_names: list[str] = []
        self._loaded = Spec()
        """The last session filled in: what the form cannot show is kept from it."""

    # -- the fields that are the playground's own --------------------------------------
    def compose_field(self, f: Field) -> ComposeResult:
        if f.key in TEXT_AREAS:
            label = Label(f"{f.label} [dim]({f.hint})[/dim]")
            field = _field(f, label, TextArea(id=f.dom_id, compact=True))
            if f.key in EXTRA_FIELDS.values():  # shown while its mode is chosen
                yield Vertical(field, id=f"{f.dom_id}-box", classes="mode-field")
            else:
                yield field
        elif f.key == "tools":
            examples = [(name, name) for name in EXAMPLES]
            row = Horizontal(
                Label(f.label, classes="field-label"),
                Select[str](examples, prompt="example", id="example", compact=True),
                Input(placeholder="or a file (Enter)", id="tools-file", compact=True),
                classes="row",
            )
            yield _field(f, row, TextArea(id="tools", compact=True))
        elif f.key == "mode":
            modes = [Selection(m, m, m == "plain") for m in mode_names([])]
            yield _field(f, Label(f.label), SelectionList[str](*modes, id="modes", compact=True))
        elif f.key == "parallel_tool_calls":
            choice = Select[str](
                [(c, c) for c in PARALLEL],
                value="default",
                allow_blank=False,
                id=f.dom_id,
                compact=True,
            )
            yield field_row(f, choice)
        elif f.key in EXTRA_FIELDS.values():
            field = field_row(f, self.text_input(f))
            yield Vertical(field, id=f"{f.dom_id}-box", classes="mode-field")
        else:
            yield from super().compose_field(f)

    @staticmethod
    def text_input(f: Field) -> Input:
        text = first(f.key) if f.key in Spec.model_fields else f.text
        whole = f.kind == "whole"
        kind: Literal["integer", "text"] = "integer" if whole else "text"
        return Input(text, placeholder=f.placeholder, id=f.dom_id, compact=True, type=kind)

    def on_mount(self) -> None:
        super().on_mount()
        self.show_mode_fields()

    # -- tools and modes -----------------------------------------------------------------
    @on(TextArea.Changed, "#tools")
    def check_tools(self) -> None:
        tools, problems = parse_tools(self.tools.text)
        self.show_field("tools", [str(p) for p in problems])
        if not problems:
            self.set_tool_names([str(t["function"].get("name", "")) for t in tools])

    def set_tool_names(self, names: list[str], selected: Iterable[str] | None = None) -> None:
        """Offer ``tool:NAME`` per tool; ``selected``: the modes to check (else the same)."""
        chosen = list(self.modes.selected if selected is None else selected)
        if names == self._tool_names and selected is None:
            return
        self._tool_names = list(names)
        self.modes.clear_options()
        self.modes.add_options([Selection(m, m) for m in mode_names(names, keep=chosen)])
        for m in chosen:  # in the order chosen: the sweep runs the modes in that order
            self.modes.select(m)
        self.show_mode_fields()

    @on(Select.Changed, "#example")
    def load_example(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.tools.text = json.dumps(EXAMPLES[event.value], indent=2)

    @on(Input.Submitted, "#tools-file")
    def load_tools_file(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.read_tools_file(event.value.strip())

    @work(
        thread=True,
        exclusive=True,
        group="playground-file",
        exit_on_error=False,
        description="read tools file",
    )
    def read_tools_file(self, path: str) -> None:
        try:
            text = read_text_file(Path(path).expanduser())
        except UnreadableFile as exc:  # a wrong file is the operator's to fix: under the field
            self.post_message(self.ToolsFileRead(path, None, exc.reason))
        else:
            self.post_message(self.ToolsFileRead(path, text))

    @on(ToolsFileRead)
    def show_tools_file(self, message: ToolsFileRead) -> None:
        if message.text is None:
            self.show_field("tools", [f"tools: cannot read {message.path}: {message.error}"])
        else:
            self.tools.text = message.text

    @on(SelectionList.SelectedChanged, "#modes")
    def show_mode_fields(self) -> None:
        chosen = set(self.modes.selected)
        for mode, key in EXTRA_FIELDS.items():
            self.query_one(f"#{key}-box").display = mode in chosen

    # -- the spec ------------------------------------------------------------------------
    def widget(self, f: Field) -> Widget:
        return self.modes if f.key == "mode" else super().widget(f)

    def read(self) -> tuple[Spec, list[Problem]]:
        """The session the form describes, and what could not be read (field by field)."""
        return read_form(self.values(), self._loaded)

    def fill(self, spec: Spec) -> None:
        """Show ``spec`` in the form (a loaded session)."""
        self._loaded = spec
        values = form_values(spec)
        self.set_values({k: v for k, v in values.items() if k != "mode"})
        self.set_tool_names(spec.tool_names(), selected=spec.modes)
        self.show_problems([])

    # -- problems ------------------------------------------------------------------------
    def field_of(self, problem: Problem) -> str:
        return field_key(problem.field)
