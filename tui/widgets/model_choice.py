"""The models a target serves, offered in a form's Select (the run forms and the playground's).

A plain helper each form holds (composition, as ``RunMarks``): the Select is the form's own
``#model``. A model chosen earlier that the target no longer lists stays chosen, marked
``(not served)``, so the run that uses it is refused under its field rather than changed.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Select


class ModelChoice:
    def __init__(self, select: Callable[[], Select[str]], who: str) -> None:
        self._select = select
        self.who = who
        """Who serves the models, as the prompt says it: ``the proxy``, ``the target``."""
        self.served: list[str] = []
        """The models served when last asked."""

    def set_served(self, served: list[str], error: str | None = None) -> None:
        """The models served (``error``: why none could be listed); a choice stays."""
        self.served = list(served)
        select = self._select()
        current = select.value
        keep = current if isinstance(current, str) else None
        self._options(keep)
        if keep is None and served:
            select.value = served[0]
        if error:
            select.prompt = f"{self.who} does not answer"
        elif not served:
            select.prompt = f"{self.who} serves no model yet"

    def choose(self, model: str) -> None:
        """Choose ``model`` even when it is not served (marked so)."""
        self._options(model)

    def _options(self, keep: str | None) -> None:
        select = self._select()
        options = [(m, m) for m in self.served]
        if keep and keep not in self.served:
            options.append((f"{keep} (not served)", keep))
        select.set_options(options)
        if keep:
            select.value = keep
