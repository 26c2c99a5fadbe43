"""A vLLM-shaped log for the log screen's tests and snapshots, and helpers to drive it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from naptha_tui.backends.paths import Paths
from naptha_tui.tui.screens.log import LogScreen
from naptha_tui.tui.widgets.log_view import LogView
from tests.fakes.node import FakeNode, server
from tests.tui.test_dashboard import app_with, fed, until

P = "(APIServer pid=4242)"
E = "(EngineCore_DP0 pid=4250)"
HEAD = [
    f"{P} INFO 12-08 10:00:01 [api_server.py:1] vLLM API server version 0.32.0",
    f"{P} INFO 12-08 10:00:01 [utils.py:233] non-default args: {{'model': 'smollm2-135m'}}",
    f"{P} WARNING 12-08 10:00:02 [cpu.py:114] VLLM_CPU_KVCACHE_SPACE not set, using 4 GiB",
    f"{E} INFO 12-08 10:00:05 [core.py:93] Initializing a V1 LLM engine (v0.32.0)",
    f"{E} INFO 12-08 10:00:09 [default_loader.py:262] Loading weights took 0.41 seconds",
]
TRACE = [
    f"{E} ERROR 12-08 10:00:11 [core.py:700] EngineCore failed to start.",
    f"{E} ERROR 12-08 10:00:11 [core.py:700] Traceback (most recent call last):",
    f'{E} ERROR 12-08 10:00:11 [core.py:700]   File "core.py", line 691, in run_engine_core',
    f"{E} ERROR 12-08 10:00:11 [core.py:700]     engine_core = EngineCoreProc(*args, **kwargs)",
    f"{E} ERROR 12-08 10:00:11 [core.py:700] ValueError: max_model_len 99999 exceeds 8192",
]
SERVING = [
    f"{P} INFO 12-08 10:01:00 [launcher.py:44] Route: /v1/chat/completions, Methods: POST",
    f"{P} INFO:     Started server process [4242]",
    f"{P} INFO:     Waiting for application startup.",
    f"{P} INFO:     Application startup complete.",
    f"{P} INFO:     Uvicorn running on http://127.0.0.1:8100 (Press CTRL+C to quit)",
]


def request(i: int) -> str:
    return f'{P} INFO:     127.0.0.1:{40000 + i} - "POST /v1/chat/completions HTTP/1.1" 200 OK' + (
        "  (a long line: " + "tokens " * 30 + ")" if i % 9 == 4 else ""
    )


def vllm_log() -> list[str]:
    """Two starts (the first fails), then requests; ``Uvicorn`` three times."""
    lines = [*HEAD, *TRACE, *HEAD, *SERVING]
    lines += [request(i) for i in range(40)]
    lines += [f"{P} WARNING 12-08 10:02:00 [serving.py:9] Uvicorn worker slow to answer /health"]
    lines += [request(i) for i in range(40, 60)]
    lines += [*TRACE[:2], *TRACE[2:]]
    lines += [f"{P} INFO 12-08 10:03:00 [loggers.py:123] Uvicorn still serving"]
    lines += [request(i) for i in range(60, 70)]
    return lines


def write_log(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def offsets(path: Path, text: str) -> list[int]:
    """Every byte offset where ``text`` starts in the file."""
    data, found, at = path.read_bytes(), [], 0
    while (at := data.find(text.encode(), at)) >= 0:
        found.append(at)
        at += 1
    return found


def visible(view: LogView) -> list[str]:
    """The text of the lines in view (each line once, however many rows it wraps to)."""
    top = round(view.scroll_y)
    rows = range(top, min(top + view.page, view._rows[-1]))
    seen = dict.fromkeys(view._line_at(r) for r in rows)
    return [view.lines[i] for i in seen]


def log_app(paths: Paths, name: str = "smollm2-cpu") -> Any:
    return app_with(paths, FakeNode([server(name)]))


async def open_log(pilot: Any, key: str = "l") -> LogView:
    """Press ``key`` on the dashboard and wait for the log screen to show its file: at its end,
    or (a crashed server's) at the line it opened at."""
    await until(pilot, lambda: fed(pilot.app))  # the servers are in the table
    await pilot.press(key)
    await until(pilot, lambda: isinstance(pilot.app.screen, LogScreen))
    view = pilot.app.screen.query_one(LogView)
    await until(pilot, lambda: bool(view.lines) and view.page > 0)
    await until(pilot, lambda: view.at_end or view.marked is not None)
    await pilot.pause()  # what the view does after the next refresh (placing, margins)
    return view


async def settle(pilot: Any, view: LogView, timeout: float = 5.0) -> None:
    """Wait until a search or jump has ended, and the view has moved to what it found."""
    await until(pilot, lambda: not view.searching, timeout)
    await pilot.pause()  # what the view does after the next refresh (placing, margins)
