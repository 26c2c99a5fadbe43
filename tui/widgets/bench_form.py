"""The Bench screen's form: the load test's field table, and the target and sweep it adds.

Parsing and checking are Textual-free (``backends/loadgen/fields.py``); this form adds the
target (the proxy or one server) before the model, the sweep switch on the runs' row, and
hides the fields the chosen workload does not use.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import getters, on
from textual.app import ComposeResult
from textual.widgets import Label, Select, Switch

from naptha_tui.backends.loadgen.fields import BENCH
from naptha_tui.backends.runs.fields import Field, FormValue
from naptha_tui.tui.widgets.run_form import RunForm, field_row

PROXY = "(proxy)"
"""The target Select's value for the proxy (a server name never has parentheses)."""
RANDOM_ONLY = ("num_prompts", "input_len")
AGENTS_ONLY = ("agents", "turns", "think_time", "tool_probability")


class BenchForm(RunForm):
    """One load test's settings; ``values()`` for ``read_form``, ``show_problems`` after."""

    TABLE = BENCH
    FIRST = ("target", "model")
    WHO = "the target"

    target = getters.query_one("#target", Select)
    workload = getters.query_one("#workload", Select)
    sweep = getters.query_one("#sweep", Switch)

    def compose_field(self, f: Field) -> ComposeResult:
        if f.key == "target":
            yield field_row(
                f,
                Select[str](
                    [("proxy", PROXY)], value=PROXY, allow_blank=False, id="target", compact=True
                ),
            )
        elif f.key == "runs":
            yield field_row(
                f,
                Switch(id="sweep"),
                Label("runs", classes="inline-label"),
                self.text_input(f),
                label="sweep",
            )
        else:
            yield from super().compose_field(f)

    # -- the target, chosen by the screen --------------------------------------------------
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

    # -- reading ---------------------------------------------------------------------------
    def values(self) -> dict[str, FormValue]:
        return {**super().values(), "sweep": self.sweep.value}

    @on(Select.Changed, "#workload")
    def show_fields(self) -> None:
        agents = self.workload.value == "agents"
        for key in RANDOM_ONLY:
            self.query_one(f"#{BENCH[key].dom_id}-field").display = not agents
        for key in AGENTS_ONLY:
            self.query_one(f"#{BENCH[key].dom_id}-field").display = agents
