"""Evaluation results in the state dir: one JSON document per run, listed and compared.

``<state dir>/evals/RUN.json`` (0600): the run's config, the accuracy per category,
temperature and pass (``summary``), the totals, the skipped cases, and one record per case and
sample (case id, category, temperature, guided, the tool calls as sent back, the verdict and
the checker's reason; failed and skipped records also carry the question, the expected
answers and the functions offered, so each can be inspected later). A run's name is its start
time and label (``20261201-173015-smollm2-135m``). :func:`compare` puts two runs side by
side (two models, presets, templates or temperatures): accuracy per category, temperature and
pass, and the cases one passes and the other fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.store import RunStore

from .records import Record


def _kind_problem(doc: Any) -> str | None:
    if isinstance(doc, dict) and doc.get("kind") == "bfcl" and "records" in doc:
        return None
    return "not an eval result (no kind 'bfcl' with records)"


RUNS = RunStore("evals", "eval", _kind_problem)
"""The saved evaluations: ``<state dir>/evals/RUN.json``."""
evals_state_dir = RUNS.folder_of
save_run = RUNS.save
list_runs = RUNS.names
load_run = RUNS.load


def records(doc: Mapping[str, Any], failed_only: bool = False) -> list[Record]:
    """A saved run's records as typed rows; ``failed_only`` keeps the failed ones."""
    out = [Record.from_json(r) for r in doc.get("records") or []]
    return [r for r in out if r.failed] if failed_only else out


def headline(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The pooled accuracy of each (temperature, pass), as ``{"t=0": 0.8, "t=0 guided": ...}``."""
    out = {}
    for t in doc.get("totals") or []:
        label = f"t={t['temperature']:g}" + (" guided" if t.get("guided") else "")
        out[label] = t.get("accuracy")
    return out


def summary(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A saved run in one line (``eval list``)."""
    config = doc.get("config") or {}
    return {
        "name": name,
        "model": doc.get("model"),
        "preset": doc.get("preset"),
        "categories": config.get("categories"),
        "temperatures": config.get("temperatures"),
        "guided": config.get("guided"),
        "limit": config.get("limit"),
        "done": doc.get("done"),
        "planned": doc.get("planned"),
        "cancelled": doc.get("cancelled", False),
        "accuracy": headline(doc),
    }


def run_summaries(paths: Paths) -> list[dict[str, Any]]:
    """One line per saved run, oldest first."""
    return RUNS.summaries(paths, summary)


@dataclass(frozen=True)
class Row:
    """One category at one temperature and pass, in both runs."""

    category: str
    temperature: float
    guided: bool
    a: float | None
    b: float | None
    a_scored: int
    b_scored: int
    fixed: int
    """Cases A fails and B passes."""
    broken: int
    """Cases A passes and B fails."""

    @property
    def diff(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "temperature": self.temperature,
            "guided": self.guided,
            "a": self.a,
            "b": self.b,
            "diff": None if self.diff is None else round(self.diff, 4),
            "a_scored": self.a_scored,
            "b_scored": self.b_scored,
            "fixed": self.fixed,
            "broken": self.broken,
        }


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Row]:
    """Accuracy per category, temperature and pass in A then B, and the cases that flipped.

    Cases are matched by case id, temperature and pass; rows are those either run has, A's
    order first.
    """
    cells: dict[tuple[str, float, bool], dict[str, dict[str, Any]]] = {}
    for side, doc in (("a", a), ("b", b)):
        for c in doc.get("summary") or []:
            key = (c["category"], float(c["temperature"]), bool(c["guided"]))
            cells.setdefault(key, {})[side] = c
    verdicts: dict[str, dict[tuple[str, float, bool], bool | None]] = {"a": {}, "b": {}}
    for side, doc in (("a", a), ("b", b)):
        for r in doc.get("records") or []:
            key = (str(r["case_id"]), float(r["temperature"]), bool(r["guided"]))
            verdicts[side][key] = r.get("valid")
    flips: dict[tuple[str, float, bool], list[int]] = {}
    categories = {str(r["case_id"]): str(r["category"]) for r in a.get("records") or []}
    for key, va in verdicts["a"].items():
        vb = verdicts["b"].get(key)
        if va is None or vb is None or va == vb:
            continue
        cell = (categories[key[0]], key[1], key[2])
        counts = flips.setdefault(cell, [0, 0])
        counts[0 if vb else 1] += 1
    rows = []
    for key, sides in cells.items():
        ca, cb = sides.get("a", {}), sides.get("b", {})
        fixed, broken = flips.get(key, [0, 0])
        rows.append(
            Row(
                key[0],
                key[1],
                key[2],
                ca.get("accuracy"),
                cb.get("accuracy"),
                int(ca.get("scored") or 0),
                int(cb.get("scored") or 0),
                fixed,
                broken,
            )
        )
    return rows


def describe(doc: Mapping[str, Any]) -> str:
    """One line naming what a run measured (model, preset, parser, temperatures, pass)."""
    config = doc.get("config") or {}
    temps = ",".join(f"{t:g}" for t in config.get("temperatures") or [])
    return (
        f"{doc.get('model')} (preset {doc.get('preset') or '-'}, parser "
        f"{doc.get('tool_call_parser') or '-'}), t={temps}"
        + (", guided too" if config.get("guided") else "")
        + (f", first {config['limit']} per category" if config.get("limit") else "")
        + (f", seed {config['seed']}" if config.get("seed") is not None else "")
        + (" [stopped early]" if doc.get("cancelled") else "")
    )
