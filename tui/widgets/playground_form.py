"""The playground's form: every field of a Spec, read back with each problem naming its field."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import getters, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, SelectionList, Static, Switch, TextArea
from textual.widgets.selection_list import Selection

from naptha_tui.backends.files import UnreadableFile, read_text_file
from naptha_tui.backends.playground.examples import EXAMPLES
from naptha_tui.backends.playground.spec import (
    MODE_KINDS,
    Spec,
    parse_temperatures,
    parse_tools,
)
from naptha_tui.backends.runs.fields import Problem, as_text
from naptha_tui.tui.failures import ReportsWorkerFailures
from naptha_tui.tui.widgets.model_choice import ModelChoice

PARALLEL = (("default", "default"), ("true", "true"), ("false", "false"))
"""parallel_tool_calls: not sent, true, false."""
EXTRA_FIELDS = {"json_schema": "schema", "regex": "regex", "choice": "choice", "grammar": "grammar"}
"""The mode that needs a field of its own, and that field."""
ERROR_BOXES = (
    "model",
    "prompt",
    "conversation",
    "tools",
    "modes",
    "schema",
    "regex",
    "choice",
    "grammar",
    "temperatures",
    "samples",
    "max-tokens",
    "seed",
)
FIELD_ALIASES = {"mode": "modes", "max_tokens": "max-tokens"}


def field_key(field: str) -> str:
    """The form field a Problem names: ``tools[get_weather].function.parameters`` is ``tools``."""
    head = re.split(r"[\[. (]", field, maxsplit=1)[0]
    key = FIELD_ALIASES.get(head, head)
    return key if key in ERROR_BOXES else "form"


def mode_names(tool_names: Iterable[str], keep: Iterable[str] = ()) -> list[str]:
    """The modes offered: every kind, ``tool:NAME`` per tool, and any chosen mode besides."""
    names = [k for k in MODE_KINDS if k != "tool"] + [f"tool:{n}" for n in tool_names if n]
    return names + [m for m in keep if m not in names]


def first(key: str) -> str:
    """A Spec field's default as the form's first text (the defaults are the Spec's)."""
    return as_text(Spec.model_fields[key].default)


def _row(label: str, *widgets: Any, id: str | None = None) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), *widgets, classes="row", id=id)


def _error(key: str) -> Static:
    return Static("", id=f"{key}-error", classes="field-error")


