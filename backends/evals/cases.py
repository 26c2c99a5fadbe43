"""The leaderboard's categories and cases, read from the installed ``bfcl_eval/data``.

Each category is one JSON-lines file, ``BFCL_v4_<category>.json``: ``{"id", "question",
"function"}`` where ``question`` is a list of turns, each a list of chat messages (every
single-turn category has one turn), and ``function`` the BFCL function documents. The AST
categories have their possible answers in ``possible_answer/BFCL_v4_<category>.json``:
``{"id", "ground_truth": [{func_name: {param: [accepted values]}}]}``; ``irrelevance`` and
``live_irrelevance`` pass when no call is made, ``live_relevance`` when one is.

As the leaderboard's ``load_dataset_entry`` does, every function description gets the
language hint (" Note that the provided function is in Python 3 syntax.").
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from naptha_tui.backends.errors import NapthaError

PREFIX = "BFCL_v4_"
SUPPORTED = (
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
)
"""The single-turn Python categories: the AST checker and one request per case score them.
Multi-turn and agentic ones need BFCL's executors; Java and JavaScript its type converters and
prompt rewriting (not wired here)."""
DEFAULT_CATEGORIES = tuple(
    c for c in SUPPORTED if c not in ("live_parallel", "live_parallel_multiple", "live_relevance")
)
"""What a run takes unless told: the supported categories but for three of the live ones."""
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."

Kind = Literal["ast", "irrelevance", "relevance"]


class CategoryError(NapthaError):
    """A category that BFCL does not ship, or that this panel cannot score."""


@dataclass(frozen=True)
class Case:
    """One leaderboard case: what is sent, and what a right answer is."""

    id: str
    category: str
    messages: list[dict[str, Any]]
    """The question's (only) turn: chat messages as sent."""
    functions: list[dict[str, Any]]
    """BFCL function documents (with the language hint), as the checker reads them."""
    answers: list[dict[str, Any]] | None = None
    """The possible answers (``ground_truth``); None for the (ir)relevance categories."""

    @property
    def kind(self) -> Kind:
        return kind_of(self.category)

    @property
    def question(self) -> str:
        """The last user message (for lists and headers)."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return str((users or self.messages or [{}])[-1].get("content", ""))


def kind_of(category: str) -> Kind:
    """How a category is scored (BFCL's ``is_relevance_or_irrelevance`` and its opposite)."""
    if "irrelevance" in category:
        return "irrelevance"
    if "relevance" in category:
        return "relevance"
    return "ast"


def shipped(data_dir: Path) -> list[str]:
    """The categories whose case file the install holds."""
    return sorted(p.name[len(PREFIX) : -len(".json")] for p in data_dir.glob(f"{PREFIX}*.json"))


def check_categories(names: list[str], data_dir: Path) -> list[str]:
    """``names`` in order without repeats; every bad one named at once.

    Raises:
        CategoryError: a name BFCL does not ship, or one this panel cannot score.
    """
    found = shipped(data_dir)
    problems = []
    if not names:
        problems.append(f"no category given (supported: {', '.join(SUPPORTED)})")
    for name in dict.fromkeys(names):
        if name not in found:
            problems.append(
                f"unknown category {name!r} (BFCL v4 ships: {', '.join(found)}; "
                f"supported here: {', '.join(SUPPORTED)})"
            )
        elif name not in SUPPORTED:
            problems.append(
                f"category {name!r} is not supported here: only the single-turn Python "
                f"categories are ({', '.join(SUPPORTED)})"
            )
    if problems:
        raise CategoryError("; ".join(problems))
    return list(dict.fromkeys(names))


def _lines(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CategoryError(f"cannot read {path}: {exc.strerror or exc}") from exc
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CategoryError(f"{path} line {n}: not JSON ({exc.msg})") from exc
        if not isinstance(doc, dict) or "id" not in doc:
            raise CategoryError(f"{path} line {n}: not a case (no 'id')")
        out.append(doc)
    return out


def _hinted(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(functions)
    for f in out:
        if isinstance(f, dict):
            f["description"] = str(f.get("description", "")) + PYTHON_HINT
    return out


def load_cases(data_dir: Path, category: str, limit: int | None = None) -> list[Case]:
    """The first ``limit`` cases of ``category`` (all without one), in the file's order.

    Raises:
        CategoryError: the file is missing or malformed, or an AST case has no possible answer.
    """
    entries = _lines(data_dir / f"{PREFIX}{category}.json")
    if limit is not None:
        entries = entries[:limit]
    answers: dict[str, Any] = {}
    if kind_of(category) == "ast":
        answer_file = data_dir / "possible_answer" / f"{PREFIX}{category}.json"
        answers = {a["id"]: a.get("ground_truth") for a in _lines(answer_file)}
    cases = []
    for e in entries:
        turns = e.get("question") or [[]]
        if not isinstance(turns, list) or len(turns) != 1 or not isinstance(turns[0], list):
            raise CategoryError(f"{category} case {e['id']}: not one turn of messages")
        truth = None
        if answers:
            truth = answers.get(e["id"])
            if not isinstance(truth, list):
                raise CategoryError(f"{category} case {e['id']}: no possible answer")
        cases.append(
            Case(
                id=str(e["id"]),
                category=category,
                messages=turns[0],
                functions=_hinted(list(e.get("function") or [])),
                answers=truth,
            )
        )
    return cases
