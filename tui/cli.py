"""The `naptha-tui` command line: the panel by default, headless commands otherwise.

The parser says what is valid; nothing re-checks after parsing. It is built from the standard
library alone: a command's body (``naptha_tui.tui.commands.*``) and the backends it needs are
imported only when that command runs, and Textual only when the panel opens, so ``--help`` and
usage errors are instant and scripted commands never load the UI.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from naptha_tui.backends.paths import Paths
    from naptha_tui.backends.settings import Settings

from naptha_tui.backends.playground.fields import TRY
from naptha_tui.tui.cli_bench import bench_parser
from naptha_tui.tui.cli_eval import eval_parser
from naptha_tui.tui.cli_parts import (
    Lazy,
    LazyChoices,
    add_command,
    add_fields,
    add_group,
    json_flag,
    seconds,
)


def _runtime_names() -> Iterable[str]:
    from naptha_tui.backends.runtimes.runtime import SPECS

    return SPECS


def _model_names() -> Iterable[str]:
    from naptha_tui.backends.runtimes.models import EMBEDDED

    return EMBEDDED


def _playground_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "try",
        "the playground: tool calls and guided outputs across temperatures",
        Lazy("playground", "try_"),
        description="Send a prompt through the proxy in one or more modes at several "
        "temperatures; print each sample's verdict (raw text, parsed tool calls, content) and "
        "the validity grid. Exit 0 when it ran (whatever the validity), 2 on bad input. "
        "Modes: plain, tools-auto, tools-required, tool:NAME, json_object, json_schema, regex, "
        "choice, grammar.",
    )
    add_fields(p, TRY)
    p.add_argument("--session", metavar="NAME_OR_FILE", help="start from a saved session")
    p.add_argument("--save", metavar="NAME", help="save the session (in the state dir)")
    p.add_argument("--list-sessions", action="store_true", help="list saved sessions")
    p.add_argument("--curl", action="store_true", help="print each sample as a curl command")
    p.add_argument(
        "--promptfoo",
        metavar="FILE",
        help="write the session as a promptfoo config (tool-calling modes) and send nothing",
    )
    p.add_argument(
        "--explain",
        action="store_true",
        help="name the layer where each sample's call broke (about 5 more requests a sample)",
    )
    json_flag(p, "one object per sample, then the grid (last line)")


def _keep_alive(value: str) -> str:
    from naptha_tui.backends.settings import GO_DURATION

    if not re.match(GO_DURATION, value):
        raise argparse.ArgumentTypeError(
            f"invalid duration {value!r} (a duration like 30m or 1h30m, seconds, 0, or -1)"
        )
    return value


def _ollama_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ollama = add_group(sub, "ollama", "the Ollama daemon: its models, pulls, what is loaded")
    p = add_command(ollama, "list", "models in the daemon's library", Lazy("ollama", "ollama_list"))
    json_flag(p, "the models")
    p = add_command(
        ollama,
        "ps",
        "models in memory: size, VRAM share, when they unload",
        Lazy("ollama", "ollama_ps"),
    )
    json_flag(p, "the loaded models")
    p = add_command(
        ollama, "pull", "download a model, printing its progress", Lazy("ollama", "ollama_pull")
    )
    p.add_argument("name", metavar="NAME", help="model[:tag], e.g. llama3.2:1b")
    json_flag(p, "every progress event (NDJSON), then a summary line")
    p = add_command(ollama, "load", "load a model into memory", Lazy("ollama", "ollama_load"))
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--keep-alive",
        type=_keep_alive,
        metavar="D",
        help="how long it stays loaded: 30m, 2h, seconds, -1 for ever "
        "(default: settings ollama.keep_alive, 5m)",
    )
    json_flag(p, "the model as loaded")
    p = add_command(
        ollama, "unload", "unload a model from memory now", Lazy("ollama", "ollama_unload")
    )
    p.add_argument("name", metavar="NAME")
    json_flag(p, "the outcome")
    p = add_command(
        ollama,
        "status",
        "does a daemon answer, and is it the node's? (starts nothing)",
        Lazy("ollama", "ollama_status"),
        description="Does a daemon answer at the configured host, and did the node start it? "
        "Starts nothing. Exit code 1 when no daemon answers.",
    )
    json_flag(p, "the daemon's state and the models offered to the proxy")


def panel(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    from naptha_tui.tui.app import make_app  # Textual loads only here
    from naptha_tui.tui.crash import run_panel

    return run_panel(make_app(paths, settings, up=args.up or ()), paths)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="naptha-tui",
        description="Control panel for a local LLM inference node (vLLM + LiteLLM proxy). "
        "With no command, opens the panel.",
    )
    parser.add_argument(
        "--up",
        nargs="+",
        metavar="PRESET",
        help="open the panel and start these presets and the proxy",
    )
    parser.set_defaults(func=panel)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = add_command(
        sub,
        "up",
        "start servers from presets, then the proxy; wait until ready",
        Lazy("node", "up"),
    )
    p.add_argument("presets", nargs="+", metavar="PRESET")
    json_flag(p, "the node's status once ready (progress goes to stderr)")

    p = add_command(
        sub, "down", "stop servers (all, and the proxy, when none are named)", Lazy("node", "down")
    )
    p.add_argument("names", nargs="*", metavar="NAME")
    json_flag(p, "the names stopped")

    p = add_command(
        sub,
        "status",
        "servers (memory, metrics), the proxy, GPUs and host",
        Lazy("node", "status"),
    )
    p.add_argument(
        "--window",
        type=seconds,
        default=1.0,
        metavar="S",
        help="seconds between the two /metrics scrapes whose difference gives rates and "
        "latency percentiles (1; 0: gauges only)",
    )
    json_flag(p, "servers (with metrics, rss_bytes, gpu_memory_bytes), proxy, GPUs, host")

    p = add_command(
        sub,
        "swap",
        "stop (or sleep) a running server, wait for its memory, start a preset in its place",
        Lazy("node", "swap"),
        description="Stop RUNNING (or put it to sleep when its preset has sleep_mode: true), "
        "wait until its memory is really returned, then start PRESET (or wake its sleeping "
        "server); the proxy follows and every other model keeps serving. PRESET is planned "
        "first against the memory RUNNING frees: one that will not fit is refused with the "
        "numbers and RUNNING keeps running (exit 2).",
    )
    p.add_argument("running", metavar="RUNNING", help="the server to take out")
    p.add_argument("preset", metavar="PRESET", help="the preset to start in its place")
    p.add_argument(
        "--timeout",
        type=seconds,
        default=120.0,
        metavar="S",
        help="how long to wait for the old server's memory to come back (120)",
    )
    json_flag(p, "what was stopped or slept, started or woken, and the memory verdict")

    p = add_command(sub, "logs", "a server's log (NAME proxy: the proxy's)", Lazy("node", "logs"))
    p.add_argument("name", metavar="NAME")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="last N lines (50)")

    presets = add_group(sub, "presets", "list, show or check presets")
    p = add_command(
        presets, "list", "every preset, shipped and yours", Lazy("presets", "presets_list")
    )
    json_flag(p, "the presets and the files that do not load")
    p = add_command(presets, "show", "one preset, as loaded", Lazy("presets", "presets_show"))
    p.add_argument("name", metavar="NAME")
    json_flag(p, "the preset (it is always JSON)")
    p = add_command(
        presets,
        "check",
        "would vLLM accept each preset (all of them without names)?",
        Lazy("presets", "presets_check"),
        description="Would vLLM accept each preset (all of them without names)? Flags are "
        "checked against the preset's runtime when it is installed, else against a table of "
        "removed flags. Exit code 1 when a preset has problems, 2 when one does not load.",
    )
    p.add_argument("targets", nargs="*", metavar="NAME_OR_FILE")
    p.add_argument("--runtime", metavar="R", help="against this runtime, not each preset's own")
    p.add_argument("--static", action="store_true", help="only the table of removed flags")
    json_flag(p, "the problems")

    runtime = add_group(sub, "runtime", "install or inspect runtimes")
    p = add_command(
        runtime, "install", "create a runtime's venv", Lazy("runtime", "runtime_install")
    )
    p.add_argument(
        "names",
        nargs="+",
        metavar="NAME",
        choices=LazyChoices(_runtime_names),
        help="one of: %(choices)s; several are installed side by side",
    )
    p.add_argument("--force", action="store_true", help="reinstall even if ready")
    p = add_command(
        runtime, "status", "every runtime and its state", Lazy("runtime", "runtime_status")
    )
    json_flag(p, "the runtimes")

    model = add_group(sub, "model", "prepare or list the embedded models")
    p = add_command(
        model, "prepare", "fetch and convert an embedded model", Lazy("runtime", "model_prepare")
    )
    p.add_argument(
        "name", metavar="NAME", choices=LazyChoices(_model_names), help="one of: %(choices)s"
    )
    p.add_argument(
        "--runtime", metavar="R", default="cpu", help="runtime whose Python converts (cpu)"
    )
    p = add_command(model, "list", "the embedded models", Lazy("runtime", "model_list"))
    json_flag(p, "the models")

    proxy = add_group(sub, "proxy", "the LiteLLM proxy's config")
    p = add_command(
        proxy,
        "render",
        "the config `up PRESET ...` would give LiteLLM; starts nothing",
        Lazy("node", "proxy_render"),
    )
    p.add_argument("presets", nargs="*", metavar="PRESET")

    p = add_command(
        sub,
        "routes",
        "where the proxy sent each request (the routing feed)",
        Lazy("routes", "routes"),
    )
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new requests")
    p.add_argument("-n", "--lines", type=int, default=20, metavar="N", help="recent requests (20)")
    json_flag(p, "one object per request")

    p = add_command(
        sub,
        "history",
        "what the panel's and the CLI's actions ran underneath, as shell lines",
        Lazy("history", "history"),
        description="The command log: every server started (its command line and the "
        "variables it was given; keys as the file they come from), every signal sent (stop, "
        "the proxy's reload), every call to a server's or Ollama's admin routes, by the panel "
        "or the CLI, oldest first. Kept in the state dir (the last 1000).",
    )
    p.add_argument("-n", "--lines", type=int, default=20, metavar="N", help="the last N (20)")
    json_flag(p, "the entries (time, via, action, kind, line, outcome, ok, argv, env)")

    p = add_command(
        sub,
        "doctor",
        "what this machine offers and what the node will do with it",
        Lazy("doctor", "doctor"),
        description="CPU (features, native bfloat16, a float32 against bfloat16 matmul in the "
        "cpu runtime), cores and RAM, GPUs, each runtime, the embedded model, free disk in the "
        "data dir, the proxy's port and key file. Each line says OK, WARN or FAIL and what to "
        "do. Exit code 0 with warnings, 1 when something blocks a start.",
    )
    json_flag(p, "the findings, the CPU and the matmul")

    _ollama_parser(sub)
    _playground_parser(sub)
    bench_parser(sub)
    eval_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from naptha_tui.backends.errors import NapthaError
    from naptha_tui.backends.paths import Paths
    from naptha_tui.backends.settings import load_settings

    paths = Paths.from_env()
    try:
        settings = load_settings(paths)
        code: int = args.func(args, paths, settings)
    except NapthaError as exc:
        print(f"naptha-tui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
