"""`naptha-tui ollama list|ps|pull|load|unload|status` against the fake daemon.

The fake (tests/fakes/fake_ollama.py) answers in-process, or is put on PATH as ``ollama`` when the
command is to start the managed daemon itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from naptha_tui.backends.ollama.daemon import stop_daemon
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import load_settings
from naptha_tui.tui.cli import main
from tests.fakes.fake_ollama import PULL_STEPS, REGISTRY, FakeOllama
from tests.fakes.ollama_wire import EXAMPLES, digest_of
from tests.unit.ollama_common import fake_binary, free_port

pytestmark = pytest.mark.usefixtures("no_ollama_env")


# -- the CLI ------------------------------------------------------------------------------------
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli_fake(fake: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> FakeOllama:
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", fake.url)
    return fake


def test_cli_list_table_and_json(capsys: pytest.CaptureFixture[str], cli_fake: FakeOllama) -> None:
    code, out, _ = run(capsys, "ollama", "list")
    header, *rows = out.splitlines()
    assert code == 0 and header.split() == [
        "NAME",
        "ID",
        "SIZE",
        "FAMILY",
        "PARAMS",
        "QUANT",
        "MODIFIED",
    ]
    assert rows[0].split()[:6] == [
        "llama3.2:latest",
        rows[0].split()[1],
        "2.0",
        "GB",
        "llama",
        "3.2B",
    ]
    code, out, _ = run(capsys, "ollama", "list", "--json")
    doc = json.loads(out)
    assert code == 0 and list(doc[0]) == [
        "name", "size", "digest", "family", "parameter_size", "quantization_level", "modified_at",
    ]  # fmt: skip
    assert doc[0]["modified_at"] == "2025-05-04T17:37:44-07:00"


def test_cli_load_ps_unload(capsys: pytest.CaptureFixture[str], cli_fake: FakeOllama) -> None:
    assert run(capsys, "ollama", "ps")[1] == "no model is loaded\n"
    code, out, _ = run(capsys, "ollama", "load", "llama3.2", "--keep-alive", "-1")
    assert code == 0 and out == "loaded llama3.2 (keep-alive -1, 100% GPU, unloads forever)\n"
    code, out, _ = run(capsys, "ollama", "load", "deepseek-r1", "--json")
    doc = json.loads(out)
    assert (doc["model"], doc["loaded"], doc["keep_alive"]) == ("deepseek-r1", True, "5m")
    assert doc["ps"]["vram_share"] == pytest.approx(0.6, abs=1e-6)
    code, out, _ = run(capsys, "ollama", "ps")
    header, forever, later = out.splitlines()
    assert header.split() == ["NAME", "SIZE", "VRAM", "SHARE", "PROCESSOR", "CONTEXT", "UNTIL"]
    assert forever.split()[0] == "llama3.2:latest" and forever.endswith("forever")
    assert (
        "60%" in later.split()
        and "40%/60% CPU/GPU" in later
        and later.split()[-2:]
        in (
            ["in", "4m"],
            ["in", "5m"],
        )
    )
    [a, b] = json.loads(run(capsys, "ollama", "ps", "--json")[1])
    assert list(a) == ["name", "size", "size_vram", "expires_at", "context_length", "vram_share"]
    assert a["expires_at"] is None and b["expires_at"].endswith("-07:00")
    assert run(capsys, "ollama", "unload", "llama3.2") == (0, "unloaded llama3.2\n", "")
    assert json.loads(run(capsys, "ollama", "unload", "deepseek-r1", "--json")[1]) == {
        "model": "deepseek-r1",
        "unloaded": True,
    }
    assert json.loads(run(capsys, "ollama", "ps", "--json")[1]) == []


def test_cli_pull_progress_lines_and_ndjson(
    capsys: pytest.CaptureFixture[str], cli_fake: FakeOllama
) -> None:
    code, out, _ = run(capsys, "ollama", "pull", "smollm2:135m")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "pulling manifest" and lines[-1] == "success"
    # one line per status and per 10% of each layer; sizes as `ollama` prints them
    assert lines[1] == f"pulling {digest_of('smollm2:135m/0')[7:19]}: 0 B/270 MB 0%"
    assert lines[2].endswith(": 67 MB/270 MB 25%") and lines[5].endswith("270 MB/270 MB 100%")
    assert lines[6].endswith(": 0 B/1.6 KB 0%")
    assert lines[-3:-1] == ["verifying sha256 digest", "writing manifest"]
    code, out, _ = run(capsys, "ollama", "pull", "smollm2:135m", "--json")
    *events, summary = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and events[0] == {
        "status": "pulling manifest", "digest": None, "total": None, "completed": None,
        "fraction": None,
    }  # fmt: skip
    assert events[-1]["status"] == "success" and len(events) == 1 + 4 * (1 + PULL_STEPS) + 3
    assert summary == {
        "model": "smollm2:135m",
        "pulled": True,
        "layers": 4,
        "bytes": sum(REGISTRY[0].layers),
        "events": len(events),
    }


def test_cli_errors_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], cli_fake: FakeOllama
) -> None:
    code, out, err = run(capsys, "ollama", "pull", "nope")
    assert code == 2 and out == "pulling manifest\n"
    assert err == (
        f"naptha-tui: error: Ollama at {cli_fake.url} could not pull model 'nope': "
        "pull model manifest: file does not exist\n"
    )
    code, _, err = run(capsys, "ollama", "load", "ghost")
    assert code == 2 and err == (
        f"naptha-tui: error: Ollama at {cli_fake.url} could not load model 'ghost': "
        "model 'ghost' not found (HTTP 404)\n"
    )
    with pytest.raises(SystemExit) as exited:
        main(["ollama", "load", "x", "--keep-alive", "soon"])
    assert exited.value.code == 2
    assert "argument --keep-alive: invalid duration 'soon'" in capsys.readouterr().err


def test_cli_status_external_and_down(
    capsys: pytest.CaptureFixture[str],
    fake: FakeOllama,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", fake.url)
    code, out, _ = run(capsys, "ollama", "status")
    version = EXAMPLES["version"]["version"]
    assert code == 0 and out == (
        f"ollama: external at {fake.url} (version {version})\n"
        "offered to the proxy: deepseek-r1:latest, llama3.2:latest\n"
    )
    doc = json.loads(run(capsys, "ollama", "status", "--json")[1])
    assert (doc["status"], doc["host"], doc["offered"]) == (
        "external",
        fake.url,
        ["deepseek-r1:latest", "llama3.2:latest"],
    )
    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", host)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    reason = f"no Ollama daemon answers at {host} and no `ollama` binary is on PATH"
    assert run(capsys, "ollama", "status") == (1, f"ollama: down: {reason}\n", "")
    code, out, _ = run(capsys, "ollama", "status", "--json")
    assert code == 1 and json.loads(out)["reason"] == reason
    for argv in (["list"], ["ps"], ["pull", "m"], ["load", "m"], ["unload", "m"]):
        code, out, err = run(capsys, "ollama", *argv)
        assert (code, out, err) == (2, "", f"naptha-tui: error: {reason}\n"), argv


def test_cli_starts_the_managed_daemon_and_says_so(
    capsys: pytest.CaptureFixture[str],
    paths: Paths,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_binary(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    host = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("NAPTHA_TUI_OLLAMA__HOST", host)
    try:
        code, out, err = run(capsys, "ollama", "list", "--json")
        assert code == 0 and len(json.loads(out)) == 2
        assert err.startswith("started ollama serve (pid ") and "`naptha-tui down ollama`" in err
        code, out, _ = run(capsys, "ollama", "status")
        assert code == 0 and out.startswith(f"ollama: managed at http://{host} (version ")
        assert (
            run(capsys, "down", "ollama", "--json")[1]
            == '{\n  "stopped": [\n    "ollama"\n  ]\n}\n'
        )
        assert run(capsys, "ollama", "status")[0] == 1
    finally:
        import asyncio

        asyncio.run(stop_daemon(load_settings(paths), paths))


def test_ollama_commands_never_import_textual(fake: FakeOllama) -> None:
    code = """
import contextlib, io, sys
from naptha_tui.tui.cli import main
for argv in (["ollama", "status", "--json"], ["ollama", "ps", "--json"]):
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv) == 0, argv
print(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")))
"""
    env = {**os.environ, "NAPTHA_TUI_OLLAMA__HOST": fake.url}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
