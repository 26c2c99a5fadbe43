"""runtime install and status; model prepare and list."""

from __future__ import annotations

import argparse

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.install import install_many
from naptha_tui.backends.runtimes.models import EMBEDDED, is_prepared, prepare
from naptha_tui.backends.runtimes.runtime import all_runtimes, get_runtime
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.commands import print_json, say
from naptha_tui.tui.format import table


def runtime_install(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    runtimes = [get_runtime(name, paths, settings) for name in dict.fromkeys(args.names)]
    infos = install_many(runtimes, say, force=args.force)
    return 0 if all(i.ready for i in infos) else 1


def runtime_status(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    infos = [r.info() for r in all_runtimes(paths, settings)]
    if args.json:
        print_json([{**vars(i), "location": str(i.location)} for i in infos])
        return 0
    rows = [
        (
            i.name,
            i.kind,
            "ready" if i.ready else "not ready",
            i.version or "-",
            i.location,
            i.detail,
        )
        for i in infos
    ]
    print(table(rows, ("NAME", "KIND", "STATE", "VERSION", "LOCATION", "DETAIL")))
    return 0


def model_prepare(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    prepare(paths, args.name, get_runtime(args.runtime, paths, settings), say)
    return 0


def model_list(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    models = [(m, is_prepared(paths, m.name)) for m in EMBEDDED.values()]
    if args.json:
        print_json(
            [
                {"name": m.name, "prepared": ready, "description": m.description}
                for m, ready in models
            ]
        )
        return 0
    rows = [(m.name, "prepared" if ready else "not prepared", m.description) for m, ready in models]
    print(table(rows, ("NAME", "STATE", "DESCRIPTION")))
    return 0
