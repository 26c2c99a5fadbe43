"""Getting around like k9s: the ``:`` command bar's aliases and what each opens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from naptha_tui.backends.viewprefs import ViewPrefs
from naptha_tui.tui.screens.bench import BenchScreen
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.doctor import DoctorScreen
from naptha_tui.tui.screens.eval import EvalScreen
from naptha_tui.tui.screens.history import HistoryScreen
from naptha_tui.tui.screens.log import LogScreen
from naptha_tui.tui.screens.playground import PlaygroundScreen
from naptha_tui.tui.screens.routes import RoutesScreen
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
SCREENS: dict[str, type[Screen[Any]]] = {
    "routes": RoutesScreen,
    "try": PlaygroundScreen,
    "bench": BenchScreen,
    "eval": EvalScreen,
    "doctor": DoctorScreen,
    "history": HistoryScreen,
}


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
    elif not isinstance(app.screen, SCREENS[command]):  # not over itself
        app.push_screen(SCREENS[command]())


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
