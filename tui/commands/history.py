"""history: what the panel's and the CLI's actions ran underneath (the command log)."""

from __future__ import annotations

import argparse
import time

from naptha_tui.backends.commandlog import CommandLog, Entry
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.commands import print_json


def when(at: float) -> str:
    """An entry's time as the panel and the CLI show it (local time)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def entry_text(e: Entry) -> str:
    """Two lines: when, who, what and how it went; then the shell line."""
    return f"{when(e.at)}  {e.via}  {e.action}  {e.said}\n  $ {e.line}"


def history(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    log = CommandLog(paths)
    entries = log.entries(args.lines)
    if args.json:
        print_json([e.to_json() for e in entries])
        return 0
    if not entries:
        print(f"nothing recorded yet ({log.file})")
        return 0
    print("\n".join(entry_text(e) for e in entries))
    return 0
