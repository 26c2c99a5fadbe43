"""doctor: what this machine offers and what the node will do with it."""

from __future__ import annotations

import argparse
import sys

from naptha_tui.backends.checks.doctor import Doctor
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.tui.commands import print_json, say_err


def doctor(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    checker = Doctor(paths, settings, ProxyManager(paths, settings))
    if sys.stderr.isatty():
        say_err("measuring float32 against bfloat16 in the cpu runtime (a few seconds) ...")
    report = checker.report()
    if args.json:
        print_json(report.to_json())
    else:
        print("\n".join(report.lines()), flush=True)
    return report.exit_code