class PlaygroundForm(ReportsWorkerFailures, VerticalScroll):
    """Model, conversation, tools, modes and sampling settings of one playground session."""

    can_focus = False  # its fields take focus; it scrolls to the focused one

    @dataclass
    class ToolsFileRead(Message):
        """A tools file was read (``error``: why not)."""

        path: str
        text: str | None
        error: str | None = None

    model = getters.query_one("#model", Select)
    system = getters.query_one("#system", Input)
    prompt = getters.query_one("#prompt", Input)
    conversation = getters.query_one("#conversation", TextArea)
    tools = getters.query_one("#tools", TextArea)
    modes = getters.query_one("#modes", SelectionList)
    schema = getters.query_one("#schema", TextArea)
    regex = getters.query_one("#regex", Input)
    choice = getters.query_one("#choice", Input)
    grammar = getters.query_one("#grammar", TextArea)
    strict = getters.query_one("#strict", Switch)
    parallel = getters.query_one("#parallel", Select)
    stream = getters.query_one("#stream", Switch)
    temperatures = getters.query_one("#temperatures", Input)
    samples = getters.query_one("#samples", Input)
    max_tokens = getters.query_one("#max-tokens", Input)
    seed = getters.query_one("#seed", Input)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.models = ModelChoice(lambda: self.model, "the proxy")
        self._tool_names: list[str] = []
        self._loaded = Spec()
        """The last session filled in: what the form cannot show is kept from it."""

    def compose(self) -> ComposeResult:
        yield _row(
            "model",
            Select[str]([], prompt="asking the proxy…", id="model", compact=True),
        )
        yield _error("model")
        yield _row("system", Input(placeholder="system message", id="system", compact=True))
        yield _row("prompt", Input(placeholder="user prompt", id="prompt", compact=True))
        yield _error("prompt")
        yield Label("conversation [dim](JSON list of earlier messages)[/dim]")
        yield TextArea(id="conversation", compact=True)
        yield _error("conversation")
        yield _row(
            "tools",
            Select[str](
                [(name, name) for name in EXAMPLES], prompt="example", id="example", compact=True
            ),
            Input(placeholder="or a file (Enter)", id="tools-file", compact=True),
        )
        yield TextArea(id="tools", compact=True)
        yield _error("tools")
        yield Label("modes")
        yield SelectionList[str](
            *[Selection(m, m, m == "plain") for m in mode_names([])], id="modes", compact=True
        )
        yield _error("modes")
        with Vertical(id="schema-box", classes="mode-field"):
            yield Label("schema [dim](JSON Schema for json_schema)[/dim]")
            yield TextArea(id="schema", compact=True)
            yield _error("schema")
        with Vertical(id="regex-box", classes="mode-field"):
            yield _row("regex", Input(placeholder="a Python regex", id="regex", compact=True))
            yield _error("regex")
        with Vertical(id="choice-box", classes="mode-field"):
            yield _row("choice", Input(placeholder="yes,no,maybe", id="choice", compact=True))
            yield _error("choice")
        with Vertical(id="grammar-box", classes="mode-field"):
            yield Label("grammar [dim](EBNF / Lark)[/dim]")
            yield TextArea(id="grammar", compact=True)
            yield _error("grammar")
        yield _row(
            "strict",
            Switch(id="strict"),
            Label("stream", classes="inline-label"),
            Switch(id="stream"),
        )
        yield _row(
            "parallel calls",
            Select[str](PARALLEL, value="default", allow_blank=False, id="parallel", compact=True),
        )
        yield _row("temperatures", Input(first("temperatures"), id="temperatures", compact=True))
        yield _error("temperatures")
        yield _row(
            "samples",
            Input(first("samples"), id="samples", compact=True, type="integer"),
            Label("max tokens", classes="inline-label"),
            Input(first("max_tokens"), id="max-tokens", compact=True, type="integer"),
        )
        yield _error("samples")
        yield _error("max-tokens")
        yield _row("seed", Input(placeholder="none", id="seed", compact=True, type="integer"))
        yield _error("seed")
        yield Static("", id="form-error", classes="field-error")
        yield Button("Run  ctrl+r", id="run", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.show_problems([])
        self.show_mode_fields()

    # -- models --------------------------------------------------------------------------
    @property
    def served(self) -> list[str]:
        """The models the proxy served when last asked."""
        return list(self.models.served)

    def set_served(self, served: list[str], error: str | None = None) -> None:
        """The models the proxy serves (``error``: why none could be listed)."""
        self.models.set_served(served, error)

    # -- tools and modes -----------------------------------------------------------------
    @on(TextArea.Changed, "#tools")
    def check_tools(self) -> None:
        tools, problems = parse_tools(self.tools.text)
        self._show("tools", problems)
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
            self._show("tools", [Problem("tools", f"cannot read {message.path}: {message.error}")])
        else:
            self.tools.text = message.text

    @on(SelectionList.SelectedChanged, "#modes")
    def show_mode_fields(self) -> None:
        chosen = set(self.modes.selected)
        for mode, key in EXTRA_FIELDS.items():
            self.query_one(f"#{key}-box").display = mode in chosen

    # -- the spec ------------------------------------------------------------------------
    def read(self) -> tuple[Spec, list[Problem]]:
        """The session the form describes, and what could not be read (field by field)."""
        problems: list[Problem] = []
        doc: dict[str, Any] = {
            "model": self.model.value if isinstance(self.model.value, str) else "",
            "system": self.system.value,
            "prompt": self.prompt.value,
            "modes": list(self.modes.selected),
            "strict": self.strict.value,
            "stream": self.stream.value,
            "regex": self.regex.value or None,
            "choice": [c.strip() for c in self.choice.value.split(",")]
            if self.choice.value
            else [],
            "grammar": self.grammar.text or None,
            "parallel_tool_calls": {"true": True, "false": False}.get(str(self.parallel.value)),
        }
        conversation = self._json(self.conversation.text, "conversation", problems)
        if conversation is not None:
            if isinstance(conversation, list):
                doc["conversation"] = conversation
            else:
                problems.append(Problem("conversation", "must be a JSON list of messages"))
        tools, bad = parse_tools(self.tools.text)
        problems += bad
        doc["tools"] = tools
        schema = self._json(self.schema.text, "schema", problems)
        if schema is not None:
            doc["schema"] = schema
        try:
            doc["temperatures"] = parse_temperatures(self.temperatures.value)
        except ValueError as exc:
            problems.append(Problem("temperatures", str(exc)))
        for key, widget, name in (
            ("samples", self.samples, "samples"),
            ("max_tokens", self.max_tokens, "max_tokens"),
            ("seed", self.seed, "seed"),
        ):
            text = widget.value.strip()
            if not text and key == "seed":
                continue
            try:
                doc[key] = int(text)
            except ValueError:
                problems.append(Problem(name, f"{text!r} is not a whole number"))
        # fields the form has no box for (expect_tool, extra_body) stay as loaded
        kept = self._loaded.model_dump(by_alias=True, include={"expect_tool", "extra_body"})
        return Spec.model_validate(kept | doc), problems

    @staticmethod
    def _json(text: str, field: str, problems: list[Problem]) -> Any:
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(
                Problem(field, f"not JSON: {exc.msg} at line {exc.lineno} col {exc.colno}")
            )
            return None

    def fill(self, spec: Spec) -> None:
        """Show ``spec`` in the form (a loaded session)."""
        self._loaded = spec
        self.models.choose(spec.model)
        self.system.value = spec.system
        self.prompt.value = spec.prompt
        self.conversation.text = (
            json.dumps(spec.conversation, indent=2) if spec.conversation else ""
        )
        self.tools.text = json.dumps(spec.tools, indent=2) if spec.tools else ""
        self.set_tool_names(spec.tool_names(), selected=spec.modes)
        self.schema.text = json.dumps(spec.schema_, indent=2) if spec.schema_ is not None else ""
        self.regex.value = spec.regex or ""
        self.choice.value = ",".join(spec.choice)
        self.grammar.text = spec.grammar or ""
        self.strict.value = spec.strict
        self.stream.value = spec.stream
        self.parallel.value = {True: "true", False: "false", None: "default"}[
            spec.parallel_tool_calls
        ]
        self.temperatures.value = ",".join(f"{t:g}" for t in spec.temperatures)
        self.samples.value = str(spec.samples)
        self.max_tokens.value = str(spec.max_tokens)
        self.seed.value = "" if spec.seed is None else str(spec.seed)
        self.show_problems([])

    # -- problems ------------------------------------------------------------------------
    def show_problems(self, problems: list[Problem]) -> None:
        """Each problem under its field; fields without one are cleared."""
        by_key: dict[str, list[Problem]] = {}
        for p in problems:
            by_key.setdefault(field_key(p.field), []).append(p)
        for key in (*ERROR_BOXES, "form"):
            self._show(key, by_key.get(key, []))

    def _show(self, key: str, problems: list[Problem]) -> None:
        box = self.query_one(f"#{key}-error", Static)
        box.update("\n".join(str(p) for p in problems))
        box.display = bool(problems)
        self.query(f"#{key}").set_class(bool(problems), "-invalid")

    def problem_text(self, key: str) -> str:
        """What the error line under field ``key`` says ("" when nothing)."""
        return str(self.query_one(f"#{key}-error", Static).render())
