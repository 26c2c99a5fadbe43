"""The outcome of `presets check`: each preset's problems, the exit code and the summary line.

:mod:`naptha_tui.backends.checks.preset_check` finds the problems; this is how they are reported.
Everything here returns data; the CLI prints it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

ProblemKind = Literal["invalid", "flag", "parser", "option", "template", "dtype"]
WARNING_KINDS: frozenset[ProblemKind] = frozenset({"dtype"})
"""Kinds that say what a preset costs here but would still start (exit code 0)."""

NOT_CHECKED = "not checked"
"""A report's ``source`` when its file does not load."""
REMOTE = "remote: nothing to start"
"""A report's ``source`` for a ``kind: remote`` preset (nothing runs here to check against)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a preset: its file, line, key and what is wrong."""

    file: str
    key: str
    message: str
    line: int | None = None
    preset: str = ""
    kind: ProblemKind = "flag"
    """``invalid``: the file does not load at all; ``dtype``: it runs, slower than it could
    on this CPU (a warning); the others: vLLM would reject it."""

    @property
    def warning(self) -> bool:
        """Said, but not a reason to refuse the preset (exit code 0)."""
        return self.kind in WARNING_KINDS

    def __str__(self) -> str:
        where = f":{self.line}" if self.line else ""
        prefix = "warning: " if self.warning else ""
        return f"{prefix}{self.file}{where}: {self.key}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The problem as data (``presets check --json``)."""
        return {
            "file": self.file,
            "line": self.line,
            "preset": self.preset,
            "key": self.key,
            "kind": self.kind,
            "severity": "warning" if self.warning else "error",
            "message": self.message,
        }


@dataclass(frozen=True)
class PresetReport:
    """The outcome of checking one preset file."""

    file: str
    preset: str
    source: str
    """Which table or runtime the flags were checked against."""
    problems: tuple[Problem, ...] = ()
    model: str = ""
    runtime: str = ""

    @property
    def ok(self) -> bool:
        """No problems (warnings aside)."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that are not warnings."""
        return tuple(p for p in self.problems if not p.warning)

    @property
    def invalid(self) -> bool:
        """The file did not load."""
        return any(p.kind == "invalid" for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        """The report as data."""
        return {
            "file": self.file,
            "preset": self.preset,
            "model": self.model,
            "runtime": self.runtime,
            "source": self.source,
            "ok": self.ok,
            "problems": [p.to_json() for p in self.problems],
        }


def exit_code(reports: Iterable[PresetReport]) -> int:
    """2 when a file does not load, 1 when a preset has problems, 0 when all are clean."""
    reports = list(reports)
    if any(r.invalid for r in reports):
        return 2
    return 1 if any(r.errors for r in reports) else 0


def summary(reports: Sequence[PresetReport]) -> str:
    """One line: how many presets and problems, and what the loaded ones were checked against.

    Files that do not load and remote presets were checked against nothing, so they are counted
    apart: ``checked 4 preset(s): 3 problem(s), 1 file(s) that do not load. Checked against
    vLLM 0.32.0 in runtime cpu: 2. 1 remote preset(s), nothing to check``.
    """
    problems = sum(len(r.errors) for r in reports)
    warnings = sum(len(r.problems) - len(r.errors) for r in reports)
    invalid = sum(1 for r in reports if r.invalid)
    text = f"checked {len(reports)} preset(s): {problems} problem(s)"
    if warnings:
        text += f", {warnings} warning(s)"
    if invalid:
        text += f", {invalid} file(s) that do not load"
    loaded = [r for r in reports if not r.invalid]
    against = Counter(r.source for r in loaded if r.source != REMOTE)
    remote = sum(1 for r in loaded if r.source == REMOTE)
    sentences = [text]
    if against:
        sentences.append("Checked against " + "; ".join(f"{s}: {n}" for s, n in against.items()))
    if remote:
        sentences.append(f"{remote} remote preset(s), nothing to check")
    return ". ".join(sentences)
