"""A run's settings said once: a table of fields that the flags, the form and its reader follow.

Each :class:`Field` has a key (the name in code, in the command's parsed arguments and in the
form's DOM ids), the label the form shows, a kind (how its text reads: a whole number, a rate, a
choice...), its default, its help and the flag the headless command takes (``--num-prompts``).
The command line adds its flags from the table (``tui/cli_parts.add_fields``), the panel
builds its form from it (``tui/widgets/run_form.RunForm``), and :class:`Reader` turns what
the form holds into typed values with every problem under its field.

Bounds are the kinds' (``positive``: 1 or more; the command's argument types check them) and
each feature's config ``problems()``, which name the flag: :meth:`Fields.problem` turns the
flag into the field's label, so a message names what the operator sees.

The standard library only: the command line imports this to build its parser, and ``--help``
must stay instant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from naptha_tui.backends.errors import NapthaError

Kind = Literal[
    "text",
    "choice",
    "switch",
    "names",
    "words",
    "whole",
    "positive",
    "non_negative",
    "number",
    "rate",
    "fraction",
    "seconds",
]
"""How a field's text reads (and which argument type its flag takes)."""
WHOLE_KINDS = frozenset({"whole", "positive", "non_negative"})
NUMBER_KINDS = frozenset({"number", "rate", "fraction", "seconds"})

MAX_TEMPERATURE = 2.0
"""The highest sampling temperature a run sweeps (OpenAI's range is [0, 2])."""

FormValue = str | bool | Sequence[str]
"""What a form field holds: its text, a switch's state, or the names chosen in a list."""
T = TypeVar("T")


def as_text(value: Any) -> str:
    """A value as a form shows it: ``inf``, ``0.5``, ``0, 0.7``; ``""`` for none."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return ", ".join(as_text(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Problem:
    """One bad input: the field it is in, and what is wrong with it."""

    field: str
    """The field's key, or a path into it (``tools[get_weather].function``); ``""`` when no
    one field is to blame."""
    message: str
    """What is wrong."""
    named: bool = False
    """The message already names the field by its label (``request rate must be above 0``);
    otherwise it is said after the field (``temperatures: at least one``)."""

    def __str__(self) -> str:
        if self.named or not self.field:
            return self.message
        return f"{self.field}: {self.message}"


class BadInput(NapthaError):
    """The flags or the form do not describe a run; nothing was sent."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Field:
    """One setting of a run: what the command's flag, the form's field and the reader share."""

    key: str
    kind: Kind = "text"
    default: Any = None
    """The run's default (``None``: optional, none unless given)."""
    help: str = ""
    """The flag's help; ``{default}`` in it is the default: ``per request ({default})``."""
    flag: str | None = None
    """The headless command's flag (``--num-prompts``); core problems name the field by it."""
    metavar: str | None = None
    group: str | None = None
    """The flag's group in the command's help."""
    label: str = ""
    """As the form shows it (else the key, spaced); problems name the field so."""
    choices: tuple[str, ...] = ()
    choice_labels: tuple[str, ...] = ()
    """How the form names each choice (else as the choice itself)."""
    form: bool = True
    """Shown in the panel's form (else a form run takes the default)."""
    placeholder: str = ""
    hint: str = ""
    """A line under the form's field."""
    missing: str = ""
    """What the form says when the field is left empty (the field is then required)."""
    cli: Mapping[str, Any] = field(default_factory=dict)
    """The flag's own argparse settings, over those the kind gives (``nargs``, ``const``)."""
    read: Callable[[Any], Any] | None = None
    """The form's reading of this field (else the kind's): ValueError's args are problems."""
    arg: Callable[[str], Any] | None = None
    """The flag's reading of its text (else the kind's): ValueError names the problem."""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.key.replace("_", " "))

    @property
    def dom_id(self) -> str:
        return self.key.replace("_", "-")

    @property
    def text(self) -> str:
        """The default as the form's first text."""
        return as_text(self.default)

    @property
    def help_text(self) -> str:
        return self.help.replace("{default}", self.text)


