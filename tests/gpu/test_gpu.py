"""Real-GPU checks (marked ``gpu``; CI has no GPU, so they are deselected there).

Run on a machine with an NVIDIA GPU: ``.venv/bin/pytest -m gpu tests/gpu``. The attribution
test needs a Python with CUDA torch (``NAPTHA_TUI_TORCH_PYTHON``, else this one); the sleep-mode
swap needs the ``cuda`` runtime (``naptha-tui runtime install cuda``) and the embedded model.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.runtime import RuntimeProblem, get_runtime
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.gpu import GpuReader, GpuUnavailable, attribute, others
from naptha_tui.backends.telemetry.host import tree_memory
from naptha_tui.proxy.node import Node
from tests.conftest import write_preset

pytestmark = pytest.mark.gpu

GIB = 2**30
TORCH_PYTHON = os.environ.get("NAPTHA_TUI_TORCH_PYTHON", sys.executable)

# a "server": a parent whose child (like vLLM's EngineCore) holds the GPU memory
SERVER = f"""
import subprocess, sys, time
child = subprocess.Popen([{TORCH_PYTHON!r}, "-c", '''
import time, torch
x = torch.empty(1024 ** 3, dtype=torch.uint8, device="cuda:0")
torch.cuda.synchronize()
print("allocated", flush=True)
time.sleep(120)
'''])
time.sleep(120)
"""


def test_memory_a_worker_allocates_is_attributed_to_its_server() -> None:
    reader = GpuReader()
    before = reader.read()
    if isinstance(before, GpuUnavailable):
        pytest.fail(f"a gpu test without a readable GPU: {before.reason}")
    server = subprocess.Popen([sys.executable, "-c", SERVER])
    try:
        deadline = time.monotonic() + 120
        while True:
            tree = tree_memory(server.pid)
            report = reader.read()
            held = attribute(report, {"server": tree.pids if tree else ()})
            if held.get("server", {}).get(0, 0) >= GIB:
                break
            assert time.monotonic() < deadline, (tree, report)
            time.sleep(0.5)
        assert isinstance(report, list)
        gpu0 = report[0]
        assert gpu0.memory_total and gpu0.memory_used and gpu0.name != "N/A"
        rest = others(gpu0, held)
        assert rest is not None and rest + held["server"][0] == gpu0.memory_used
        assert server.pid not in {p.pid for p in gpu0.processes}  # the worker holds it, not it
    finally:
        subprocess.run(["pkill", "-P", str(server.pid)], check=False)
        server.kill()
        server.wait()


PRESET = """model: smollm2-135m
runtime: cuda
served_model_name: {served}
max_model_len: 2048
gpu_memory_utilization: 0.3
enforce_eager: true
{extra}
"""


async def test_sleep_mode_swap_frees_the_gpu_and_wakes_in_seconds(
    paths: Paths, settings: Settings
) -> None:
    try:
        get_runtime("cuda", paths, settings).require_ready()
    except RuntimeProblem as exc:
        pytest.fail(f"the sleep-mode gpu test needs the cuda runtime: {exc}")
    presets = Path(paths.user_presets_dir)
    write_preset(presets, "gpu-a", PRESET.format(served="m-a", extra="sleep_mode: true"))
    write_preset(presets, "gpu-b", PRESET.format(served="m-b", extra=""))
    node = Node(paths, settings)
    try:
        for plan in node.supervisor.plan([node.catalog.get("gpu-a")]):
            node.supervisor.launch(plan)
        [a] = await node.supervisor.wait_ready(["gpu-a"], 600)
        assert a.status == "ready", a.reason
        held = {s.name: s for s in (await node.observe()).servers}["gpu-a"].gpu_memory_bytes
        assert held and held > GIB
        await node.swap("gpu-a", "gpu-b", print)
        seen = {s.name: s for s in (await node.observe()).servers}
        assert seen["gpu-a"].status == "sleeping"
        assert (seen["gpu-a"].gpu_memory_bytes or 0) < held / 2  # the KV cache and weights left
        t0 = time.monotonic()
        report = await node.swap("gpu-b", "gpu-a", print)
        woke_s = time.monotonic() - t0
        assert report.new_action == "woke"
        assert woke_s < 60, woke_s  # seconds, not a reload
        [a] = await node.supervisor.statuses()
        assert a.status == "ready"
    finally:
        await node.down()
        await node.aclose()
