"""Never frozen (issue 20, item 6): a server that accepts connections and never answers, an
Ollama daemon that does the same, and an NVML call that blocks cost the panel a bounded wait;
the screen keeps answering keys and the server table keeps its rows. The real Node and
Supervisor; the server is the fake vLLM in its ``mute`` mode, the GPU a reader whose calls
block."""

from __future__ import annotations

import pytest
from textual.widgets import HelpPanel, Static

from naptha_tui.backends.ollama.client import Ollama
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.node import Node
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.prompt_bar import PromptBarModal
from naptha_tui.tui.widgets.ollama_panel import OllamaPanel
from naptha_tui.tui.widgets.server_table import ServerTable
from tests.conftest import write_preset
from tests.tui.test_dashboard import app_with, until
from tests.unit.test_bounded_read import HungGpu


def ollama_text(panel: OllamaPanel) -> str:
    return " ".join(str(s.content) for s in panel.query(Static))


async def test_a_mute_server_and_a_hung_gpu_leave_the_keys_working(
    paths: Paths, fake_runtime_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_preset(
        paths.user_presets_dir,
        "mute",
        "model: org/mute\nruntime: fake\nserved_model_name: m-mute\nenv: {FAKE_VLLM_MODE: mute}\n",
    )
    gpu, panels_gpu = HungGpu(), HungGpu()  # the node's reader, and the panel's own
    node = Node(paths, fake_runtime_settings, gpu=gpu)
    node.observer.gpu_read.timeout_s = 0.5
    sup = node.supervisor
    mute = sup.launch(sup.plan([node.catalog.get("mute")])[0])
    # an Ollama daemon that hangs: the same mute socket, asked as the panel asks a daemon
    hung_ollama = Ollama(f"http://127.0.0.1:{mute.port}", timeout=0.5)
    app = app_with(paths, node, gpu=panels_gpu, ollama=hung_ollama)  # type: ignore[arg-type]
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
            table = app.screen.query_one(ServerTable)
            # a status came back although the server's socket and NVML never answer
            await until(pilot, lambda: table.row_count == 1, timeout=15)
            assert gpu.calls == 1  # one NVML call in flight, not one per refresh
            for _ in range(3):  # each key answered (within 2 s) while the polls keep waiting
                await pilot.press("question_mark")
                await until(pilot, lambda: bool(app.screen.query(HelpPanel)), timeout=2)
                await pilot.press("question_mark")
                await until(pilot, lambda: not app.screen.query(HelpPanel), timeout=2)
                await pilot.press("colon")
                await until(pilot, lambda: isinstance(app.screen, PromptBarModal), timeout=2)
                await pilot.press("escape")
                await until(pilot, lambda: isinstance(app.screen, DashboardScreen), timeout=2)
            assert table.row_count == 1 and table.selected == "mute"
            ollama = app.screen.query_one(OllamaPanel)
            await until(pilot, lambda: "did not answer in time" in ollama_text(ollama), timeout=10)
            gpu.release.set()
            panels_gpu.release.set()
    finally:
        gpu.release.set()
        panels_gpu.release.set()
        await hung_ollama.aclose()
        await sup.stop("mute")
        await node.aclose()
