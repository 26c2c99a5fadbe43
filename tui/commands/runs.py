"""What the run commands share: a finished run saved and printed; ``list`` and ``compare``
of a feature's saved runs."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runs.store import Doc, RunKind, comparison
from naptha_tui.tui.format import table


def print_run(
    kind: RunKind, args: argparse.Namespace, paths: Paths, result: Doc, label: str
) -> int:
    """The finished run saved (unless ``--no-save``), then printed: its report or ``--json``."""
    if not args.no_save:
        result["name"] = kind.store.save(paths, result, label)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(kind.report_lines(result)))
        if result.get("name"):
            print(f"saved as {result['name']} ({kind.show.format(name=result['name'])})")
    return 0


def list_saved(
    kind: RunKind, args: argparse.Namespace, paths: Paths, none: Callable[[], str]
) -> int:
    """The saved runs, oldest first (``none()`` says there are none)."""
    runs = kind.summaries(paths)
    if args.json:
        print(json.dumps(runs))
    elif not runs:
        print(none())
    else:
        print(table([kind.list_cells(r) for r in runs], kind.list_header))
    return 0


def compare_saved(kind: RunKind, args: argparse.Namespace, paths: Paths) -> int:
    """Runs A and B side by side (``--json``: their names and the rows)."""
    a, b = kind.store.load(paths, args.a), kind.store.load(paths, args.b)
    if args.json:
        print(json.dumps(comparison(a, b, kind.compare(a, b))))
    else:
        print("\n".join(kind.compare_lines(a, b)))
    return 0
