"""What an evaluation run produces: one record per case and sample, accuracy cells, progress.

Plain data: :class:`~.run.EvalRun` fills them, the Eval screen and ``naptha-tui eval`` render
them, and :mod:`.results` saves and reloads them (``Record.from_json`` turns a saved record
back into the same typed row, so a saved failed case is inspected like a live one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .checker import Verdict
from .decode import Call


@dataclass
class Record:
    """One case at one temperature, guided or not: what was sent, what came back, the verdict.

    ``question``, ``expected`` and ``functions`` are what inspecting a failed case needs; a
    saved run keeps them for failed and skipped records only.
    """

    case_id: str
    category: str
    temperature: float
    guided: bool
    verdict: Verdict
    tool_choice: str | None = None
    """As sent: ``auto``, ``required``, or None (no tools)."""
    strict: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Names and arguments exactly as sent back."""
    decoded: list[Call] | None = None
    """The calls in the checker's form (None when they did not decode)."""
    content: str | None = None
    raw: str | None = None
    """The model's own text, before any parser (the playground's capture)."""
    raw_source: str = "none"
    raw_note: str | None = None
    finish_reason: str | None = None
    mismatches: list[str] = field(default_factory=list)
    """Calls written in ``content`` in a known format (the server's parser missed them)."""
    latency_ms: float | None = None
    error: str | None = None
    """The request failed (HTTP error, not a chat completion)."""
    skipped: bool = False
    """Not sent: the case's functions do not convert (the reason says which)."""
    layer: str | None = None
    """Where a failed case broke, from the evidence the sample already has (raw text against
    the server's parsed calls): ``model`` or ``parser`` (``layers.attribute``)."""
    layer_reason: str | None = None
    question: list[dict[str, Any]] | None = None
    expected: list[dict[str, Any]] | None = None
    functions: list[str] | None = None
    """BFCL's names of the functions offered."""

    @property
    def failed(self) -> bool:
        return self.verdict.valid is False

    @property
    def key(self) -> tuple[str, float, bool]:
        return (self.case_id, self.temperature, self.guided)

    def to_json(self, inspect: bool | None = None) -> dict[str, Any]:
        """The saved record; ``inspect`` (default: failed or skipped) adds the question."""
        doc: dict[str, Any] = {
            "case_id": self.case_id,
            "category": self.category,
            "temperature": self.temperature,
            "guided": self.guided,
            "tool_choice": self.tool_choice,
            "strict": self.strict,
            "tool_calls": self.tool_calls,
            "decoded": self.decoded,
            "valid": self.verdict.valid,
            "reason": self.verdict.reason,
            "error_type": self.verdict.error_type,
            "errors": self.verdict.errors,
            "content": self.content,
            "raw": self.raw,
            "raw_source": self.raw_source,
            "raw_note": self.raw_note,
            "finish_reason": self.finish_reason,
            "mismatches": self.mismatches,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "skipped": self.skipped,
        }
        if self.layer is not None:
            doc |= {"layer": self.layer, "layer_reason": self.layer_reason}
        if inspect is None:
            inspect = self.failed or self.skipped
        if inspect:
            doc |= {
                "question": self.question,
                "expected": self.expected,
                "functions": self.functions,
            }
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Record:
        return cls(
            case_id=str(doc.get("case_id")),
            category=str(doc.get("category")),
            temperature=float(doc.get("temperature") or 0.0),
            guided=bool(doc.get("guided")),
            verdict=Verdict(
                doc.get("valid"),
                str(doc.get("reason") or ""),
                doc.get("error_type"),
                list(doc.get("errors") or []),
            ),
            tool_choice=doc.get("tool_choice"),
            strict=bool(doc.get("strict")),
            tool_calls=list(doc.get("tool_calls") or []),
            decoded=doc.get("decoded"),
            content=doc.get("content"),
            raw=doc.get("raw"),
            raw_source=str(doc.get("raw_source") or "none"),
            raw_note=doc.get("raw_note"),
            finish_reason=doc.get("finish_reason"),
            mismatches=list(doc.get("mismatches") or []),
            latency_ms=doc.get("latency_ms"),
            error=doc.get("error"),
            skipped=bool(doc.get("skipped")),
            layer=doc.get("layer"),
            layer_reason=doc.get("layer_reason"),
            question=doc.get("question"),
            expected=doc.get("expected"),
            functions=doc.get("functions"),
        )


@dataclass
class Cell:
    """Accuracy of one category at one temperature, guided or not, so far."""

    category: str
    temperature: float
    guided: bool
    planned: int = 0
    passed: int = 0
    failed: int = 0
    """Includes the requests that failed (``errors``)."""
    errors: int = 0
    skipped: int = 0

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def accuracy(self) -> float | None:
        return self.passed / self.scored if self.scored else None

    def add(self, r: Record) -> None:
        if r.skipped:
            self.skipped += 1
        elif r.verdict.valid:
            self.passed += 1
        else:
            self.failed += 1
            self.errors += r.error is not None

    def to_json(self) -> dict[str, Any]:
        acc = self.accuracy
        return {
            "category": self.category,
            "temperature": self.temperature,
            "guided": self.guided,
            "planned": self.planned,
            "scored": self.scored,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "accuracy": None if acc is None else round(acc, 4),
        }


@dataclass(frozen=True)
class Progress:
    """A live view of a run, after each sample: for the screen and the progress line."""

    elapsed_s: float
    planned: int
    done: int
    passed: int
    failed: int
    errors: int
    skipped: int
    in_flight: int
    cells: tuple[Cell, ...]
    """Copies, in the run's order (category, temperature, unguided then guided)."""
    last: Record | None = None
    """The sample that just landed."""

    @property
    def accuracy(self) -> float | None:
        scored = self.passed + self.failed
        return self.passed / scored if scored else None


ProgressHook = Callable[[Progress], None]


def totals(cells: list[Cell]) -> list[dict[str, Any]]:
    """Per temperature and pass: pooled accuracy and the mean of the categories' accuracies.

    The mean is the leaderboard's way of summing categories up.
    """
    out = []
    for t, g in dict.fromkeys((c.temperature, c.guided) for c in cells):
        group = [c for c in cells if c.temperature == t and c.guided == g]
        passed = sum(c.passed for c in group)
        scored = sum(c.scored for c in group)
        accs = [a for a in (c.accuracy for c in group) if a is not None]
        out.append(
            {
                "temperature": t,
                "guided": g,
                "categories": [c.category for c in group],
                "scored": scored,
                "passed": passed,
                "errors": sum(c.errors for c in group),
                "skipped": sum(c.skipped for c in group),
                "accuracy": round(passed / scored, 4) if scored else None,
                "mean_category_accuracy": round(sum(accs) / len(accs), 4) if accs else None,
            }
        )
    return out
