"""A sweep drawn as latency versus throughput, as text (plotext), for the headless report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotext


def sweep_series(points: Sequence[dict[str, Any]], metric: str) -> tuple[list[float], list[float]]:
    """Throughput (req/s) and ``metric`` (ms) of each stage that has both, by throughput."""
    pairs = sorted(
        (float(p["request_throughput"]), float(p[metric]))
        for p in points
        if isinstance(p.get("request_throughput"), (int, float))
        and isinstance(p.get(metric), (int, float))
    )
    return [x for x, _ in pairs], [y for _, y in pairs]


def draw_sweep(plt: Any, points: Sequence[dict[str, Any]]) -> None:
    """Median TTFT and E2EL (ms) against request throughput onto ``plt``.

    ``plt`` is plotext itself or a ``PlotextPlot`` widget's (the panel); the caller clears it.
    """
    for metric, label, marker in (
        ("median_ttft_ms", "TTFT p50", "dot"),
        ("median_e2el_ms", "E2EL p50", "x"),
    ):
        xs, ys = sweep_series(points, metric)
        if xs:
            plt.plot(xs, ys, label=label, marker=marker)
    plt.xlabel("req/s")
    plt.ylabel("ms")


def sweep_plot(points: Sequence[dict[str, Any]], width: int = 72, height: int = 18) -> str:
    """Median TTFT and E2EL (ms) against request throughput, one point per sweep stage."""
    plt = plotext
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title("latency vs throughput")
    draw_sweep(plt, points)
    text: str = plt.uncolorize(plt.build())
    plt.clear_figure()
    return text
