"""Load-test results in the state dir: one JSON document per run, listed and compared.

``<state dir>/bench/RUN.json`` (0600). A run's name is its start time and label
(``20261201-173015-proxy``), unique within the folder. ``compare`` puts two runs' headline
figures side by side with the difference, so two presets (or two seeds) can be judged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.store import RunStore

HEADLINE = (
    "completed",
    "failed",
    "duration",
    "request_throughput",
    "request_goodput",
    "output_throughput",
    "total_token_throughput",
    "median_ttft_ms",
    "p99_ttft_ms",
    "median_tpot_ms",
    "p99_tpot_ms",
    "median_itl_ms",
    "p99_itl_ms",
    "median_e2el_ms",
    "p99_e2el_ms",
    "client_cpu_per_request_ms",
)
LOWER_IS_BETTER = {"failed", "duration", "client_cpu_per_request_ms"}


def _kind_problem(doc: Any) -> str | None:
    return (
        None
        if isinstance(doc, dict) and "completed" in doc
        else ("not a bench result (no 'completed')")
    )


RUNS = RunStore("bench", "bench", _kind_problem, name_first=True)
"""The saved load tests: ``<state dir>/bench/RUN.json``."""
bench_dir = RUNS.folder_of
save_run = RUNS.save
load_run = RUNS.load
list_runs = RUNS.names


def summary(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A saved run in one line: name, workload, model, headline figures (``bench list``)."""
    config = doc.get("config") or {}
    return {
        "name": name,
        "model": config.get("model"),
        "workload": (config.get("workload") or {}).get("kind"),
        "completed": doc.get("completed"),
        "failed": doc.get("failed"),
        "request_throughput": doc.get("request_throughput"),
        "median_ttft_ms": doc.get("median_ttft_ms"),
        "median_tpot_ms": doc.get("median_tpot_ms"),
        "cancelled": doc.get("cancelled", False),
        "sweep": "sweep" in doc,
    }


def run_summaries(paths: Paths) -> list[dict[str, Any]]:
    """One line per saved run, oldest first."""
    return RUNS.summaries(paths, summary)


@dataclass(frozen=True)
class Row:
    field: str
    a: float | None
    b: float | None

    @property
    def diff(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def ratio(self) -> float | None:
        return None if not self.a or self.b is None else self.b / self.a

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "a": self.a,
            "b": self.b,
            "diff": self.diff,
            "ratio": self.ratio,
        }


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Row]:
    """The headline figures of two runs (and any percentile both have), A then B."""
    fields = list(HEADLINE)
    extra = sorted(k for k in a.keys() & b.keys() if re.fullmatch(r"p[\d.]+_\w+_ms", k))
    fields += [k for k in extra if k not in fields]

    def num(doc: Mapping[str, Any], key: str) -> float | None:
        v = doc.get(key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    return [Row(f, num(a, f), num(b, f)) for f in fields if f in a or f in b]
