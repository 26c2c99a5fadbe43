"""A run's form, made from its field table: one field per setting, each problem under its field.

Reading and checking are Textual-free (``backends/runs/fields.py`` and each feature's
``fields.py``); this widget only shows the fields, hands back what they hold (``values()``
for the feature's ``read_form``) and marks each problem under its field.

Each field of the table's form is a row: its label, its widget (an Input for text and
numbers, a Select for a choice, a Switch, a SelectionList for names) and an error line under
it; ids follow the key (``num_prompts``: ``#num-prompts``, ``#num-prompts-field``,
``#num-prompts-error``). The model comes first (a Select of what the target serves), then the
others in the table's order, switches last; a feature's form adds what is its own by
overriding :meth:`RunForm.compose_field`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from textual import getters
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, SelectionList, Static, Switch, TextArea
from textual.widgets.selection_list import Selection

from naptha_tui.backends.runs.fields import Field, Fields, FormValue, Problem, as_text
from naptha_tui.tui.widgets.model_choice import ModelChoice


def field_row(f: Field, *widgets: Widget, label: str | None = None) -> Vertical:
    """A field: its label and widgets on a row, its error line under them."""
    return Vertical(
        Horizontal(Label(label or f.label, classes="field-label"), *widgets, classes="row"),
        Static("", id=f"{f.dom_id}-error", classes="field-error"),
        id=f"{f.dom_id}-field",
        classes="field",
    )


class RunForm(VerticalScroll):
    """One run's settings; ``values()`` for the reader, ``show_problems`` after."""

    can_focus = False  # its fields take focus; it scrolls to the focused one

    TABLE: ClassVar[Fields]
    """The feature's fields."""
    FIRST: ClassVar[tuple[str, ...]] = ("model",)
    """Fields shown before the others, in this order."""
    WHO: ClassVar[str] = "the proxy"
    """Who serves the models (the model field's prompt)."""
    START: ClassVar[str] = "Start  ctrl+r"
    """The label of the button that starts a run (``#start``)."""

    model = getters.query_one("#model", Select)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.models = ModelChoice(lambda: self.model, self.WHO)

    @property
    def served(self) -> list[str]:
        return list(self.models.served)

    def set_served(self, served: list[str], error: str | None = None) -> None:
        self.models.set_served(served, error)

    def choose_model(self, model: str) -> None:
        """Choose ``model`` even when the target does not list it (marked as not served)."""
        self.models.choose(model)

    # -- the fields ------------------------------------------------------------------------
    def ordered(self) -> list[Field]:
        form = self.TABLE.form
        first = [self.TABLE[k] for k in self.FIRST]
        rest = [f for f in form if f.key not in self.FIRST]
        return (
            first
            + [f for f in rest if f.kind != "switch"]
            + [f for f in rest if f.kind == "switch"]
        )

    def compose(self) -> ComposeResult:
        for f in self.ordered():
            yield from self.compose_field(f)
        yield Static("", id="form-error", classes="field-error")
        yield Button(self.START, id="start", variant="primary", compact=True)

    def compose_field(self, f: Field) -> ComposeResult:
        """The widgets of field ``f`` (a feature's form overrides this for its own fields)."""
        if f.key == "model":
            prompt = f"asking {self.WHO}…"
            yield field_row(f, Select[str]([], prompt=prompt, id="model", compact=True))
        elif f.kind == "names":
            chosen = set(f.default or ())
            yield Vertical(
                Label(f.label, classes="field-label"),
                SelectionList[str](
                    *[Selection(c, c, c in chosen) for c in f.choices], id=f.dom_id, compact=True
                ),
                Static("", id=f"{f.dom_id}-error", classes="field-error"),
                id=f"{f.dom_id}-field",
                classes="field",
            )
        elif f.kind == "switch":
            yield field_row(f, Switch(bool(f.default), id=f.dom_id))
            if f.hint:
                yield Static(f.hint, id=f"{f.dom_id}-hint", classes="field-hint")
        elif f.kind == "choice":
            options = list(zip(f.choice_labels or f.choices, f.choices, strict=True))
            select = Select[str](
                options, value=f.default, allow_blank=False, id=f.dom_id, compact=True
            )
            yield field_row(f, select)
        else:
            yield field_row(f, self.text_input(f))

    @staticmethod
    def text_input(f: Field) -> Input:
        return Input(f.text, placeholder=f.placeholder, id=f.dom_id, compact=True)

    def on_mount(self) -> None:
        self.show_problems([])
        self.show_fields()

    def show_fields(self) -> None:
        """Show the fields the current choices use (a feature's form hides the others)."""

    # -- reading and filling -------------------------------------------------------------
    def widget(self, f: Field) -> Widget:
        """The widget that holds field ``f``'s value."""
        return self.query_one(f"#{f.dom_id}")

    def values(self) -> dict[str, FormValue]:
        """The form as the feature's ``read_form`` takes it (each field's, by its widget)."""
        out: dict[str, FormValue] = {}
        for f in self.TABLE.form:
            widget = self.widget(f)
            if isinstance(widget, Input | Switch):
                out[f.key] = widget.value
            elif isinstance(widget, TextArea):
                out[f.key] = widget.text
            elif isinstance(widget, SelectionList):
                chosen = widget.selected  # in the order chosen, where the list has no choices
                out[f.key] = [c for c in f.choices if c in chosen] if f.choices else chosen
            elif isinstance(widget, Select):
                value = widget.value
                out[f.key] = value if isinstance(value, str) else as_text(f.default)
        return out

    def set_value(self, key: str, value: str) -> None:
        self.query_one(f"#{self.TABLE[key].dom_id}", Input).value = value

    def choose(self, names: Iterable[str], key: str | None = None) -> None:
        """Exactly these names chosen in the list of field ``key`` (the form's only list)."""
        f = self.TABLE[key] if key else next(f for f in self.TABLE.form if f.kind == "names")
        wanted = set(names)
        chosen = self.query_one(f"#{f.dom_id}", SelectionList)
        chosen.deselect_all()
        for c in f.choices:
            if c in wanted:
                chosen.select(c)

    def set_values(self, settings: Mapping[str, Any]) -> None:
        """A run's settings back in the form (each field's value, by key, as its widget
        takes it)."""
        for f in self.TABLE.form:
            if f.key not in settings:
                continue
            value, widget = settings[f.key], self.widget(f)
            if f.key == "model":
                self.choose_model(value)
            elif isinstance(widget, SelectionList):
                self.choose(value, f.key)
            elif isinstance(widget, Switch):
                widget.value = bool(value)
            elif isinstance(widget, Select):
                widget.value = value
            elif isinstance(widget, TextArea):
                widget.text = value
            else:
                self.set_value(f.key, as_text(value))

    def field_of(self, problem: Problem) -> str:
        """The key of the field ``problem`` is shown under ("": the form's own line)."""
        return problem.field if problem.field in self.TABLE else ""

    def show_problems(self, problems: list[Problem]) -> None:
        """Each problem under its field (a field's earlier problem is cleared)."""
        form = {f.key for f in self.TABLE.form}
        by_field: dict[str, list[str]] = {}
        for p in problems:
            key = self.field_of(p)
            by_field.setdefault(key if key in form else "", []).append(str(p))
        for f in self.TABLE.form:
            self.show_field(f.key, by_field.get(f.key, []))
        general = self.query_one("#form-error", Static)
        general.update("\n".join(by_field.get("", [])))
        general.display = "" in by_field

    def show_field(self, key: str, messages: list[str]) -> None:
        """``messages`` under field ``key`` (none: its line is cleared), the field marked."""
        f = self.TABLE[key]
        box = self.query_one(f"#{f.dom_id}-error", Static)
        box.update("\n".join(messages))
        box.display = bool(messages)
        self.query_one(f"#{f.dom_id}-field").set_class(bool(messages), "-invalid")
