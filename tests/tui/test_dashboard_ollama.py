"""The dashboard's Ollama panel: the real client against the recorded fake daemon (and against
a closed port), driven by the panel's keys and palette."""

from __future__ import annotations

import socket

from textual.widgets import Input, Log, Static

from naptha_tui.backends.ollama.client import Ollama
from naptha_tui.backends.paths import Paths
from naptha_tui.tui.widgets.ollama_panel import OllamaPanel, OllamaTable, PullModal
from tests.fakes.fake_ollama import FakeOllama
from tests.fakes.node import (
    FakeNode,
    server,
)
from tests.tui.test_dashboard import app_with, polls, until
from tests.tui.test_dashboard_memory import dashboard


# -- Ollama ------------------------------------------------------------------------------
def status_line(panel: OllamaPanel) -> str:
    return str(panel.query_one("#ollama-status", Static).content)


def ollama_rows(panel: OllamaPanel) -> dict[str, list[str]]:
    table = panel.query_one(OllamaTable)
    return {str(key.value): [str(c) for c in table.get_row(key)] for key in table.rows}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_no_ollama_daemon_is_one_quiet_line(paths: Paths) -> None:
    port = closed_port()
    node = FakeNode([server()])
    app = app_with(paths, node, ollama=Ollama(f"http://127.0.0.1:{port}"))
    async with app.run_test(size=(120, 36)) as pilot:
        panel = (await dashboard(pilot)).query_one(OllamaPanel)
        await until(pilot, lambda: panel.up is False)
        assert status_line(panel) == f"Ollama: no daemon at http://127.0.0.1:{port}"
        assert not panel.query_one(OllamaTable).display
        await polls(pilot, node)  # the panel has gone on a while
        log = app.screen.query_one(Log)
        assert not any("ollama" in line.lower() for line in log.lines)  # no spam
        assert app.is_running


async def test_ollama_models_load_unload_and_pull_through_the_fake_daemon(paths: Paths) -> None:
    with FakeOllama() as fake:
        app = app_with(paths, FakeNode([server()]), ollama=Ollama(fake.url))
        async with app.run_test(size=(120, 36)) as pilot:
            panel = (await dashboard(pilot)).query_one(OllamaPanel)
            await until(pilot, lambda: panel.up is True and len(ollama_rows(panel)) == 2)
            assert panel.border_title == f"Ollama · {fake.url}"
            rows = ollama_rows(panel)
            assert rows["llama3.2:latest"] == ["llama3.2:latest", "2.0 GB", "3.2B", "-", "-", "-"]
            assert rows["deepseek-r1:latest"][:3] == ["deepseek-r1:latest", "4.7 GB", "7.6B"]
            assert status_line(panel) == "2 model(s), 0 loaded"

            table = panel.query_one(OllamaTable)
            table.focus()
            await pilot.press("down", "enter")  # load deepseek-r1
            await until(pilot, lambda: ollama_rows(panel)["deepseek-r1:latest"][3] != "-")
            load = [s for s in fake.seen if s.path == "/api/generate"][-1]
            assert load.body["model"] == "deepseek-r1:latest" and load.body["keep_alive"] == "5m"
            loaded = ollama_rows(panel)["deepseek-r1:latest"]
            # 1.25 x its file in memory, 60% of it on the GPU, five minutes of keep_alive
            assert loaded[3:] == ["5.9 GB", "60% GPU", "in 5m"]
            assert next(iter(ollama_rows(panel))) == "deepseek-r1:latest"  # loaded ones first
            assert status_line(panel) == "2 model(s), 1 loaded"
            log = app.screen.query_one(Log)
            await until(
                pilot, lambda: "ollama: deepseek-r1:latest loaded (keep alive 5m)" in log.lines
            )

            table.move_cursor(row=0)
            await pilot.press("u")
            await until(pilot, lambda: ollama_rows(panel)["deepseek-r1:latest"][3] == "-")
            unload = [s for s in fake.seen if s.path == "/api/generate"][-1]
            assert unload.body["model"] == "deepseek-r1:latest" and unload.body["keep_alive"] == 0

            await pilot.press("n")
            await until(
                pilot, lambda: isinstance(app.screen, PullModal) and bool(app.screen.query(Input))
            )
            app.screen.query_one(Input).value = "smollm2:135m"
            await pilot.press("enter")
            await until(pilot, lambda: "smollm2:135m" in ollama_rows(panel))
            pulls = [s for s in fake.seen if s.path == "/api/pull"]
            assert [p.body["model"] for p in pulls] == ["smollm2:135m"]
            lines = list(log.lines)
            assert "ollama pull smollm2:135m: pulling manifest" in lines
            assert "ollama pull smollm2:135m: success" in lines
            # one line per step, not one per progress event
            assert sum(line.startswith("ollama pull smollm2:135m: pulling ") for line in lines) == 5
            assert ollama_rows(panel)["smollm2:135m"][1:3] == ["270 MB", "134.52M"]
            assert status_line(panel) == "3 model(s), 0 loaded"


async def test_a_refused_pull_is_reported(paths: Paths) -> None:
    with FakeOllama() as fake:
        app = app_with(paths, FakeNode([server()]), ollama=Ollama(fake.url))
        async with app.run_test(size=(120, 36)) as pilot:
            panel = (await dashboard(pilot)).query_one(OllamaPanel)
            await until(pilot, lambda: panel.up is True)
            commands = {c.title: c for c in app.get_system_commands(app.screen)}
            commands["Ollama: pull model"].callback()  # from the palette, whatever has focus
            await until(
                pilot, lambda: isinstance(app.screen, PullModal) and bool(app.screen.query(Input))
            )
            app.screen.query_one(Input).value = "no-such-model"
            await pilot.press("enter")
            log = app.screen.query_one(Log)
            await until(pilot, lambda: any(line.startswith("error:") for line in log.lines))
            error = next(line for line in log.lines if line.startswith("error:"))
            assert "no-such-model:latest" in error and "file does not exist" in error
            assert "pulling" not in status_line(panel)  # the progress line is gone
            assert app.is_running


async def test_palette_load_acts_on_the_highlighted_model(paths: Paths) -> None:
    with FakeOllama() as fake:
        app = app_with(paths, FakeNode([server()]), ollama=Ollama(fake.url))
        async with app.run_test(size=(120, 36)) as pilot:
            panel = (await dashboard(pilot)).query_one(OllamaPanel)
            await until(pilot, lambda: len(ollama_rows(panel)) == 2)
            commands = {c.title: c for c in app.get_system_commands(app.screen)}
            commands["Ollama: load model"].callback()
            await until(pilot, lambda: "llama3.2:latest" in fake.loaded)
            commands["Ollama: unload model"].callback()
            await until(pilot, lambda: "llama3.2:latest" not in fake.loaded)
