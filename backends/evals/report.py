"""The Eval screen's form and tables as plain values: what the screen and ``eval`` share.

``read_form`` turns the form (text as typed, the chosen categories, the guided switch) into
the :class:`~.run.EvalConfig` the headless ``eval`` command makes from the same flags (same
defaults, the same core checks: ``EvalConfig.problems``), or raises :class:`FormInvalid` with
every problem at once, each under its field. The core names a problem by its flag
(``--temperatures: 3 is out of range [0, 2]``); here the flag becomes the form's label
(``temperatures: 3 is out of range [0, 2]``). :func:`refusal` does the same for what
``EvalRun.prepare`` raises (a model the proxy does not serve, an unknown category, no setup).

:func:`accuracy_rows` and :func:`total_rows` are the accuracy table (per category and
temperature, unguided and guided; then the totals) as typed rows, from a run's live cells or a
saved run's summary (:func:`cells_of`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from naptha_tui.backends.errors import NapthaError

from .cases import DEFAULT_CATEGORIES, SUPPORTED, CategoryError
from .records import Cell, totals
from .results import Row
from .run import DEFAULT_CONCURRENCY, DEFAULT_MAX_TOKENS, EvalConfig, EvalInputError

LABELS: dict[str, str] = {
    "model": "model",
    "categories": "categories",
    "limit": "limit",
    "temperatures": "temperatures",
    "guided": "guided",
    "seed": "seed",
    "max_tokens": "max tokens",
    "concurrency": "concurrency",
}
"""Each field's key and the label the form shows (problems name the label)."""

FLAGS: dict[str, str] = {
    "--model": "model",
    "--categories": "categories",
    "--temperatures": "temperatures",
    "--limit": "limit",
    "--seed": "seed",
    "--max-tokens": "max_tokens",
    "--concurrency": "concurrency",
}
"""How the core names a field in its messages (the headless command's flags)."""

DEFAULTS: dict[str, str] = {
    "limit": "",
    "temperatures": "0",
    "seed": "",
    "max_tokens": str(DEFAULT_MAX_TOKENS),
    "concurrency": str(DEFAULT_CONCURRENCY),
}
"""The text fields' first values: the ``eval`` command's defaults."""
DEFAULT_CHOSEN = DEFAULT_CATEGORIES
"""The categories chosen at first (``eval``'s default ``--categories``)."""

FormValues = Mapping[str, str | bool | Sequence[str]]


@dataclass(frozen=True)
class FormProblem:
    field: str
    """The field's key (``temperatures``), or ``""`` when no one field is to blame."""
    message: str
    """What is wrong, naming the field by its label."""

    def __str__(self) -> str:
        return self.message


