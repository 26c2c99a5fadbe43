"""A running evaluation: its counts and bar, and the accuracy per category x temperature x pass."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, ProgressBar, Static

from naptha_tui.backends.evals.records import Cell, Progress
from naptha_tui.backends.evals.report import (
    AccuracyRow,
    TotalRow,
    accuracy_rows,
    pct,
    total_rows,
)


def _acc(p: Progress) -> str:
    return "—" if p.accuracy is None else f"{p.accuracy:.1%}"


def figures_table(p: Progress) -> Table:
    """The latest Progress as labelled figures (what ``eval``'s progress line says)."""
    grid = Table.grid(padding=(0, 2))
    for _ in range(6):
        grid.add_column()
    dim = "dim"
    grid.add_row(
        Text("done", dim),
        Text(f"{p.done}/{p.planned}", "bold"),
        Text("passed", dim),
        Text(str(p.passed), "green" if p.passed else ""),
        Text("accuracy", dim),
        Text(_acc(p), "bold"),
    )
    grid.add_row(
        Text("in flight", dim),
        str(p.in_flight),
        Text("failed", dim),
        Text(str(p.failed), "red" if p.failed else ""),
        Text("request errors", dim),
        Text(str(p.errors), "bold red" if p.errors else ""),
    )
    grid.add_row(
        Text("elapsed", dim),
        f"{p.elapsed_s:.1f} s",
        Text("skipped", dim),
        Text(str(p.skipped), "yellow" if p.skipped else ""),
        "",
        "",
    )
    return grid


class EvalLive(Vertical):
    """What a run shows while it runs; ``update`` takes each Progress."""

    figures = getters.query_one("#live-figures", Static)
    bar = getters.query_one("#live-bar", ProgressBar)

    def compose(self) -> ComposeResult:
        yield Static("", id="live-figures")
        yield ProgressBar(id="live-bar", show_eta=False)

    def reset(self, planned: int) -> None:
        self.figures.update("")
        self.bar.update(total=planned or None, progress=0)

    def update(self, p: Progress) -> None:
        self.figures.update(figures_table(p))
        self.bar.update(total=p.planned or None, progress=p.done)


def rate_text(cell: Cell | None) -> Text:
    text = pct(cell)
    acc = cell.accuracy if cell is not None else None
    if acc is None:
        return Text(text, style="dim")
    return Text(text, style="green" if acc == 1 else "red" if acc == 0 else "yellow")


class AccuracyTable(DataTable[str | Text]):
    """Accuracy per category and temperature, unguided and (when run) guided; then totals."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id, show_cursor=False, zebra_stripes=True)
        self.guided = False
        self._keys: list[str] = []

    def columns_for(self, guided: bool) -> list[str]:
        return ["CATEGORY", "T", "UNGUIDED", *(["GUIDED"] if guided else []), "DONE", "SKIP", "ERR"]

    def start(self, cells: Sequence[Cell], guided: bool) -> None:
        """A run's (or a saved run's) cells: every row, in the run's order."""
        self.guided = guided
        self.clear(columns=True)
        for label in self.columns_for(guided):
            self.add_column(label, key=label.lower())
        rows = accuracy_rows(cells)
        totals = total_rows(cells)
        self._keys = [r.key for r in rows] + [t.key for t in totals]
        for row in rows:
            self.add_row(*self._cells(row), key=row.key)
        for total in totals:
            self.add_row(*self._total(total), key=total.key)

    def update(self, cells: Sequence[Cell]) -> None:
        """The same run, further on (rows it did not have at ``start`` are added)."""
        columns = [c.lower() for c in self.columns_for(self.guided)]
        rows = accuracy_rows(cells)
        totals = total_rows(cells)
        if [r.key for r in rows] + [t.key for t in totals] != self._keys:
            self.start(cells, self.guided)
            return
        for row in rows:
            for column, value in zip(columns, self._cells(row), strict=True):
                self.update_cell(row.key, column, value)
        for total in totals:
            for column, value in zip(columns, self._total(total), strict=True):
                self.update_cell(total.key, column, value)

    def _cells(self, row: AccuracyRow) -> list[str | Text]:
        out: list[str | Text] = [row.category, f"{row.temperature:g}", rate_text(row.unguided)]
        if self.guided:
            out.append(rate_text(row.guided) if row.guided else Text("-", style="dim"))
        out += [
            f"{row.done}/{row.planned}",
            Text(str(row.skipped), style="yellow" if row.skipped else "dim"),
            Text(str(row.errors), style="bold red" if row.errors else "dim"),
        ]
        return out

    def _total(self, total: TotalRow) -> list[str | Text]:
        out: list[str | Text] = [
            Text(total.label, style="bold"),
            f"{total.temperature:g}",
            Text(total.unguided, style="bold"),
        ]
        if self.guided:
            out.append(Text(total.guided, style="bold"))
        return [*out, "", "", ""]
