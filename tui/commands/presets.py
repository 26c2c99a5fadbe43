"""presets list, show and check."""

from __future__ import annotations

import argparse
import sys

from naptha_tui.backends.checks.preset_check import check_presets
from naptha_tui.backends.checks.preset_report import exit_code, summary
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import PresetCatalog
from naptha_tui.backends.servers.vllm import dtype_choice
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.commands import print_json, say
from naptha_tui.tui.format import table


def presets_list(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    presets, errors = PresetCatalog(paths.user_presets_dir).load_all()
    if args.json:
        print_json(
            {
                "presets": [
                    {
                        "name": p.name,
                        "kind": p.kind,
                        "runtime": p.runtime,
                        "model": p.model,
                        "description": p.description,
                        "file": str(p.source) if p.source else None,
                    }
                    for p in presets
                ],
                "invalid": [{"file": str(err.path), "error": str(err)} for err in errors],
            }
        )
    else:
        rows = [(p.name, p.runtime, p.model, p.source) for p in presets]
        print(table(rows, ("NAME", "RUNTIME", "MODEL", "FILE")))
        for err in errors:
            print(f"invalid: {err}", file=sys.stderr)
    return 1 if errors else 0


def presets_show(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    preset = PresetCatalog(paths.user_presets_dir).get(args.name)
    doc = preset.model_dump(mode="json", exclude_none=True)
    if preset.kind == "vllm":  # what it will really run with on this machine
        doc["resolved"] = {"dtype": dtype_choice(preset).to_json()}
    print_json(doc)  # JSON with or without --json
    return 0


def presets_check(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    reports = check_presets(
        args.targets, paths, settings, runtime=args.runtime, static_only=args.static
    )
    if args.json:
        print_json(
            {
                "problems": [p.to_json() for r in reports for p in r.problems],
                "presets": [r.to_json() for r in reports],
            }
        )
        return exit_code(reports)
    for r in reports:
        if r.ok:
            what = f"preset {r.preset}, model {r.model}, runtime {r.runtime or '-'}"
            say(f"{r.file}: ok ({what}) [{r.source}]")
        for problem in r.problems:
            print(problem, file=sys.stderr if problem.kind == "invalid" else sys.stdout)
    say(summary(reports))
    return exit_code(reports)
