"""One evaluation run as the ``eval`` flags or the Eval screen's form describe it.

Its defaults are the run's defaults: the field table (``fields.EVAL``) takes them from here,
and the command's flags and the form's first values follow the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.runs.fields import MAX_TEMPERATURE

from .cases import DEFAULT_CATEGORIES

DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_TOKENS = 256


class EvalInputError(NapthaError):
    """Bad input for a run (a flag, a model the proxy does not serve); nothing was sent."""


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation run, as the command's flags or the screen's form describe it."""

    model: str
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    temperatures: tuple[float, ...] = (0.0,)
    guided: bool = False
    """Also run each case guided (``tool_choice: required``, strict tools), not irrelevance."""
    limit: int | None = None
    """The first N cases of each category (all without one)."""
    seed: int | None = None
    """Sent with every request (vLLM then samples reproducibly at temperature > 0)."""
    max_tokens: int = DEFAULT_MAX_TOKENS
    concurrency: int = DEFAULT_CONCURRENCY

    def problems(self) -> list[str]:
        """Every problem with the flags, each naming its flag (empty: ready)."""
        out = []
        if not self.model:
            out.append("--model: required (a model the proxy serves)")
        if not self.categories:
            out.append("--categories: at least one")
        if not self.temperatures:
            out.append("--temperatures: at least one")
        for t in self.temperatures:
            if not 0 <= t <= MAX_TEMPERATURE:
                out.append(f"--temperatures: {t:g} is out of range [0, {MAX_TEMPERATURE:g}]")
        if self.limit is not None and self.limit < 1:
            out.append(f"--limit: {self.limit} (at least 1)")
        if self.seed is not None and self.seed < 0:
            out.append(f"--seed: {self.seed} (0 or more)")
        if self.max_tokens < 1:
            out.append(f"--max-tokens: {self.max_tokens} (at least 1)")
        if self.concurrency < 1:
            out.append(f"--concurrency: {self.concurrency} (at least 1)")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "categories": list(self.categories),
            "temperatures": list(self.temperatures),
            "guided": self.guided,
            "limit": self.limit,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "concurrency": self.concurrency,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> EvalConfig:
        return cls(
            model=str(doc.get("model", "")),
            categories=tuple(doc.get("categories") or ()),
            temperatures=tuple(float(t) for t in doc.get("temperatures") or ()),
            guided=bool(doc.get("guided")),
            limit=doc.get("limit"),
            seed=doc.get("seed"),
            max_tokens=int(doc.get("max_tokens") or DEFAULT_MAX_TOKENS),
            concurrency=int(doc.get("concurrency") or DEFAULT_CONCURRENCY),
        )
