"""The bodies of the headless commands, one module per group; ``tui/cli.py`` holds the parser.

Each body is ``(args, paths, settings) -> exit code`` and is imported only when its command runs.
Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from naptha_tui.backends.paths import Paths
    from naptha_tui.backends.settings import Settings
    from naptha_tui.proxy.node import Node

T = TypeVar("T")


def say(line: str) -> None:
    """A progress or result line on stdout, at once (scripts may be reading)."""
    print(line, flush=True)


def say_err(line: str) -> None:
    """A progress line on stderr (with --json, stdout carries only the document)."""
    print(line, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """Something the operator must hear about that does not stop the command."""
    print(f"naptha-tui: warning: {message}", file=sys.stderr, flush=True)


def print_json(doc: Any) -> None:
    """A command's result as one indented JSON document."""
    print(json.dumps(doc, indent=2), flush=True)


def with_node(paths: Paths, settings: Settings, use: Callable[[Node], Awaitable[T]]) -> T:
    """Run ``use(node)`` on a Node that is closed afterwards, whatever happens."""
    from naptha_tui.proxy.node import Node

    async def run() -> T:
        async with Node(paths, settings) as node:
            return await use(node)

    return asyncio.run(run())
