"""The command log (issue 20 item 5): what every action ran, as a person could type it again;
appended by several processes at once, the newest thousand kept, 0600, secrets never written."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.commandlog import (
    KEEP,
    CommandLog,
    Entry,
    curl_line,
    env_words,
    exec_line,
    from_file,
    scrub,
    signal_line,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.supervisor import Supervisor
from naptha_tui.backends.settings import Settings
from naptha_tui.proxy.litellm.config import Deployment
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.tui.cli import main
from tests.unit.test_supervisor import preset

SECRET = "sk-this-must-never-be-written-0123456789"


def test_only_changed_variables_that_matter_are_recorded_and_secrets_as_their_source() -> None:
    parent = {"PATH": "/usr/bin", "HOME": "/home/me", "HF_HOME": "/hf", "OPENAI_API_KEY": SECRET}
    env = {
        **parent,
        "PATH": "/venv/bin:/usr/bin",  # changed, but not a server's variable
        "HF_HOME": "/hf",  # a server's variable, unchanged
        "VLLM_CPU_KVCACHE_SPACE": "4",
        "VLLM_API_KEY": SECRET,
        "HF_TOKEN": SECRET,
        "NAPTHA_ROUTES_FEED": "/state/proxy/routes.jsonl",
        "OMP_NUM_THREADS": "1 2",
    }
    words = env_words(env, parent, {"VLLM_API_KEY": from_file(Path("/st/keys/a b.key"))})
    assert words == {
        "HF_TOKEN": '"$HF_TOKEN"',
        "NAPTHA_ROUTES_FEED": "/state/proxy/routes.jsonl",
        "OMP_NUM_THREADS": "'1 2'",
        "VLLM_API_KEY": "\"$(cat '/st/keys/a b.key')\"",
        "VLLM_CPU_KVCACHE_SPACE": "4",
    }
    line = exec_line(["/rt/bin/vllm", "serve", "org/m", "--port", "8100"], words)
    assert line.endswith("VLLM_CPU_KVCACHE_SPACE=4 /rt/bin/vllm serve org/m --port 8100")
    assert SECRET not in line


def test_the_shell_lines() -> None:
    key = from_file(Path("/st/keys/s.key"))
    assert curl_line("POST", "http://127.0.0.1:8100/sleep?level=1", key) == (
        "curl -sS -X POST 'http://127.0.0.1:8100/sleep?level=1' "
        '-H "Authorization: Bearer $(cat /st/keys/s.key)"'
    )
    assert curl_line("POST", "http://h:1/collective_rpc", None, {"method": "reload_weights"}) == (
        "curl -sS http://h:1/collective_rpc -H 'content-type: application/json' "
        '-d \'{"method": "reload_weights"}\''
    )
    assert signal_line("HUP", [123]) == "kill -HUP 123"
    assert signal_line("TERM", [77], group=True) == "kill -TERM -- -77"
    assert scrub(f"x {SECRET} y", [SECRET, "short"]) == "x <redacted> y"


def test_the_file_is_private_and_trimmed_to_the_newest_thousand(paths: Paths) -> None:
    log = CommandLog(paths, via="test")
    for i in range(KEEP + 5):
        log.record(f"action {i}", "signal", f"kill -HUP {i}", "sent")
    entries = log.entries()
    assert len(entries) == KEEP == 1000
    assert entries[0].action == "action 5" and entries[-1].action == f"action {KEEP + 4}"
    assert stat.S_IMODE(log.file.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.lock_file.stat().st_mode) == 0o600
    assert [e.action for e in log.entries(2)] == [f"action {KEEP + 3}", f"action {KEEP + 4}"]


APPENDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from naptha_tui.backends.commandlog import CommandLog
    from naptha_tui.backends.paths import Paths

    paths = Paths.from_env()
    log = CommandLog(paths, via=sys.argv[1])
    for i in range(int(sys.argv[2])):
        log.record(f"{sys.argv[1]} {i}", "exec", "x" * 300, "started")
    """
)


