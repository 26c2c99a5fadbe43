"""`doctor --json` against the real cpu runtime: its torch and a real float32/bfloat16 matmul.

Needs only the installed cpu runtime (installed first if missing, as `make node` does); starts
no server. The machine's own CPU decides what to expect: this project's machines are AMD EPYC
with AVX2 and no AVX-512, where bfloat16 is emulated.
"""

from __future__ import annotations

import json
import socket

import pytest

from naptha_tui.backends.telemetry.cpu import read_cpu
from tests.integration.common import node_env, run_cli

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_doctor_json_on_this_machine_reports_emulated_bfloat16(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if read_cpu().native_bf16:
        pytest.skip("this CPU runs bfloat16 natively; the test is for machines without it")
    env = node_env(tmp_path_factory.mktemp("doctor"), free_port(), 18600)
    done = run_cli(env, "runtime", "install", "cpu", timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    done = run_cli(env, "doctor", "--json", timeout=300)
    assert done.returncode in (0, 1), done.stderr  # 1 if the proxy runtime or model is missing
    doc = json.loads(done.stdout)
    assert doc["native_bf16"] is False and doc["cpu"]["native_bf16"] is False
    assert doc["cpu"]["dtype_auto"]["dtype"] == "float32"
    torch = doc["cpu"]["torch"]
    assert torch["torch"].startswith("2.13.0") and torch["capability"]  # the runtime's own torch
    findings = {f["name"]: f for f in doc["findings"]}
    assert findings["runtime cpu"]["level"] == "ok"
    assert findings["matmul"]["level"] == "ok", findings["matmul"]
    matmul = doc["matmul"]
    assert matmul["float32_gflops"] > matmul["bfloat16_gflops"] > 0
    assert matmul["ratio"] > 1
