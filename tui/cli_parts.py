"""The pieces the command line is built from: lazily loaded bodies and choices, flag types.

Standard library only, like ``tui/cli.py``: ``--help`` and usage errors must stay instant.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from naptha_tui.backends.paths import Paths
    from naptha_tui.backends.runs.fields import Fields
    from naptha_tui.backends.settings import Settings

Command = Callable[[argparse.Namespace, "Paths", "Settings"], int]


@dataclass(frozen=True)
class Lazy:
    """A command body, ``naptha_tui.tui.commands.MODULE.NAME``, imported when it runs."""

    module: str
    name: str

    def load(self) -> Command:
        found: Command = getattr(
            importlib.import_module(f"naptha_tui.tui.commands.{self.module}"), self.name
        )
        return found

    def __call__(self, args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
        return self.load()(args, paths, settings)


class LazyChoices:
    """Valid values that live in a backend module, loaded only when argparse checks a value
    or prints them (the sub-command's own help), never for ``naptha-tui --help``."""

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load = load
        self._values: list[str] | None = None

    def _get(self) -> list[str]:
        if self._values is None:
            self._values = sorted(self._load())
        return self._values

    def __contains__(self, value: object) -> bool:
        return value in self._get()

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())


def json_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"{what} as JSON")


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def seconds(text: str) -> float:
    """A number of seconds, 0 or more (argparse type)."""
    value = _float(text, "a number of seconds")
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def positive(text: str) -> int:
    """A whole number, 1 or more (argparse type)."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def non_negative(text: str) -> int:
    """A whole number, 0 or more (argparse type): a seed."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def rate(text: str) -> float:
    """Requests a second, above 0; ``inf`` sends all at once (argparse type)."""
    value = _float(text, "a rate (a number, or inf)")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: a rate must be above 0 (inf sends all at once)")
    return value


def fraction(text: str) -> float:
    """A number between 0 and 1 (argparse type)."""
    value = _float(text, "a number")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: must be between 0 and 1")
    return value


def argument_type(read: Callable[[str], Any]) -> Callable[[str], Any]:
    """A field's reading of its text as an argparse type: its ValueError names the problem."""

    def typed(text: str) -> Any:
        try:
            return read(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc.args[0])) from None

    typed.__name__ = read.__name__
    return typed


KIND_TYPES: dict[str, Callable[[str], Any]] = {
    "whole": int,
    "positive": positive,
    "non_negative": non_negative,
    "number": float,
    "rate": rate,
    "fraction": fraction,
    "seconds": seconds,
}
"""The argument type each kind of field takes (the others are text)."""


def add_fields(p: argparse.ArgumentParser, table: Fields) -> dict[str, argparse._ArgumentGroup]:
    """A flag for each field of ``table`` that has one, in its order; the groups, by title."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in table:
        if f.flag is None:
            continue
        where: argparse._ActionsContainer = p
        if f.group is not None:
            where = groups.get(f.group) or groups.setdefault(f.group, p.add_argument_group(f.group))
        options: dict[str, Any] = {"dest": f.key}
        if f.help_text:
            options["help"] = f.help_text
        if f.kind == "switch":
            options["action"] = "store_true"
        else:
            options["default"] = f.default
            if f.metavar:
                options["metavar"] = f.metavar
            if f.kind == "choice":
                options["choices"] = f.choices
            kind_type = argument_type(f.arg) if f.arg else KIND_TYPES.get(f.kind)
            if kind_type is not None:
                options["type"] = kind_type
        options.update(f.cli)
        where.add_argument(f.flag, **options)
    return groups


def run_flags(
    p: argparse.ArgumentParser, result: str, group: argparse._ArgumentGroup | None = None
) -> None:
    """What every run command takes besides its fields: a label, --no-save, --json."""
    where: argparse._ActionsContainer = group or p
    where.add_argument("--label", metavar="TEXT", help="a word for the saved run's name")
    where.add_argument("--no-save", action="store_true", help="do not save the result")
    json_flag(p, result)


def add_command(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help: str,
    func: Lazy,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A command (or a group's action) that runs ``func``; its flags are added by the caller."""
    p = group.add_parser(name, help=help, description=description or help)
    p.set_defaults(func=func)
    return p


def add_group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """A command whose first argument is an action; without one, argparse names the choices."""
    return sub.add_parser(name, help=help, description=help).add_subparsers(
        title="actions", required=True
    )