def test_two_processes_append_at_once_and_nothing_is_lost_or_torn(paths: Paths) -> None:
    """The panel and the CLI append together: each entry whole, the newest 1000 of 1200 kept,
    each writer's last entry among them."""
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, who, "600"], env=dict(os.environ))
        for who in ("panel", "cli")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    log = CommandLog(paths)
    raw = log.file.read_text().splitlines()
    assert len(raw) == 1000
    entries = [Entry.from_json(json.loads(line)) for line in raw]  # every line parses
    actions = {e.action for e in entries}
    assert {"panel 599", "cli 599"} <= actions
    for who in ("panel", "cli"):  # each writer's entries in the order written
        mine = [int(e.action.split()[1]) for e in entries if e.via == who]
        assert mine == sorted(mine)


async def test_a_server_start_sleep_wake_and_stop_are_recorded_without_the_key(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    p = preset(paths, extra="sleep_mode: true\nenv: {VLLM_LOGGING_LEVEL: DEBUG}\n")
    record = sup.launch(sup.plan([p])[0])
    key = sup.keys.file("fake").read_text().strip()
    try:
        [status] = await sup.wait_ready(["fake"], timeout=20, poll_s=0.2)
        assert status.status == "ready", status.reason
        await sup.sleep("fake", 1)
        await sup.wake("fake")
    finally:
        await sup.stop("fake")
        await sup.aclose()
    log = CommandLog(paths)
    text = log.file.read_text()
    assert key not in text and len(key) > 20
    start, sleep, wake, stop = log.entries()
    keyfile = sup.keys.file("fake")
    assert (start.action, start.kind, start.ok) == ("start server fake", "exec", True)
    assert start.outcome.startswith(f"started pid {record.pid} (log ")
    assert start.argv == record.argv
    assert start.env["VLLM_API_KEY"] == f'"$(cat {keyfile})"'
    assert start.env["VLLM_LOGGING_LEVEL"] == "DEBUG"
    assert start.env["VLLM_SERVER_DEV_MODE"] == "1"
    assert f'VLLM_API_KEY="$(cat {keyfile})"' in start.line
    assert start.line.endswith(" ".join(record.argv))
    assert "NAPTHA_TUI_RECORD" not in start.env and "PATH" not in start.env
    port = record.port
    assert (sleep.action, sleep.kind, sleep.ok) == ("sleep fake", "http", True)
    assert sleep.line == (
        f"curl -sS -X POST 'http://127.0.0.1:{port}/sleep?level=1' "
        f'-H "Authorization: Bearer $(cat {keyfile})"'
    )
    assert sleep.outcome.startswith("200 in ")
    assert wake.action == "wake_up fake" and "/wake_up" in wake.line
    assert stop.action == "stop server fake" and stop.line == f"kill -TERM -- -{record.pid}"
    assert stop.outcome.startswith("stopped in ")


def fake_litellm(tmp_path: Path) -> Path:
    script = tmp_path / "litellm"
    script.write_text(
        f"#!{sys.executable}\n"
        "import signal, time\n"
        "signal.signal(signal.SIGHUP, lambda *a: print('reloaded', flush=True))\n"
        "print('up', flush=True)\n"
        "time.sleep(60)\n"
    )
    script.chmod(0o755)
    return script


async def test_the_proxy_start_and_reload_are_recorded(
    paths: Paths, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = fake_litellm(tmp_path)

    class Runtime:
        def require_ready(self) -> None:
            pass

        def bin(self, program: str) -> Path:
            return script

    monkeypatch.setattr("naptha_tui.proxy.litellm.process.get_runtime", lambda *a: Runtime())
    monkeypatch.setattr(settings.proxy, "port", 19431)
    proxy = ProxyManager(paths, settings)
    record, outcome = await proxy.start([])
    try:
        assert outcome == "started"
        # the fake prints "up" once its SIGHUP handler is in place; a SIGHUP before that would
        # end it (the default action), and then there would be no process left to stop
        deadline = time.monotonic() + 20
        while "up" not in record.log_path.read_text().splitlines() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        one = Deployment("a", "m-a", "http://127.0.0.1:9/v1")
        _, outcome = await proxy.start([one])
        assert outcome == "reloaded"
    finally:
        await proxy.stop()
    key = proxy.key_file.read_text().strip()
    log = CommandLog(paths)
    assert key not in log.file.read_text()
    start, reload, stop = log.entries()
    assert start.action == "start proxy" and f"--config {proxy.config_file}" in start.line
    assert start.env["LITELLM_MASTER_KEY"] == f'"$(cat {proxy.key_file})"'
    assert start.env["NAPTHA_ROUTES_FEED"] == str(proxy.feed_file)
    assert reload.action == f"reload proxy (config {proxy.config_file})"
    assert reload.line == f"kill -HUP {record.pid}" and reload.kind == "signal" and reload.ok
    assert stop.action == "stop proxy"


def test_a_secret_in_any_field_is_scrubbed(paths: Paths) -> None:
    log = CommandLog(paths, via="test")
    log.record(
        "start x",
        "exec",
        f"X={SECRET} run",
        f"echo {SECRET}",
        argv=["run", SECRET],
        env={"A": SECRET},
        secrets=[SECRET],
    )
    assert SECRET not in log.file.read_text()
    [e] = log.entries()
    assert e.line == "X=<redacted> run" and e.argv == ["run", "<redacted>"]


def test_a_broken_line_is_skipped(paths: Paths) -> None:
    log = CommandLog(paths, via="test")
    log.record("a", "signal", "kill -HUP 1", "sent")
    with log.file.open("a") as fh:
        fh.write('{"at": 1, "via"\n')
    log.record("b", "signal", "kill -HUP 2", "sent")
    assert [e.action for e in log.entries()] == ["a", "b"]


def test_history_prints_the_lines_and_json(
    paths: Paths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history"]) == 0
    assert "nothing recorded yet" in capsys.readouterr().out
    log = CommandLog(paths, via="cli up")
    log.record("start server s", "exec", 'VLLM_API_KEY="$(cat /k)" vllm serve m', "started pid 9")
    log.record("sleep s", "http", "curl -sS -X POST http://h/sleep", "failed: ConnectError", False)
    assert main(["history"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("  cli up  start server s  started pid 9")
    assert out[1] == '  $ VLLM_API_KEY="$(cat /k)" vllm serve m'
    assert out[2].endswith("  sleep s  failed: ConnectError")
    assert main(["history", "--json", "-n", "1"]) == 0
    doc: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    assert [d["action"] for d in doc] == ["sleep s"] and doc[0]["ok"] is False


async def test_ollama_load_unload_and_pull_are_recorded_as_curl_lines(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    from naptha_tui.backends.ollama.client import Ollama, OllamaError
    from tests.fakes.fake_ollama import FakeOllama

    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    log = CommandLog(paths, via="test")
    with FakeOllama() as fake:
        async with Ollama(fake.url, log=log) as client:
            await client.load("llama3.2", keep_alive="30m")
            await client.unload("llama3.2")
            with pytest.raises(OllamaError):
                async for _ in client.pull("no-such-model"):
                    pass
    load, unload, pull = log.entries()
    assert (load.action, load.kind, load.ok) == ("ollama load llama3.2", "http", True)
    assert load.line == (
        f"curl -sS {fake.url}/api/generate -H 'content-type: application/json' "
        '-d \'{"model": "llama3.2", "keep_alive": "30m"}\''
    )
    assert unload.action == "ollama unload llama3.2" and '"keep_alive": 0' in unload.line
    assert (pull.action, pull.ok) == ("ollama pull no-such-model", False)
    assert pull.outcome.startswith("failed: Ollama at ") and "/api/pull" in pull.line
