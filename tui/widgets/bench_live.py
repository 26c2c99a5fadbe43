"""A running load test: the figures of its latest Progress, a bar, and two sparklines."""

from __future__ import annotations

from collections import deque

from rich.table import Table
from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Sparkline, Static

from naptha_tui.backends.loadgen.live import Progress

HISTORY = 600
"""Progress snapshots the sparklines keep: five minutes at one every 0.5 s (a sparkline
folds them into its width)."""


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def figures_table(p: Progress) -> Table:
    """The latest snapshot as two columns of labelled figures."""
    grid = Table.grid(padding=(0, 2))
    for _ in range(4):
        grid.add_column()
    done = f"{p.completed}/{p.total}" if p.total else str(p.completed)
    agents = f"{p.agents_done}/{p.agents}" if p.agents else "—"
    dim = "dim"
    grid.add_row(
        Text("completed", dim),
        Text(done, "bold"),
        Text("TTFT p50", dim),
        _ms(p.median_ttft_ms),
    )
    grid.add_row(
        Text("failed", dim),
        Text(str(p.failed), "red" if p.failed else ""),
        Text("TTFT p99", dim),
        _ms(p.p99_ttft_ms),
    )
    grid.add_row(
        Text("in flight", dim), str(p.in_flight), Text("TPOT p50", dim), _ms(p.median_tpot_ms)
    )
    grid.add_row(
        Text("req/s", dim),
        f"{p.request_rate:.2f}",
        Text("E2EL p50", dim),
        _ms(p.median_e2el_ms),
    )
    grid.add_row(
        Text("elapsed", dim),
        f"{p.elapsed_s:.1f} s",
        Text("output tok/s", dim),
        f"{p.output_throughput:.1f}",
    )
    if p.agents:
        grid.add_row(Text("agents done", dim), agents, "", "")
    return grid


class BenchLive(Vertical):
    """What a run shows while it runs; ``update`` takes each Progress snapshot."""

    figures = getters.query_one("#live-figures", Static)
    bar = getters.query_one("#live-bar", ProgressBar)
    rate = getters.query_one("#live-rate", Sparkline)
    ttft = getters.query_one("#live-ttft", Sparkline)
    rate_label = getters.query_one("#live-rate-label", Label)
    ttft_label = getters.query_one("#live-ttft-label", Label)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rates: deque[float] = deque(maxlen=HISTORY)
        self.ttfts: deque[float] = deque(maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        yield Static("", id="live-figures")
        yield ProgressBar(id="live-bar", show_eta=False)
        with Horizontal(id="live-sparks"):
            with Vertical(classes="spark"):
                yield Label("req/s", id="live-rate-label", classes="spark-label")
                yield Sparkline([], id="live-rate")
            with Vertical(classes="spark"):
                yield Label("TTFT p50 ms", id="live-ttft-label", classes="spark-label")
                yield Sparkline([], id="live-ttft")

    def reset(self) -> None:
        """A new run: empty history, an empty bar."""
        self.rates.clear()
        self.ttfts.clear()
        self.rate.data = []
        self.ttft.data = []
        self.bar.update(total=None, progress=0)
        self.figures.update("")
        self.rate_label.update("req/s")
        self.ttft_label.update("TTFT p50 ms")

    def new_stage(self) -> None:
        """A sweep's next stage: the bar starts over, the sparklines go on."""
        self.bar.update(total=None, progress=0)

    def update(self, p: Progress) -> None:
        self.figures.update(figures_table(p))
        if p.total:
            self.bar.update(total=p.total, progress=p.completed + p.failed)
        elif p.agents:
            self.bar.update(total=p.agents, progress=p.agents_done or 0)
        self.rates.append(p.request_rate)
        if p.median_ttft_ms is not None:
            self.ttfts.append(p.median_ttft_ms)
        self.rate.data = list(self.rates)
        self.ttft.data = list(self.ttfts)
        peak = max(self.rates, default=0.0)
        self.rate_label.update(f"req/s · now {p.request_rate:.2f}, peak {peak:.2f}")
        if self.ttfts:
            self.ttft_label.update(
                f"TTFT p50 ms · now {self.ttfts[-1]:.0f}, max {max(self.ttfts):.0f}"
            )