class FormInvalid(NapthaError):
    """The form does not describe a run; nothing was sent."""

    def __init__(self, problems: list[FormProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def field_problem(text: str) -> FormProblem:
    """A core message (``--limit: 0 (at least 1)``) as a problem of its field."""
    for flag, key in FLAGS.items():
        if re.match(rf"{re.escape(flag)}\b", text):
            return FormProblem(key, LABELS[key] + text[len(flag) :])
    return FormProblem("", text)


def refusal(exc: NapthaError) -> list[FormProblem]:
    """What ``EvalRun.prepare`` refused, under the field it is about (nothing was sent)."""
    text = str(exc)
    if isinstance(exc, CategoryError):
        return [FormProblem("categories", p) for p in text.split("; ")]
    if isinstance(exc, EvalInputError) and text.startswith("model "):
        return [FormProblem("model", text)]
    if isinstance(exc, EvalInputError):
        return [field_problem(p) for p in text.split("; ")]
    return [FormProblem("", text)]  # the proxy does not answer; bfcl-eval is not set up


class _Reader:
    def __init__(self, values: FormValues) -> None:
        self.values = values
        self.problems: list[FormProblem] = []

    def text(self, key: str) -> str:
        return str(self.values.get(key, DEFAULTS.get(key, ""))).strip()

    def fail(self, key: str, detail: str) -> None:
        self.problems.append(FormProblem(key, f"{LABELS[key]}: {detail}"))

    def optional_whole(self, key: str) -> int | None:
        text = self.text(key)
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            self.fail(key, f"{text!r} is not a whole number")
            return None

    def whole(self, key: str) -> int:
        value = self.optional_whole(key)
        if value is None and not any(p.field == key for p in self.problems):
            self.fail(key, "required (a whole number)")
        return int(DEFAULTS[key]) if value is None else value


def read_form(values: FormValues) -> EvalConfig:
    """The run the form describes; ``FormInvalid`` names every problem, by field.

    ``values`` holds ``model``, ``categories`` (the chosen names), ``guided`` (a bool) and the
    text of ``limit``, ``temperatures``, ``seed``, ``max_tokens`` and ``concurrency`` (a
    missing one takes its default).
    """
    r = _Reader(values)
    model = r.text("model")
    if not model:
        r.fail("model", "choose a model the proxy serves")
    chosen = values.get("categories", DEFAULT_CHOSEN)
    names = [chosen] if isinstance(chosen, str) else [] if isinstance(chosen, bool) else chosen
    categories = tuple(dict.fromkeys(names))
    if not categories:
        r.fail("categories", f"choose at least one (supported: {', '.join(SUPPORTED)})")
    for name in categories:
        if name not in SUPPORTED:
            r.fail("categories", f"{name!r} is not supported here ({', '.join(SUPPORTED)})")
    temperatures: list[float] = []
    for piece in r.text("temperatures").replace(" ", "").split(","):
        if not piece:
            continue
        try:
            temperatures.append(float(piece))
        except ValueError:
            r.fail("temperatures", f"{piece!r} is not a number")
    config = EvalConfig(
        model=model,
        categories=categories,
        temperatures=tuple(dict.fromkeys(temperatures)),
        guided=bool(values.get("guided")),
        limit=r.optional_whole("limit"),
        seed=r.optional_whole("seed"),
        max_tokens=r.whole("max_tokens"),
        concurrency=r.whole("concurrency"),
    )
    typed = {p.field for p in r.problems}  # a field that did not parse has its default
    r.problems += [
        p for p in map(field_problem, config.problems()) if not p.field or p.field not in typed
    ]
    if r.problems:
        raise FormInvalid(r.problems)
    return config


# -- the accuracy table -------------------------------------------------------------------
def cells_of(doc: Mapping[str, Any]) -> list[Cell]:
    """A result document's ``summary`` back as cells (a saved run shown like a live one)."""
    out = []
    for c in doc.get("summary") or []:
        out.append(
            Cell(
                str(c["category"]),
                float(c["temperature"]),
                bool(c["guided"]),
                planned=int(c.get("planned") or 0),
                passed=int(c.get("passed") or 0),
                failed=int(c.get("failed") or 0),
                errors=int(c.get("errors") or 0),
                skipped=int(c.get("skipped") or 0),
            )
        )
    return out


def pct(cell: Cell | None) -> str:
    """``83.3% (5/6)``; ``n/a`` when nothing was scored yet, ``-`` for no such cell."""
    if cell is None:
        return "-"
    acc = cell.accuracy
    return "n/a" if acc is None else f"{acc:.1%} ({cell.passed}/{cell.scored})"


@dataclass(frozen=True)
class AccuracyRow:
    """One category at one temperature: its unguided cell and, when run, its guided one."""

    category: str
    temperature: float
    unguided: Cell | None
    guided: Cell | None

    @property
    def key(self) -> str:
        return f"{self.category}@{self.temperature:g}"

    @property
    def cells(self) -> list[Cell]:
        return [c for c in (self.unguided, self.guided) if c is not None]

    @property
    def planned(self) -> int:
        return sum(c.planned for c in self.cells)

    @property
    def done(self) -> int:
        return sum(c.scored + c.skipped for c in self.cells)

    @property
    def skipped(self) -> int:
        return sum(c.skipped for c in self.cells)

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.cells)


def accuracy_rows(cells: Sequence[Cell]) -> list[AccuracyRow]:
    """Per category and temperature, in the run's order."""
    by_key = {(c.category, c.temperature, c.guided): c for c in cells}
    return [
        AccuracyRow(cat, t, by_key.get((cat, t, False)), by_key.get((cat, t, True)))
        for cat, t in dict.fromkeys((c.category, c.temperature) for c in cells)
    ]


@dataclass(frozen=True)
class TotalRow:
    """Per temperature, unguided and guided: pooled accuracy and the mean of the categories'."""

    label: str
    """``all (pooled)`` or ``mean of categories``."""
    temperature: float
    unguided: str
    guided: str

    @property
    def key(self) -> str:
        return f"{self.label}@{self.temperature:g}"


def total_rows(cells: Sequence[Cell]) -> list[TotalRow]:
    """The leaderboard's two ways of summing categories up, as ``eval`` prints them."""
    by_key = {(x["temperature"], x["guided"]): x for x in totals(list(cells))}
    temps = list(dict.fromkeys(k[0] for k in by_key))
    out = []
    for label in ("all (pooled)", "mean of categories"):
        for t in temps:
            texts = []
            for g in (False, True):
                x = by_key.get((t, g))
                if x is None:
                    texts.append("-")
                elif label == "all (pooled)":
                    acc = x["accuracy"]
                    texts.append(
                        "n/a" if acc is None else f"{acc:.1%} ({x['passed']}/{x['scored']})"
                    )
                else:
                    m = x["mean_category_accuracy"]
                    texts.append("n/a" if m is None else f"{m:.1%}")
            out.append(TotalRow(label, t, texts[0], texts[1]))
    return out


def compare_cells(row: Row) -> list[str]:
    """One row of ``eval compare``'s table, as text."""

    def p(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    return [
        row.category,
        f"{row.temperature:g}",
        "guided" if row.guided else "unguided",
        f"{p(row.a)} ({row.a_scored})",
        f"{p(row.b)} ({row.b_scored})",
        "-" if row.diff is None else f"{row.diff * 100:+.1f} pt",
        str(row.fixed),
        str(row.broken),
    ]


COMPARE_HEADER = ("CATEGORY", "T", "PASS", "A", "B", "B-A", "FIXED IN B", "BROKEN IN B")
