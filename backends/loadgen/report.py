"""The load test's report, the same lines in ``bench`` and on the Bench screen.

:func:`result_lines` is vLLM's report (``metrics.report_lines``) with the target, the client's
CPU, the agents, the deployments and a sweep's stages (and, headless, its text plot; the
panel draws the plot as a widget). :func:`progress_line` is a running run's line,
:func:`list_cells` a saved run's row (``bench list`` and the Saved runs table) and
:func:`compare_lines` two runs side by side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from naptha_tui.backends.runs.store import RunKind
from naptha_tui.backends.runs.text import maybe, table

from .live import Progress
from .metrics import report_lines
from .plot import sweep_plot
from .results import RUNS, compare, summary

LIST_HEADER = ("RUN", "MODEL", "WORKLOAD", "OK/FAILED", "REQ/S", "TTFT P50", "TPOT P50", "")
"""``bench list``'s columns (the panel's table names them shorter)."""


def progress_line(p: Progress) -> str:
    """A running run's line (headless, every few seconds)."""
    of = f"/{p.total}" if p.total else ""
    agents = f", agents {p.agents_done}/{p.agents}" if p.agents else ""
    return (
        f"[{p.elapsed_s:6.1f} s] {p.completed}{of} done, {p.failed} failed, "
        f"{p.in_flight} in flight, {p.request_rate:.2f} req/s{agents}; "
        f"TTFT p50 {maybe(p.median_ttft_ms, '.0f')} ms, "
        f"TPOT p50 {maybe(p.median_tpot_ms, '.0f')} ms"
    )


def result_lines(result: dict[str, Any], plot: bool = True) -> list[str]:
    """The report of a finished (or stopped) run; without ``plot``, a sweep is its table."""
    if not plot and result.get("sweep"):
        points = result["sweep"]
        rest = {k: v for k, v in result.items() if k != "sweep"}
        return [*result_lines(rest), "", *sweep_lines(points)]
    lines = report_lines(result)
    config = result.get("config") or {}
    target = result.get("target") or {}
    extra = [
        f"{'Target:':<40} {target.get('label')} ({target.get('base_url')})",
        f"{'Model:':<40} {config.get('model')}",
        f"{'Seed:':<40} {config.get('seed')}",
    ]
    if result.get("client_cpu_per_request_ms") is not None:
        extra.append(
            f"{'Client CPU per request (ms):':<40} {result['client_cpu_per_request_ms']:<10.2f}"
        )
        extra.append(f"{'Client CPU (% of one core):':<40} {result['client_cpu_percent']:<10.1f}")
    if result.get("agents"):
        a = result["agents"]
        extra.append(f"{'Agents finished:':<40} {a['finished']}/{a['total']} ({a['turns']} turns)")
    if result.get("cancelled"):
        extra.append(
            f"Stopped early: partial result ({result.get('incomplete', 0)} in flight dropped)"
        )
    per = result.get("per_deployment") or {}
    if len(per) > 1 or (per and "unknown" not in per):
        extra.append("")
        extra.append("Per deployment:")
        rows = [
            [
                name,
                str(d.get("completed")),
                str(d.get("failed")),
                f"{d.get('request_throughput', 0):.2f}",
                f"{d.get('median_ttft_ms', 0):.1f}",
                f"{d.get('median_tpot_ms', 0):.1f}",
            ]
            for name, d in sorted(per.items())
        ]
        extra += table(
            rows, ["DEPLOYMENT", "DONE", "FAILED", "REQ/S", "TTFT P50", "TPOT P50"]
        ).splitlines()
    if result.get("sweep"):
        extra.append("")
        extra += sweep_lines(result["sweep"])
        if result.get("sweep_note"):
            extra.append(f"Note: {result['sweep_note']}")
        extra += sweep_plot(result["sweep"], width=72, height=18).splitlines()
    return lines + extra


def sweep_lines(points: list[dict[str, Any]]) -> list[str]:
    rows = [
        [
            str(pt["stage"]),
            f"{pt.get('request_throughput') or 0:.2f}",
            f"{pt.get('median_ttft_ms') or 0:.0f}",
            f"{pt.get('median_tpot_ms') or 0:.1f}",
            f"{pt.get('median_e2el_ms') or 0:.0f}",
            str(pt.get("failed")),
        ]
        for pt in points
    ]
    return table(
        rows, ["STAGE", "REQ/S", "TTFT P50", "TPOT P50", "E2EL P50", "FAILED"]
    ).splitlines()


def list_cells(run: Mapping[str, Any]) -> list[str]:
    """A saved run's row (``results.summary``), as ``LIST_HEADER`` names its columns."""
    return [
        str(run["name"]),
        str(run["model"]),
        str(run["workload"]) + (" sweep" if run["sweep"] else ""),
        f"{run['completed']}/{run['failed']}",
        maybe(run["request_throughput"], ".2f"),
        maybe(run["median_ttft_ms"], ".0f"),
        maybe(run["median_tpot_ms"], ".1f"),
        "stopped" if run["cancelled"] else "",
    ]


def compare_lines(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Two runs' figures side by side, B-A and B/A, then what each ran."""
    rows = compare(a, b)
    name_a, name_b = str(a.get("name", "A"))[:22], str(b.get("name", "B"))[:22]
    head = f"{'':<28} {name_a:>22} {name_b:>22} {'B-A':>10} {'B/A':>7}"
    lines = [head]

    def cell(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f}"

    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}x"
        diff = "—" if r.diff is None else f"{r.diff:+.2f}"
        lines.append(f"{r.field:<28} {cell(r.a):>22} {cell(r.b):>22} {diff:>10} {ratio:>7}")
    for side, doc in (("A", a), ("B", b)):
        config = doc.get("config") or {}
        lines.append(
            f"{side}: {config.get('model')} via {(doc.get('target') or {}).get('label')}, "
            f"{json.dumps(config.get('workload'))}, seed {config.get('seed')}"
        )
    return lines


BENCH_RUNS = RunKind(
    RUNS,
    summary,
    LIST_HEADER,
    list_cells,
    compare,
    compare_lines,
    result_lines,
    "bench show {name}",
)
"""Saved load tests: ``bench list``, ``bench compare`` and the Bench screen's Saved runs."""
