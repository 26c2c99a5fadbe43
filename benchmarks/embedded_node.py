"""The node the playground-side benchmarks measure: the shipped embedded preset and the proxy,
started in a temporary state dir and stopped after, or the current environment's node
(``--use-running``, as ``naptha-tui up smollm2-cpu`` left it)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import load_settings
from naptha_tui.proxy.node import Node

PRESET = "smollm2-cpu"
MODEL = "smollm2-135m"


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@asynccontextmanager
async def embedded_node(
    prefix: str, proxy_port: int, port_base: int, use_running: bool
) -> AsyncIterator[Node]:
    """A node serving ``MODEL`` through its proxy, for the ``async with`` block."""
    if not use_running:
        root = tempfile.mkdtemp(prefix=prefix)
        os.environ |= {
            "NAPTHA_TUI_STATE_DIR": f"{root}/state",
            "NAPTHA_TUI_CONFIG_DIR": f"{root}/config",
            "NAPTHA_TUI_PROXY__PORT": str(proxy_port),
            "NAPTHA_TUI_PORT_BASE": str(port_base),
        }
    paths = Paths.from_env()
    async with Node(paths, load_settings(paths)) as node:
        try:
            if not use_running:
                say(f"starting {PRESET} and the proxy ...")
                await node.up([node.catalog.get(PRESET)], say)
            yield node
        finally:
            if not use_running:
                await node.down()
