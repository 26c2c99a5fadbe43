"""Finished runs kept in a state-dir folder, one file each: named, listed, loaded, compared.

The load test (``<state dir>/bench``) and the evaluation (``<state dir>/evals``) keep their
results here as JSON documents; the playground keeps its sessions (YAML, its own format) in a
store of its own folder and suffix. A run's name is its start time and label
(``20261201-173015-proxy``), unique within the folder; the file is ``FOLDER/NAME.json``, 0600
in a 0700 folder, written in one rename.

What a document of each kind holds, how it sums up in a list and how two compare stay with
the feature (``loadgen/results.py``, ``evals/results.py``), which says them in a
:class:`RunKind` (``report.py``); :func:`comparison` is the shape both ``compare --json``
print.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.files import atomic_write
from naptha_tui.backends.paths import Paths

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")

Doc = dict[str, Any]


class Row(Protocol):
    """One row of a comparison (a figure, or a category at a temperature)."""

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RunStore:
    """One feature's finished runs."""

    folder: str
    """Under the state dir: ``bench``, ``evals``, ``playground``."""
    what: str
    """How its commands name a run of it: ``bench`` (``no bench run 'x'; see `bench list```)."""
    kind_problem: Callable[[Any], str | None] = lambda doc: (
        None if isinstance(doc, dict) else "not a result (not a JSON object)"
    )
    """Why a loaded document is not a result of this kind (``not a bench result (...)``)."""
    name_first: bool = False
    """A saved document starts with its name (else ends with it), as it always has."""
    suffix: str = ".json"

    def folder_of(self, paths: Paths) -> Path:
        return paths.state_dir / self.folder

    def names(self, paths: Paths) -> list[str]:
        """The saved runs' names, oldest first."""
        folder = self.folder_of(paths)
        return sorted(p.stem for p in folder.glob(f"*{self.suffix}")) if folder.is_dir() else []

    def write(self, paths: Paths, name: str, text: str) -> Path:
        """``text`` as run ``name`` (replacing one of that name); the file."""
        path = paths.ensure(self.folder_of(paths), private=True) / f"{name}{self.suffix}"
        atomic_write(path, text)
        return path

    def save(self, paths: Paths, result: Mapping[str, Any], label: str) -> str:
        """Save ``result`` under a new name (its start time and ``label``); returns the name."""
        folder = paths.ensure(self.folder_of(paths), private=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-.") or "run"
        base = time.strftime("%Y%m%d-%H%M%S") + f"-{safe}"[:48]
        name, n = base, 1
        while (folder / f"{name}{self.suffix}").exists():
            n += 1
            name = f"{base}-{n}"
        doc = {"name": name, **result} if self.name_first else {**result, "name": name}
        self.write(paths, name, json.dumps(doc, indent=1) + "\n")
        return name

    def load(self, paths: Paths, name_or_file: str) -> Doc:
        """A saved run by name (``WHAT list``) or a path to a result file.

        Raises:
            NapthaError: no such run, not readable as JSON, or not a result of this kind.
        """
        what = self.what
        given = Path(name_or_file)
        if given.suffix == self.suffix and given.exists():
            path = given
        elif NAME.fullmatch(name_or_file):
            path = self.folder_of(paths) / f"{name_or_file}{self.suffix}"
            if not path.exists():
                known = ", ".join(self.names(paths)[-5:]) or "none yet"
                raise NapthaError(
                    f"no {what} run {name_or_file!r} (latest: {known}; see `{what} list`)"
                )
        else:
            raise NapthaError(f"{what} run {name_or_file!r}: not a run name nor a .json file")
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise NapthaError(f"{path}: not a readable {what} result ({exc})") from exc
        problem = self.kind_problem(doc)
        if problem:
            raise NapthaError(f"{path}: {problem}")
        assert isinstance(doc, dict)  # kind_problem refuses anything else
        return doc

    def loaded(self, paths: Paths) -> Iterator[tuple[str, Doc]]:
        """Each saved run that loads, oldest first, with its document (the others skipped)."""
        for name in self.names(paths):
            try:
                doc = self.load(paths, name)
            except NapthaError:
                continue
            yield name, doc

    def summaries(self, paths: Paths, summary: Callable[[str, Doc], Doc]) -> list[Doc]:
        """One line per saved run that loads, oldest first (``summary`` makes it)."""
        return [summary(name, doc) for name, doc in self.loaded(paths)]


def comparison(a: Mapping[str, Any], b: Mapping[str, Any], rows: Sequence[Row]) -> Doc:
    """Two runs compared, as ``compare --json`` prints it: their names and the rows."""
    return {"a": a.get("name"), "b": b.get("name"), "rows": [r.to_json() for r in rows]}


@dataclass(frozen=True)
class RunKind:
    """A feature's saved runs as ``list``, ``compare`` and the Saved runs tab see them."""

    store: RunStore
    summary: Callable[[str, Doc], Doc]
    """A run in one line (``bench list --json``'s objects)."""
    list_header: Sequence[str]
    list_cells: Callable[[Doc], list[str]]
    """A run's line as the list's cells, ``list_header`` naming them."""
    compare: Callable[[Doc, Doc], Sequence[Row]]
    compare_lines: Callable[[Doc, Doc], list[str]]
    report_lines: Callable[[Doc], list[str]]
    """A run's report, as its command prints it when the run ends."""
    show: str
    """The command that shows a saved run again: ``bench show {name}``."""

    def summaries(self, paths: Paths) -> list[Doc]:
        """One line per saved run that loads, oldest first."""
        return self.store.summaries(paths, self.summary)
