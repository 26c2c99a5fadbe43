"""The Eval screen's form: the evaluation's field table, nothing of its own besides.

Parsing and checking are Textual-free (``backends/evals/fields.py``).
"""

from __future__ import annotations

from textual import getters
from textual.widgets import SelectionList, Switch

from naptha_tui.backends.evals.config import EvalConfig
from naptha_tui.backends.evals.fields import EVAL
from naptha_tui.tui.widgets.run_form import RunForm


class EvalForm(RunForm):
    """One evaluation's settings; ``values()`` for ``read_form``, ``show_problems`` after."""

    TABLE = EVAL

    categories = getters.query_one("#categories", SelectionList)
    guided = getters.query_one("#guided", Switch)

    def fill(self, config: EvalConfig) -> None:
        """A run's settings back in the form."""
        self.set_values({f.key: getattr(config, f.key) for f in EVAL.form})
