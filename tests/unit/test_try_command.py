"""The headless ``try`` command: bad input named before any request, a sweep through a fake
proxy on the node's proxy port, Ctrl-C, saved sessions and its help.

The engine over real HTTP: test_playground_run.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.playground.sessions import (
    save_session,
)
from naptha_tui.backends.playground.spec import MODE_NAMES, Spec
from naptha_tui.backends.settings import load_settings
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.tui.cli import main
from tests.fakes.fake_proxy import PROXY_KEY, FakeProxy, Reply
from tests.unit.test_cli import assert_nothing_started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_try(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["try", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> int:
    """The proxy's port, with nothing listening there."""
    port = free_port()
    monkeypatch.setenv("NAPTHA_TUI_PROXY__PORT", str(port))
    return port


BASE = ("--model", "m", "--prompt", "hi")


@pytest.mark.parametrize(
    ("argv", "field", "piece"),
    [
        (("--tools", "{tools}"), "tools", "not JSON"),
        (("--temperatures", "0,x"), "temperatures", "'x' is not a number"),
        (("--mode", "bogus"), "mode", "unknown mode 'bogus'"),
        (("--mode", "regex", "--regex", "("), "regex", "invalid"),
        (("--mode", "choice", "--choice", ","), "choice", "non-empty"),
    ],
)
def test_try_bad_input_names_the_field_before_any_request(
    capsys: pytest.CaptureFixture[str],
    paths: Paths,
    tmp_path: Path,
    no_proxy: int,
    argv: tuple[str, ...],
    field: str,
    piece: str,
) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text('[{"name": "f",\n  parameters: {}}]')
    argv = tuple(a.format(tools=tools) for a in argv)
    code, out, err = run_try(capsys, *BASE, *argv)
    assert code == 2 and out == ""
    assert err.startswith("naptha-tui: error: "), err
    assert "does not answer" not in err and "connect" not in err.lower(), err
    assert re.search(rf"\b{field}\b[^:]*: ", err) and piece in err, err
    assert "Traceback" not in err
    assert_nothing_started(paths)


def test_try_tools_not_json_names_file_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_proxy: int
) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text('[{"name": "f",\n  parameters: {}}]')
    _, _, err = run_try(capsys, *BASE, "--tools", str(tools))
    assert f"tools ({tools}): not JSON" in err and "line 2 col 3" in err, err


@pytest.fixture
def node_proxy(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProxy]:
    """A fake proxy on the node's proxy port, its key in the node's key file."""
    with FakeProxy(models=["m"]) as fake:
        monkeypatch.setenv("NAPTHA_TUI_PROXY__PORT", str(fake.port))
        manager = ProxyManager(paths, load_settings(paths))
        manager.key_file.parent.mkdir(parents=True, exist_ok=True)
        manager.key_file.write_text(PROXY_KEY)
        yield fake


def test_try_bad_input_sends_nothing_to_a_proxy(
    capsys: pytest.CaptureFixture[str], node_proxy: FakeProxy
) -> None:
    """With a proxy answering, a bad mode is still refused, and no chat request goes out."""
    for argv in (("--mode", "bogus"), ("--mode", "regex", "--regex", "(")):
        code, _, err = run_try(capsys, *BASE, *argv)
        assert code == 2 and err.startswith("naptha-tui: error: "), err
        assert ("mode" if "bogus" in argv else "regex") in err
    assert node_proxy.chat == []


def test_try_runs_against_the_proxy(
    capsys: pytest.CaptureFixture[str], node_proxy: FakeProxy
) -> None:
    argv = ("--mode", "plain,json_object", "--temperatures", "0,0.5", "--samples", "2")
    code, out, err = run_try(capsys, *BASE, *argv, "--json")
    assert code == 0, err
    *samples, grid = [json.loads(line) for line in out.splitlines()]
    assert len(samples) == 8 == len(node_proxy.chat)
    assert {(s["mode"], s["valid"]) for s in samples} == {("plain", True), ("json_object", False)}
    assert grid["complete"] is True and len(grid["grid"]) == 4
    assert {(e["mode"], e["valid_rate"]) for e in grid["grid"]} == {
        ("plain", 1.0),
        ("json_object", 0.0),
    }


def test_try_ctrl_c_stops_the_sweep_and_reports_what_landed(
    capsys: pytest.CaptureFixture[str], node_proxy: FakeProxy
) -> None:
    """The first Ctrl-C stops sending (as bench's and eval's do): the samples that landed are
    printed, then the grid, marked incomplete, and the command exits 0."""
    node_proxy.reply = Reply(delay_s=0.2)

    def interrupt() -> None:
        deadline = time.monotonic() + 10
        while len(node_proxy.chat) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    code, out, err = run_try(capsys, *BASE, "--samples", "20", "--concurrency", "1", "--json")
    assert code == 0, err
    assert "stopping: Ctrl-C again to quit at once" in err and "stopped: " in err, err
    *samples, grid = [json.loads(line) for line in out.splitlines()]
    assert grid["complete"] is False and grid["samples"] == len(samples) < 20
    assert len(node_proxy.chat) < 20


def test_try_list_sessions(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    assert run_try(capsys, "--list-sessions") == (0, "no saved sessions\n", "")
    assert run_try(capsys, "--list-sessions", "--json") == (0, "[]\n", "")
    save_session(paths, "s1", Spec(model="m", prompt="hi"))
    assert run_try(capsys, "--list-sessions", "--json") == (0, '["s1"]\n', "")


def test_try_help_lists_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["try", "--help"])
    assert exited.value.code == 0
    text = re.sub(r"-\s+", "-", re.sub(r"\s+", " ", capsys.readouterr().out))
    for mode in MODE_NAMES:
        assert mode in text, mode
