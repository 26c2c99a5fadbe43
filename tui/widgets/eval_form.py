"""The Eval screen's form: model, categories, limit, temperatures, guided, seed, read as values.

Parsing and checking are Textual-free (``backends/evals/form.py``); this widget only shows the
fields and marks each problem under its field.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import getters
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, SelectionList, Static, Switch
from textual.widgets.selection_list import Selection

from naptha_tui.backends.evals.cases import SUPPORTED
from naptha_tui.backends.evals.form import DEFAULT_CHOSEN, DEFAULTS, LABELS, FormProblem
from naptha_tui.backends.evals.run import EvalConfig

TEXT_FIELDS = ("limit", "temperatures", "seed", "max_tokens", "concurrency")
GUIDED_HINT = "a second pass with tool_choice required and strict tools (not for irrelevance)"
PLACEHOLDERS = {"limit": "all cases", "temperatures": "0, 0.7", "seed": "none"}


def dom_id(key: str) -> str:
    return key.replace("_", "-")


def _field(key: str, *widgets: Widget, label: str | None = None) -> Vertical:
    return Vertical(
        Horizontal(Label(label or LABELS[key], classes="field-label"), *widgets, classes="row"),
        Static("", id=f"{dom_id(key)}-error", classes="field-error"),
        id=f"{dom_id(key)}-field",
        classes="field",
    )


class EvalForm(VerticalScroll):
    """One evaluation's settings; ``values()`` for ``read_form``, ``show_problems`` after."""

    can_focus = False  # its fields take focus; it scrolls to the focused one

    model = getters.query_one("#model", Select)
    categories = getters.query_one("#categories", SelectionList)
    guided = getters.query_one("#guided", Switch)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._served: list[str] = []

    def compose(self) -> ComposeResult:
        yield _field("model", Select[str]([], prompt="asking the proxy…", id="model", compact=True))
        yield Vertical(
            Label(LABELS["categories"], classes="field-label"),
            SelectionList[str](
                *[Selection(c, c, c in DEFAULT_CHOSEN) for c in SUPPORTED],
                id="categories",
                compact=True,
            ),
            Static("", id="categories-error", classes="field-error"),
            id="categories-field",
            classes="field",
        )
        for key in TEXT_FIELDS:
            yield _field(
                key,
                Input(
                    DEFAULTS[key],
                    placeholder=PLACEHOLDERS.get(key, ""),
                    id=dom_id(key),
                    compact=True,
                ),
            )
        yield _field("guided", Switch(id="guided"))
        yield Static(GUIDED_HINT, id="guided-hint", classes="field-hint")
        yield Static("", id="form-error", classes="field-error")
        yield Button("Start  ctrl+r", id="start", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.show_problems([])

    # -- the proxy's models --------------------------------------------------------------
    @property
    def served(self) -> list[str]:
        return list(self._served)

    def set_served(self, served: list[str], error: str | None = None) -> None:
        """The models the proxy serves; a choice it no longer serves stays, marked."""
        self._served = list(served)
        current = self.model.value
        keep = current if isinstance(current, str) else None
        self._options(keep)
        if keep:
            self.model.value = keep
        elif served:
            self.model.value = served[0]
        if error:
            self.model.prompt = "the proxy does not answer"
        elif not served:
            self.model.prompt = "the proxy serves no model yet"

    def choose_model(self, model: str) -> None:
        """Choose ``model`` even when the proxy does not list it (marked as not served)."""
        self._options(model)
        self.model.value = model

    def _options(self, keep: str | None) -> None:
        options = [(m, m) for m in self._served]
        if keep and keep not in self._served:
            options.append((f"{keep} (not served)", keep))
        self.model.set_options(options)

    # -- reading and filling -------------------------------------------------------------
    def values(self) -> dict[str, str | bool | list[str]]:
        """The form as ``read_form`` takes it."""
        model = self.model.value
        out: dict[str, str | bool | list[str]] = {
            "model": model if isinstance(model, str) else "",
            "categories": [c for c in SUPPORTED if c in self.categories.selected],
            "guided": self.guided.value,
        }
        for key in TEXT_FIELDS:
            out[key] = self.query_one(f"#{dom_id(key)}", Input).value
        return out

    def set_value(self, key: str, value: str) -> None:
        self.query_one(f"#{dom_id(key)}", Input).value = value

    def choose(self, categories: Iterable[str]) -> None:
        """Exactly these categories chosen."""
        wanted = set(categories)
        self.categories.deselect_all()
        for c in SUPPORTED:
            if c in wanted:
                self.categories.select(c)

    def fill(self, config: EvalConfig) -> None:
        """A run's settings back in the form."""
        self.choose_model(config.model)
        self.choose(config.categories)
        self.guided.value = config.guided
        self.set_value("limit", "" if config.limit is None else str(config.limit))
        self.set_value("temperatures", ", ".join(f"{t:g}" for t in config.temperatures))
        self.set_value("seed", "" if config.seed is None else str(config.seed))
        self.set_value("max_tokens", str(config.max_tokens))
        self.set_value("concurrency", str(config.concurrency))

    def show_problems(self, problems: list[FormProblem]) -> None:
        """Each problem under its field (a field's earlier problem is cleared)."""
        by_field: dict[str, list[str]] = {}
        for p in problems:
            key = p.field if p.field in LABELS else ""
            by_field.setdefault(key, []).append(p.message)
        for key in LABELS:
            box = self.query_one(f"#{dom_id(key)}-error", Static)
            box.update("\n".join(by_field.get(key, [])))
            box.display = key in by_field
            self.query_one(f"#{dom_id(key)}-field").set_class(key in by_field, "-invalid")
        general = self.query_one("#form-error", Static)
        general.update("\n".join(by_field.get("", [])))
        general.display = "" in by_field
