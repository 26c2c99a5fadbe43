"""The evaluation's settings, once: the ``eval`` flags, the Eval screen's form and its reader.

:data:`EVAL` is the field table (defaults from :class:`~.config.EvalConfig`). :func:`build`
makes the run from any source of values, the command's parsed flags or the form, with the
same core checks (``EvalConfig.problems``). :func:`read_form` reads the form, every problem
at once under its field (the flag said as the form's label: ``temperatures: 3 is out of
range [0, 2]``); :func:`refusal` does the same for what ``EvalRun.prepare`` raises (a model
the proxy does not serve, an unknown category, no setup).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.runs.fields import (
    MAX_TEMPERATURE,
    Field,
    Fields,
    FormValue,
    Problem,
    Reader,
)

from .cases import SUPPORTED, CategoryError
from .config import EvalConfig, EvalInputError


def numbers(text: str) -> tuple[float, ...]:
    """``"0, 0.7"`` as numbers, repeats dropped; ValueError names each piece that is not one."""
    pieces = [p for p in text.replace(" ", "").split(",") if p]
    bad = []
    out = []
    for piece in pieces:
        try:
            out.append(float(piece))
        except ValueError:
            bad.append(f"{piece!r} is not a number")
    if bad:
        raise ValueError(*bad)
    return tuple(dict.fromkeys(out))


def temperatures_arg(text: str) -> tuple[float, ...]:
    """``--temperatures``: at least one, each in [0, MAX_TEMPERATURE]."""
    found = numbers(text)
    for t in found:
        if not 0 <= t <= MAX_TEMPERATURE:
            raise ValueError(f"{t:g} is out of range [0, {MAX_TEMPERATURE:g}]")
    if not found:
        raise ValueError("at least one temperature")
    return found


def categories_arg(text: str) -> tuple[str, ...]:
    """``--categories``: at least one (checked against the installed files when it runs)."""
    names = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    if not names:
        raise ValueError("at least one category")
    return names


def chosen_categories(chosen: FormValue) -> tuple[str, ...]:
    """The form's chosen categories: at least one, each supported here."""
    names = [chosen] if isinstance(chosen, str) else [] if isinstance(chosen, bool) else chosen
    categories = tuple(dict.fromkeys(names))
    bad = [] if categories else [f"choose at least one (supported: {', '.join(SUPPORTED)})"]
    bad += [
        f"{c!r} is not supported here ({', '.join(SUPPORTED)})"
        for c in categories
        if c not in SUPPORTED
    ]
    if bad:
        raise ValueError(*bad)
    return categories


EVAL = Fields(
    Field(
        "model",
        help="a model the proxy serves",
        flag="--model",
        metavar="M",
        missing="choose a model the proxy serves",
    ),
    Field(
        "categories",
        "names",
        EvalConfig.categories,
        "comma-separated BFCL v4 categories ({default})",
        "--categories",
        "A,B",
        choices=SUPPORTED,
        read=chosen_categories,
        arg=categories_arg,
    ),
    Field(
        "limit",
        "positive",
        EvalConfig.limit,
        "the first N cases of each",
        "--limit",
        "N",
        placeholder="all cases",
    ),
    Field(
        "temperatures",
        "text",
        EvalConfig.temperatures,
        "({default})",
        "--temperatures",
        "T,T",
        placeholder="0, 0.7",
        read=lambda raw: numbers(str(raw)),
        arg=temperatures_arg,
    ),
    Field(
        "guided",
        "switch",
        EvalConfig.guided,
        "also run each case guided: tool_choice required, strict tools",
        "--guided",
        hint="a second pass with tool_choice required and strict tools (not for irrelevance)",
    ),
    Field(
        "seed",
        "non_negative",
        EvalConfig.seed,
        "sent with every request",
        "--seed",
        "N",
        placeholder="none",
    ),
    Field(
        "max_tokens",
        "positive",
        EvalConfig.max_tokens,
        "per request ({default})",
        "--max-tokens",
        "N",
    ),
    Field(
        "concurrency",
        "positive",
        EvalConfig.concurrency,
        "requests in flight ({default})",
        "--concurrency",
        "N",
    ),
)
"""Every setting of an evaluation, in the order of ``eval --help``."""


def build(get: Callable[[str], Any]) -> tuple[EvalConfig, list[str]]:
    """The run the values describe (``get(key)``: a field's value), and its core problems."""
    config = EvalConfig(
        model=get("model") or "",
        categories=tuple(get("categories")),
        temperatures=tuple(get("temperatures")),
        guided=bool(get("guided")),
        limit=get("limit"),
        seed=get("seed"),
        max_tokens=get("max_tokens"),
        concurrency=get("concurrency"),
    )
    return config, config.problems()


def read_form(values: Mapping[str, FormValue]) -> EvalConfig:
    """The run the form describes; ``BadInput`` names every problem, by field.

    ``values`` holds ``model``, ``categories`` (the chosen names), ``guided`` (a bool) and the
    text of the other fields of :data:`EVAL` (a missing one takes its default).
    """
    r = Reader(EVAL, values)
    config, problems = build(r.get)
    r.check(problems)
    return r.done(config)


def refusal(exc: NapthaError) -> list[Problem]:
    """What ``EvalRun.prepare`` refused, under the field it is about (nothing was sent)."""
    text = str(exc)
    if isinstance(exc, CategoryError):
        return [Problem("categories", p, named=True) for p in text.split("; ")]
    if isinstance(exc, EvalInputError) and text.startswith("model "):
        return [Problem("model", text, named=True)]
    if isinstance(exc, EvalInputError):
        return [EVAL.problem(p) for p in text.split("; ")]
    return [Problem("", text)]  # the proxy does not answer; bfcl-eval is not set up
