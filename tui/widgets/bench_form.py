"""The Bench screen's form: target, model, workload and arrivals, read as plain values.

Parsing and checking are Textual-free (``backends/loadgen/form.py``); this widget only shows
the fields, hides those the chosen workload does not use, and marks each problem under its
field.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import getters, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static, Switch

from naptha_tui.backends.loadgen.form import DEFAULTS, LABELS, FormProblem

PROXY = "(proxy)"
"""The target Select's value for the proxy (a server name never has parentheses)."""
WORKLOADS = (("random prompts", "random"), ("agents", "agents"))
TEXT_FIELDS = (
    "num_prompts",
    "input_len",
    "output_len",
    "agents",
    "turns",
    "think_time",
    "tool_probability",
    "request_rate",
    "max_concurrency",
    "seed",
    "goodput",
    "runs",
)
RANDOM_ONLY = ("num_prompts", "input_len")
AGENTS_ONLY = ("agents", "turns", "think_time", "tool_probability")
PLACEHOLDERS = {
    "think_time": "2, exp:2, uniform:1,3",
    "request_rate": "req/s, inf: all at once",
    "max_concurrency": "no limit",
    "goodput": "e.g. ttft:500 tpot:50",
}


def dom_id(key: str) -> str:
    return key.replace("_", "-")


def _field(
    key: str, *widgets: Input | Select[str] | Switch | Label, label: str | None = None
) -> Vertical:
    return Vertical(
        Horizontal(Label(label or LABELS[key], classes="field-label"), *widgets, classes="row"),
        Static("", id=f"{dom_id(key)}-error", classes="field-error"),
        id=f"{dom_id(key)}-field",
        classes="field",
    )


class BenchForm(VerticalScroll):
    """One load test's settings; ``values()`` for ``read_form``, ``show_problems`` after."""

    can_focus = False  # its fields take focus; it scrolls to the focused one

    target = getters.query_one("#target", Select)
    model = getters.query_one("#model", Select)
    workload = getters.query_one("#workload", Select)
    sweep = getters.query_one("#sweep", Switch)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._served: list[str] = []

    def compose(self) -> ComposeResult:
        yield _field(
            "target",
            Select[str](
                [("proxy", PROXY)], value=PROXY, allow_blank=False, id="target", compact=True
            ),
        )
        yield _field(
            "model", Select[str]([], prompt="asking the target…", id="model", compact=True)
        )
        yield _field(
            "workload",
            Select[str](
                WORKLOADS,
                value=DEFAULTS["workload"],
                allow_blank=False,
                id="workload",
                compact=True,
            ),
        )
        for key in TEXT_FIELDS:
            if key == "runs":
                yield _field(
                    "runs",
                    Switch(id="sweep"),
                    Label("runs", classes="inline-label"),
                    Input(DEFAULTS["runs"], id="runs", compact=True),
                    label="sweep",
                )
                continue
            yield _field(
                key,
                Input(
                    DEFAULTS[key],
                    placeholder=PLACEHOLDERS.get(key, ""),
                    id=dom_id(key),
                    compact=True,
                ),
            )
        yield Static("", id="form-error", classes="field-error")
        yield Button("Start  ctrl+r", id="start", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.show_problems([])
        self.show_workload_fields()

    # -- choices filled by the screen ------------------------------------------------------
    def set_targets(self, servers: Iterable[str]) -> None:
        """Offer the proxy and these servers (the current choice stays when still there)."""
        current = self.target.value
        options = [("proxy", PROXY)] + [(f"server {s}", s) for s in servers]
        self.target.set_options(options)
        values = [v for _, v in options]
        self.target.value = current if current in values else PROXY

    @property
    def target_server(self) -> str | None:
        """The chosen server, or None for the proxy."""
        value = self.target.value
        return value if isinstance(value, str) and value != PROXY else None

    @property
    def served(self) -> list[str]:
        return list(self._served)

    def set_served(self, served: list[str], error: str | None = None) -> None:
        """The models the target serves; a choice it no longer serves stays, marked."""
        self._served = list(served)
        current = self.model.value
        keep = current if isinstance(current, str) else None
        options = [(m, m) for m in served]
        if keep and keep not in served:
            options.append((f"{keep} (not served)", keep))
        self.model.set_options(options)
        if keep:
            self.model.value = keep
        elif served:
            self.model.value = served[0]
        if error:
            self.model.prompt = "the target does not answer"
        elif not served:
            self.model.prompt = "the target serves no model yet"

    def choose_model(self, model: str) -> None:
        """Choose ``model`` even when the target does not list it (marked as not served)."""
        if model not in self._served:
            options = [(m, m) for m in self._served] + [(f"{model} (not served)", model)]
            self.model.set_options(options)
        self.model.value = model

    # -- reading -----------------------------------------------------------------------------
    def values(self) -> dict[str, str | bool]:
        """The form as ``read_form`` takes it."""
        model = self.model.value
        workload = self.workload.value
        out: dict[str, str | bool] = {
            "model": model if isinstance(model, str) else "",
            "workload": workload if isinstance(workload, str) else "random",
            "sweep": self.sweep.value,
        }
        for key in TEXT_FIELDS:
            out[key] = self.query_one(f"#{dom_id(key)}", Input).value
        return out

    def set_value(self, key: str, value: str) -> None:
        self.query_one(f"#{dom_id(key)}", Input).value = value

    @on(Select.Changed, "#workload")
    def show_workload_fields(self) -> None:
        agents = self.workload.value == "agents"
        for key in RANDOM_ONLY:
            self.query_one(f"#{dom_id(key)}-field").display = not agents
        for key in AGENTS_ONLY:
            self.query_one(f"#{dom_id(key)}-field").display = agents

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
