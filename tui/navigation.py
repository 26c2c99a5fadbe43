"""Getting around like k9s: the ``:`` command bar's aliases and what each opens."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from textual.screen import ModalScreen, Screen

from naptha_tui.backends.viewprefs import ViewPrefs
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.log import LogScreen
from naptha_tui.tui.widgets.server_table import ServerTable

if TYPE_CHECKING:
    from naptha_tui.tui.app import NapthaTuiApp

ALIASES = {
    "servers": "servers",
    "server": "servers",
    "dash": "servers",
    "routes": "routes",
    "route": "routes",
    "try": "try",
    "playground": "try",
    "bench": "bench",
    "eval": "eval",
    "logs": "logs",
    "log": "logs",
    "doctor": "doctor",
    "history": "history",
    "hist": "history",
    "quit": "quit",
    "q": "quit",
}
"""What ``:`` understands: each alias and the command it stands for."""
COMMANDS = ("servers", "routes", "try", "bench", "eval", "logs", "doctor", "history", "quit")
SCREENS = {
    "routes": ("routes", "RoutesScreen"),
    "try": ("playground", "PlaygroundScreen"),
    "bench": ("bench", "BenchScreen"),
    "eval": ("eval", "EvalScreen"),
    "doctor": ("doctor", "DoctorScreen"),
    "history": ("history", "HistoryScreen"),
}
"""The screen each command opens: its module under ``tui/screens/`` and its class. Imported on
first use: the panel starts on the dashboard, and the other screens with their cores (the
playground's, the load test's, BFCL's, the doctor's) are most of its import time."""


def _module(command: str) -> str:
    return f"naptha_tui.tui.screens.{SCREENS[command][0]}"


def screen_class(command: str) -> type[Screen[Any]]:
    """The class of the screen ``command`` opens, imported now if it was not yet."""
    cls: type[Screen[Any]] = getattr(importlib.import_module(_module(command)), SCREENS[command][1])
    return cls


def showing(screen: Screen[Any], command: str) -> bool:
    """Whether ``screen`` is the one ``command`` opens (never imports it: none open, if not)."""
    loaded = sys.modules.get(_module(command))
    return loaded is not None and isinstance(screen, getattr(loaded, SCREENS[command][1]))


def can_open(app: NapthaTuiApp, command: str) -> bool:
    """Whether ``command``'s screen may open now: not over itself, nor over a dialog."""
    return not isinstance(app.screen, ModalScreen) and not showing(app.screen, command)


def open_screen(app: NapthaTuiApp, command: str) -> None:
    """Open ``command``'s screen over the current one, unless ``can_open`` says not."""
    if can_open(app, command):
        app.push_screen(screen_class(command)())


def known_servers(app: NapthaTuiApp) -> list[str]:
    """The servers the dashboard last showed (filtered out or not), for ``:logs NAME``."""
    for screen in app.screen_stack:
        if isinstance(screen, DashboardScreen):
            return list(screen.query_one(ServerTable).servers)
    return []


def suggestions(app: NapthaTuiApp) -> list[str]:
    """What the command bar completes: every command, and ``logs NAME`` for each server."""
    names = [*known_servers(app), "proxy"]
    return [c for c in COMMANDS if c != "logs"] + [f"logs {n}" for n in names]


def run_command(app: NapthaTuiApp, text: str) -> None:
    """Do what ``:TEXT`` asks; an unknown command says so and leaves the panel as it was.

    ``servers`` goes back down to the dashboard; every other command opens its screen over the
    current one, so Escape comes back along the way you came.
    """
    words = text.removeprefix(":").split()
    if not words:
        return
    command = ALIASES.get(words[0].lower())
    args = words[1:]
    if command is None:
        app.notify(
            f"unknown command: {words[0]} (try {', '.join(COMMANDS)})",
            title="command bar",
            severity="warning",
        )
        return
    if command == "quit":
        app.exit()
    elif command == "servers":
        while len(app.screen_stack) > 2 and not isinstance(app.screen, DashboardScreen):
            app.pop_screen()
    elif command == "logs":
        open_log(app, args)
    else:
        open_screen(app, command)


def open_log(app: NapthaTuiApp, args: list[str]) -> None:
    """``:logs NAME``: that server's log (``proxy`` the proxy's)."""
    if len(args) != 1:
        app.notify("usage: :logs NAME (a server, or proxy)", severity="warning")
        return
    name = args[0]
    servers = known_servers(app)
    if name != "proxy" and name not in servers:
        known = ", ".join([*servers, "proxy"])
        app.notify(f"no server {name} (known: {known})", title="command bar", severity="warning")
        return
    path = app.paths.log_dir / f"{name}.log"
    app.push_screen(LogScreen(name, path, False, ViewPrefs(app.paths)))
