"""The panel's form and a session, both ways: what each field shows, and the Spec they make.

The form (``tui/widgets/playground_form``) hands what its fields hold by the table's keys
(``RunForm.values``: a text, a switch's state, the modes chosen) and fills itself from
:func:`form_values`; everything about a field's meaning is here, Textual-free. A field whose
text is the Spec's value as it is (model, system, prompt) needs no line: the others say how
they show (``SHOW``) and read (``READ``) their text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from naptha_tui.backends.runs.fields import FormValue, Problem

from .fields import TRY
from .spec import Spec, parse_temperatures, parse_tools

PARALLEL = {"default": None, "true": True, "false": False}
"""parallel_tool_calls as the form's choice: not sent, true, false."""
PARALLEL_CHOICE = {value: choice for choice, value in PARALLEL.items()}
SPEC_NAMES = {"mode": "modes", "schema": "schema_"}
"""Spec's attribute for a field, where the table's key differs (``schema`` is its alias)."""
FIELD_OF = {name: key for key, name in SPEC_NAMES.items()}
"""The field a problem names by Spec's attribute (``modes``: ``mode``)."""
KEPT = ("expect_tool", "extra_body")
"""What the form has no field for: a loaded session's stays as it was."""


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2) if value else ""


def _optional(text: FormValue) -> str | None:
    return str(text) or None


def _whole(text: FormValue) -> int:
    text = str(text).strip()
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _json(text: FormValue) -> Any:
    if not str(text).strip():
        return None
    try:
        return json.loads(str(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at line {exc.lineno} col {exc.colno}") from None


def _conversation(text: FormValue) -> list[Any] | None:
    doc = _json(text)
    if doc is not None and not isinstance(doc, list):
        raise ValueError("must be a JSON list of messages")
    return doc


SHOW: dict[str, Callable[[Any], FormValue]] = {
    "conversation": _json_text,
    "tools": _json_text,
    "schema": lambda s: "" if s is None else json.dumps(s, indent=2),
    "mode": list,
    "regex": lambda r: r or "",
    "grammar": lambda g: g or "",
    "choice": ",".join,
    "parallel_tool_calls": PARALLEL_CHOICE.__getitem__,
    "temperatures": lambda ts: ",".join(f"{t:g}" for t in ts),
    "samples": str,
    "max_tokens": str,
    "seed": lambda s: "" if s is None else str(s),
}
"""How a field shows its Spec value (else as it is)."""

READ: dict[str, Callable[[FormValue], Any]] = {
    "conversation": _conversation,
    "schema": _json,
    "mode": lambda chosen: list(chosen) if not isinstance(chosen, bool) else [],
    "regex": _optional,
    "grammar": _optional,
    "choice": lambda text: [c.strip() for c in str(text).split(",")] if text else [],
    "parallel_tool_calls": lambda choice: PARALLEL.get(str(choice)),
    "temperatures": lambda text: parse_temperatures(str(text)),
    "samples": _whole,
    "max_tokens": _whole,
    "seed": lambda text: _whole(text) if str(text).strip() else None,
}
"""How a field's text reads (ValueError: the problem under it; None: left out, the Spec's
default applies). The tools read apart: their problems name a tool (``tools[NAME]...``)."""


def field_key(field: str) -> str:
    """The form field a Problem names, ``""`` when none (the form's own line).

    ``tools[get_weather].function.parameters`` names ``tools``; ``modes`` names ``mode``.
    """
    head = re.split(r"[\[. (]", field, maxsplit=1)[0]
    key = FIELD_OF.get(head, head)
    return key if key in TRY and TRY[key].form else ""


def _spec_key(key: str) -> str:
    """How Spec takes field ``key``'s value (its alias where it has one)."""
    name = SPEC_NAMES.get(key, key)
    return Spec.model_fields[name].alias or name


def form_values(spec: Spec) -> dict[str, FormValue]:
    """What each field of the form shows of ``spec``."""
    out: dict[str, FormValue] = {}
    for f in TRY.form:
        value = getattr(spec, SPEC_NAMES.get(f.key, f.key))
        show = SHOW.get(f.key)
        out[f.key] = show(value) if show is not None else value
    return out


def read_form(values: Mapping[str, FormValue], kept: Spec) -> tuple[Spec, list[Problem]]:
    """The session the fields describe, and what could not be read, field by field.

    What the form has no field for comes from ``kept``; a field that does not read takes
    Spec's default.
    """
    problems: list[Problem] = []
    doc: dict[str, Any] = kept.model_dump(by_alias=True, include=set(KEPT))
    for f in TRY.form:
        raw = values.get(f.key, "")
        if f.key == "tools":
            doc["tools"], bad = parse_tools(str(raw))
            problems += bad
            continue
        try:
            read = READ.get(f.key)
            value = read(raw) if read is not None else raw
        except ValueError as exc:
            problems.append(Problem(f.key, str(exc)))
            continue
        if value is not None:
            doc[_spec_key(f.key)] = value
    return Spec.model_validate(doc), problems
