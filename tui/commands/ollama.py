"""ollama list, ps, pull, load, unload and status: the Ollama daemon, headless.

Every command but ``status`` first makes sure a daemon answers (``ensure_daemon``: the one
running, or ``ollama serve`` started as the node's when ``ollama.manage`` allows it; a start is
announced on stderr). ``status`` only looks, and exits 1 when no daemon answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

from naptha_tui.backends.commandlog import CommandLog
from naptha_tui.backends.ollama.client import Ollama, offered_models, tagged
from naptha_tui.backends.ollama.daemon import DAEMON_NAME, DaemonState, daemon_state, ensure_daemon
from naptha_tui.backends.ollama.types import LoadedModel, OllamaModel, PullProgress
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.commands import print_json, say, say_err
from naptha_tui.tui.format import decimal_size, percent, processor, table, until

T = TypeVar("T")

PULL_STEP = 10
"""Text progress: one line per status, then one per PULL_STEP percent of each layer."""


def _stamp(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def model_json(m: OllamaModel) -> dict[str, Any]:
    """One ``ollama list --json`` row."""
    return {**asdict(m), "modified_at": _stamp(m.modified_at)}


def loaded_json(m: LoadedModel) -> dict[str, Any]:
    """One ``ollama ps --json`` row (``expires_at`` null: forever)."""
    return {**asdict(m), "vram_share": m.vram_share, "expires_at": _stamp(m.expires_at)}


def progress_json(p: PullProgress) -> dict[str, Any]:
    """One NDJSON line of ``ollama pull --json``."""
    return {**asdict(p), "fraction": p.fraction}


def _ndjson(doc: dict[str, Any]) -> None:
    print(json.dumps(doc), flush=True)


# -- the daemon -------------------------------------------------------------------------------
async def _daemon(paths: Paths, settings: Settings) -> DaemonState:
    """A daemon that answers (started when allowed), or NapthaError with the reason."""
    state = (await ensure_daemon(settings, paths)).require()
    if state.started:
        say_err(
            f"started ollama serve (pid {state.pid}) on {state.host}, log {state.log_path}; "
            f"`naptha-tui down {DAEMON_NAME}` stops it"
        )
    return state


def _with_client(paths: Paths, settings: Settings, use: Callable[[Ollama], Awaitable[T]]) -> T:
    """Run ``use(client)`` against the daemon (made sure of first), closing the client after."""

    async def run() -> T:
        host = (await _daemon(paths, settings)).host
        async with Ollama(host, log=CommandLog(paths)) as client:
            return await use(client)

    return asyncio.run(run())


# -- the commands -----------------------------------------------------------------------------
def ollama_list(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    models = _with_client(paths, settings, lambda c: c.models())
    if args.json:
        print_json([model_json(m) for m in models])
        return 0
    rows = [
        (
            m.name,
            m.digest[:12],
            decimal_size(m.size),
            m.family or "-",
            m.parameter_size or "-",
            m.quantization_level or "-",
            m.modified_at.strftime("%Y-%m-%d %H:%M") if m.modified_at else "-",
        )
        for m in models
    ]
    print(table(rows, ("NAME", "ID", "SIZE", "FAMILY", "PARAMS", "QUANT", "MODIFIED")))
    return 0


def ollama_ps(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    loaded = _with_client(paths, settings, lambda c: c.loaded())
    if args.json:
        print_json([loaded_json(m) for m in loaded])
        return 0
    if not loaded:
        say("no model is loaded")
        return 0
    now = datetime.now(UTC)
    rows = [
        (
            m.name,
            decimal_size(m.size),
            decimal_size(m.size_vram),
            f"{m.vram_share:.0%}" if m.vram_share is not None else "-",
            processor(m),
            m.context_length or "-",
            until(m.expires_at, now),
        )
        for m in loaded
    ]
    print(table(rows, ("NAME", "SIZE", "VRAM", "SHARE", "PROCESSOR", "CONTEXT", "UNTIL")))
    return 0


def ollama_pull(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    async def pull(client: Ollama) -> tuple[int, dict[str, int]]:
        events = 0
        layers: dict[str, int] = {}
        shown: tuple[str, int] | None = None
        async for p in client.pull(args.name):
            events += 1
            if p.digest and p.total:
                layers[p.digest] = p.total
            if args.json:
                _ndjson(progress_json(p))
                continue
            step = int((p.fraction or 0) * 100) // PULL_STEP
            if shown is None or shown != (p.status, step):
                say(percent(p))
                shown = (p.status, step)
        return events, layers

    events, layers = _with_client(paths, settings, pull)
    if args.json:
        _ndjson(
            {
                "model": args.name,
                "pulled": True,
                "layers": len(layers),
                "bytes": sum(layers.values()),
                "events": events,
            }
        )
    return 0


def ollama_load(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    keep_alive = args.keep_alive if args.keep_alive is not None else settings.ollama.keep_alive

    async def load(client: Ollama) -> LoadedModel | None:
        await client.load(args.name, keep_alive)
        return next((m for m in await client.loaded() if m.name == tagged(args.name)), None)

    row = _with_client(paths, settings, load)
    if args.json:
        print_json(
            {
                "model": args.name,
                "loaded": True,
                "keep_alive": keep_alive,
                "ps": loaded_json(row) if row else None,
            }
        )
        return 0
    where = f", {processor(row)}, unloads {until(row.expires_at)}" if row else ""
    say(f"loaded {args.name} (keep-alive {keep_alive}{where})")
    return 0


def ollama_unload(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    _with_client(paths, settings, lambda c: c.unload(args.name))
    if args.json:
        print_json({"model": args.name, "unloaded": True})
        return 0
    say(f"unloaded {args.name}")
    return 0


def ollama_status(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    async def look() -> tuple[DaemonState, list[str]]:
        state = await daemon_state(settings, paths)
        offered: list[str] = []
        if state.up and settings.ollama.offer_to_proxy:
            async with Ollama(state.host) as client:
                offered = await offered_models(client)
        return state, offered

    state, offered = asyncio.run(look())
    if args.json:
        print_json(
            {
                **state.to_json(),
                "offer_to_proxy": settings.ollama.offer_to_proxy,
                "offered": offered,
            }
        )
        return 0 if state.up else 1
    if not state.up:
        say(f"ollama: down: {state.reason}")
        return 1
    ours = f", pid {state.pid}, log {state.log_path}" if state.status == "managed" else ""
    say(f"ollama: {state.status} at {state.host} (version {state.version}{ours})")
    if settings.ollama.offer_to_proxy:
        say(f"offered to the proxy: {', '.join(offered) or 'no model'}")
    return 0
