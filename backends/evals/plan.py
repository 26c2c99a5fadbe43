"""What an evaluation sends, worked out before anything is sent.

Each case of each category at each temperature, unguided then guided when asked (never guided
for the irrelevance categories). A case whose functions do not convert is not sent: its samples
are planned as skipped, with the conversion error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .cases import Case, load_cases
from .config import EvalConfig
from .convert import ConversionError, Tools, to_tools
from .records import Cell


@dataclass(frozen=True)
class Item:
    """One planned sample."""

    case: Case
    temperature: float
    guided: bool


@dataclass(frozen=True)
class Plan:
    """What a run sends, known before anything is sent."""

    cases: dict[str, list[Case]]
    items: list[Item]
    """The samples to send, in order."""
    tools: dict[str, Tools]
    """Each sent case's tools, by case id."""
    skipped: list[tuple[Case, ConversionError]]
    """Cases not sent: the first function of each that does not convert."""
    skipped_items: list[Item]
    """The samples those cases would have been (recorded as skipped)."""

    @property
    def planned(self) -> int:
        return len(self.items) + len(self.skipped_items)


def passes(category: str, config: EvalConfig) -> list[bool]:
    """Unguided, then guided when asked (never for the irrelevance categories)."""
    return [False, True] if config.guided and "irrelevance" not in category else [False]


def items_of(case: Case, config: EvalConfig) -> list[Item]:
    """The samples of ``case``: each temperature once, each of its :func:`passes`."""
    return [
        Item(case, t, g)
        for t in dict.fromkeys(config.temperatures)
        for g in passes(case.category, config)
    ]


def make_plan(config: EvalConfig, data_dir: Path, categories: list[str]) -> Plan:
    """The cases of ``categories`` loaded from ``data_dir`` and converted; nothing is sent.

    Args:
        config: the run's limit, temperatures and passes.
        data_dir: BFCL's ``bfcl_eval/data``.
        categories: checked already (``check_categories``), in order.

    Raises:
        CategoryError: a category's data cannot be read.
    """
    cases = {cat: load_cases(data_dir, cat, config.limit) for cat in categories}
    items: list[Item] = []
    tools: dict[str, Tools] = {}
    skipped: list[tuple[Case, ConversionError]] = []
    for cat in categories:
        for case in cases[cat]:
            try:
                tools[case.id] = to_tools(case.functions)
            except ConversionError as exc:
                skipped.append((case, exc))
                continue
            items += items_of(case, config)
    skipped_items = [it for case, _ in skipped for it in items_of(case, config)]
    return Plan(cases, items, tools, skipped, skipped_items)


def plan_cells(plan: Plan, config: EvalConfig) -> dict[tuple[str, float, bool], Cell]:
    """One cell per (category, temperature, guided), each counting its planned samples."""
    cells = {
        (cat, t, g): Cell(cat, t, g)
        for cat in plan.cases
        for t in dict.fromkeys(config.temperatures)
        for g in passes(cat, config)
    }
    for it in [*plan.items, *plan.skipped_items]:
        cells[(it.case.category, it.temperature, it.guided)].planned += 1
    return cells
