"""Runs saved in a state-dir folder, one JSON document each: named, listed and loaded.

The common part of ``loadgen/results.py`` (``bench``) and ``evals/results.py`` (``eval``).
A run's name is its start time and label (``20261201-173015-proxy``), unique within the
folder; the file is ``FOLDER/NAME.json`` (0600, written in one rename).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.files import atomic_write

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")


def new_name(folder: Path, label: str) -> str:
    """The start time and ``label`` made safe, with ``-2``, ``-3`` ... if taken in ``folder``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.") or "run"
    base = time.strftime("%Y%m%d-%H%M%S") + f"-{safe}"[:48]
    name, n = base, 1
    while (folder / f"{name}.json").exists():
        n += 1
        name = f"{base}-{n}"
    return name


def write(folder: Path, name: str, doc: Mapping[str, Any]) -> None:
    atomic_write(folder / f"{name}.json", json.dumps(doc, indent=1) + "\n")


def names(folder: Path) -> list[str]:
    """The saved runs' names, oldest first."""
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def read(folder: Path, name_or_file: str, what: str) -> tuple[Path, Any]:
    """The file of a saved run by name (``WHAT list``) or a path to a result file, and its JSON.

    Raises:
        NapthaError: no such run, or not readable as JSON (``what``: ``bench``, ``eval``).
    """
    given = Path(name_or_file)
    if given.suffix == ".json" and given.exists():
        path = given
    elif NAME.fullmatch(name_or_file):
        path = folder / f"{name_or_file}.json"
        if not path.exists():
            known = ", ".join(names(folder)[-5:]) or "none yet"
            raise NapthaError(
                f"no {what} run {name_or_file!r} (latest: {known}; see `{what} list`)"
            )
    else:
        raise NapthaError(f"{what} run {name_or_file!r}: not a run name nor a .json file")
    try:
        return path, json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise NapthaError(f"{path}: not a readable {what} result ({exc})") from exc


def loadable(
    names: list[str], load: Callable[[str], dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each run of ``names`` that ``load`` accepts, with its document; the others are skipped."""
    for name in names:
        try:
            doc = load(name)
        except NapthaError:
            continue
        yield name, doc