class Fields:
    """A run's fields in order (the command's help and the form follow it).

    A string among them is a group's title: the fields after it are its flags, in the
    command's help. ``aliases``: other words core messages start with for a field
    (``goodput 'x': ...``).
    """

    def __init__(self, *items: Field | str, aliases: Mapping[str, str] | None = None) -> None:
        self.by_key: dict[str, Field] = {}
        group = None
        for item in items:
            if isinstance(item, str):
                group = item
            else:
                self.by_key[item.key] = replace(item, group=item.group or group)
        self.names = {f.flag: f.key for f in self if f.flag}
        self.names.update(aliases or {})

    def __getitem__(self, key: str) -> Field:
        return self.by_key[key]

    def __iter__(self) -> Iterator[Field]:
        return iter(self.by_key.values())

    def __contains__(self, key: object) -> bool:
        return key in self.by_key

    @property
    def form(self) -> list[Field]:
        return [f for f in self if f.form]

    def default(self, key: str) -> Any:
        return self.by_key[key].default

    def problem(self, text: str) -> Problem:
        """A core message (``--request-rate must be above 0``) as a problem of its field.

        The flag is said as the field's label: ``request rate must be above 0``.
        """
        for name, key in self.names.items():
            if re.match(rf"{re.escape(name)}\b", text):
                return Problem(key, self[key].label + text[len(name) :], named=True)
        return Problem("", text)


def read_value(f: Field, raw: FormValue) -> Any:
    """``raw`` as ``f``'s kind reads it; ValueError says what is wrong."""
    if f.kind == "switch":
        return bool(raw)
    if f.kind == "names":
        names = [raw] if isinstance(raw, str) else [] if isinstance(raw, bool) else raw
        return tuple(dict.fromkeys(names))
    text = str(raw).strip()
    if f.kind == "words":
        return text.replace(",", " ").split()
    if f.kind in WHOLE_KINDS or f.kind in NUMBER_KINDS:
        what = "a whole number" if f.kind in WHOLE_KINDS else "a number"
        if not text:
            if f.default is None:
                return None
            raise ValueError(f"required ({what})")
        try:
            return int(text) if f.kind in WHOLE_KINDS else float(text)
        except ValueError:
            extra = "" if f.kind in WHOLE_KINDS else " (inf is one)"
            raise ValueError(f"{text!r} is not {what}{extra}") from None
    if f.kind == "choice" and f.choices and text not in f.choices:
        raise ValueError(f"{text!r}: expected {' or '.join(f.choices)}")
    return text


class Reader:
    """What a form holds, read by its table: typed values, and every problem by field.

    ``get`` reads a field when asked (a feature reads only the fields its choices use); a
    field that does not read takes its default, and the core's problems about it are not
    added (it already has one).
    """

    def __init__(self, table: Fields, values: Mapping[str, FormValue]) -> None:
        self.table = table
        self.values = values
        self.problems: list[Problem] = []
        self._read: dict[str, Any] = {}

    def fail(self, key: str, detail: str) -> None:
        self.problems.append(Problem(key, f"{self.table[key].label}: {detail}", named=True))

    def get(self, key: str) -> Any:
        if key not in self._read:
            self._read[key] = self._get(self.table[key])
        return self._read[key]

    def _get(self, f: Field) -> Any:
        if not f.form:
            return f.default
        raw = self.values.get(f.key)
        if raw is None:
            raw = f.text if f.kind not in ("switch", "names") else f.default
        if f.missing and not str(raw).strip():
            self.fail(f.key, f.missing)
            return ""
        try:
            return f.read(raw) if f.read is not None else read_value(f, raw)
        except ValueError as exc:
            for detail in exc.args:
                self.fail(f.key, str(detail))
            return f.default

    def check(self, core: Sequence[str]) -> None:
        """Add the core's problems (naming flags), but for fields that did not read."""
        failed = {p.field for p in self.problems}
        found = [self.table.problem(text) for text in core]
        self.problems += [p for p in found if not p.field or p.field not in failed]

    def done(self, value: T) -> T:
        """``value``, or BadInput with every problem found."""
        if self.problems:
            raise BadInput(self.problems)
        return value
