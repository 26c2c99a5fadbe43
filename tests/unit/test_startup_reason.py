"""Start-up reads as start-up (issue 20 item 2): a starting server says ``loading N s`` and the
last line of its log, never the probe's refused connection; a failed one says the line that
ends the first traceback of its log, the root cause."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.logs import (
    death_reason,
    first_error,
    last_line,
    loading_reason,
)
from naptha_tui.backends.servers.supervisor import Supervisor
from naptha_tui.backends.settings import Settings
from tests.unit.test_supervisor import preset

# vLLM 0.32 on a failed start: the engine's traceback first, then the API server's
ENGINE_THEN_API = """\
(APIServer pid=10) INFO 11-24 14:24:01 [api_server.py:1] vLLM API server version 0.32.0
(EngineCore_DP0 pid=11) ERROR 11-24 14:24:20 [core.py:700] EngineCore failed to start.
(EngineCore_DP0 pid=11) ERROR 11-24 14:24:20 [core.py:700] Traceback (most recent call last):
(EngineCore_DP0 pid=11) ERROR 11-24 14:24:20 [core.py:700]   File "core.py", line 691, in run
(EngineCore_DP0 pid=11) ERROR 11-24 14:24:20 [core.py:700]     engine_core = EngineCoreProc(
(EngineCore_DP0 pid=11) ERROR 11-24 14:24:20 [core.py:700] ValueError: max_model_len 99999 \
exceeds the model's 8192
(APIServer pid=10) Traceback (most recent call last):
(APIServer pid=10)   File "api_server.py", line 12, in <module>
(APIServer pid=10)     uvloop.run(run_server(args))
(APIServer pid=10) RuntimeError: Engine core initialization failed. See root cause above. \
Failed core proc(s): {}
"""


def test_the_first_traceback_names_the_root_cause(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text(ENGINE_THEN_API)
    error = first_error(log)
    assert error is not None
    assert error.text == "ValueError: max_model_len 99999 exceeds the model's 8192"
    data = log.read_bytes()
    assert data[error.offset :].startswith(b"(EngineCore_DP0 pid=11) ERROR 11-24 14:24:20 [co")
    assert b"ValueError" in data[error.offset : data.index(b"\n", error.offset)]
    assert death_reason(log) == error.text


def test_a_log_without_a_traceback_has_no_first_error(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text("INFO a\nINFO b\n")
    assert first_error(log) is None
    assert first_error(tmp_path / "missing.log") is None


def test_loading_reason_is_the_time_and_the_last_line(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_text(
        "(APIServer pid=1) INFO 11-24 14:24:01 [api_server.py:1] vLLM API server version 0.32\n"
        "(EngineCore_DP0 pid=2) INFO 11-24 14:24:09 [gpu_model_runner.py:3] Loading weights\n\n"
    )
    assert last_line(log) == "Loading weights"
    assert loading_reason(log, 42.7) == "loading 42 s: Loading weights"
    assert loading_reason(tmp_path / "none.log", 3.0) == "loading 3 s"


async def test_a_starting_server_reads_loading_never_connect_error(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    """The fake vLLM prints its first line, then waits 30 s before it listens: every status
    meanwhile is ``starting`` with ``loading N s`` and that line."""
    sup = Supervisor(paths, fake_runtime_settings)
    sup.launch(sup.plan([preset(paths, extra="env: {FAKE_VLLM_DELAY: '30'}\n")])[0])
    try:
        seen = []
        for _ in range(8):
            [status] = await sup.statuses()
            seen.append(status)
            await asyncio.sleep(0.25)
        for status in seen:
            assert status.status == "starting", status
            assert status.reason is not None and "ConnectError" not in status.reason
            assert re.fullmatch(r"loading \d+ s(: INFO fake vLLM serving m-fake)?", status.reason)
        assert (seen[-1].reason or "").endswith(": INFO fake vLLM serving m-fake")
    finally:
        await sup.stop("fake")
        await sup.aclose()
