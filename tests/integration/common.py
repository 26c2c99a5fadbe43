"""Helpers shared by the integration modules: the CLI as a subprocess, the panel on a pty or
in tmux."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import load_settings
from naptha_tui.proxy.node import Node
from tests.conftest import REAL_DATA_DIR

CLI = [sys.executable, "-m", "naptha_tui.tui"]
START_TIMEOUT = 420


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def status(env: dict[str, str], window: float = 0) -> dict[str, Any]:
    """``status --json``; ``window`` 0 (the default here) skips the second /metrics scrape."""
    done = run_cli(env, "status", "--json", "--window", str(window), timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def our_processes(doc: dict[str, Any]) -> list[psutil.Process]:
    """Every live process of the servers and the proxy, children included."""
    found = []
    for pid in [s["pid"] for s in doc["servers"]] + [doc["proxy"]["pid"]]:
        if pid:
            proc = psutil.Process(pid)
            found += [proc, *proc.children(recursive=True)]
    return found


class Panel:
    """The real panel on a pseudo terminal, its screen output drained so it never blocks."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        self.proc = subprocess.Popen(
            [*CLI, *args],
            env={**env, "TERM": "xterm-256color"},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        os.close(self.master)


EXIT_RECORDER = """\
import os, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1] + ".part", "w") as f:
    f.write(str(code))
os.replace(sys.argv[1] + ".part", sys.argv[1])
"""
"""Runs the command in ``argv[2:]`` and writes its exit status (minus a signal) to ``argv[1]``."""


class TmuxPanel:
    """The real panel in a tmux window of 160x48, as a person drives it: keys in, screen read.

    A tmux server of its own (a socket under ``where``), started with ``env``, so the panel sees
    the test's node and nothing of another tmux. The panel runs under a small launcher
    (``EXIT_RECORDER``) that waits for it and writes its exit status to a file: tmux 3.3a now and
    then misses the SIGCHLD of a pane's process (seen here under load, about 1 exit in 8: the
    panel a zombie it never reaps, the pane never marked dead), so its own account of the exit
    cannot be waited on. Every screen read is kept: ``ever`` asks whether any showed a text.
    """

    def __init__(self, env: dict[str, str], where: Path, *args: str) -> None:
        assert shutil.which("tmux"), "this test drives the panel in tmux: apt-get install tmux"
        self.socket = str(where / "tmux.sock")
        # a native crash (SIGSEGV, SIGABRT) prints Python's stacks where the pane shows them
        self.env = {**env, "PYTHONFAULTHANDLER": "1"}
        self.seen: list[str] = []
        self.exited = where / "panel.exit"
        self.exited.unlink(missing_ok=True)
        launch = [sys.executable, "-c", EXIT_RECORDER, str(self.exited), *CLI, *args]
        self._tmux("new-session", "-d", "-x", "160", "-y", "48", *launch)
        self._tmux("set-option", "-t", "0", "remain-on-exit", "on")  # its last screen stays

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def keys(self, *keys: str, pause: float = 0.4) -> None:
        """Each of ``keys`` as tmux names it (``Enter``, ``Escape``, ``C-o``) or as text."""
        for key in keys:
            self._tmux("send-keys", "-t", "0", key)
            time.sleep(pause)

    def screen(self, styles: bool = False) -> str:
        text = self._tmux("capture-pane", "-p", "-t", "0", *(["-e"] if styles else []))
        self.seen.append(text)
        return text

    def wait_for(self, pattern: str, timeout: float = 60, styles: bool = False) -> re.Match[str]:
        """The first screen on which ``pattern`` (a regex) shows; fails with the last screen."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(styles)
            found = re.search(pattern, text)
            if found:
                return found
            assert time.monotonic() < deadline, f"{pattern!r} never showed; last screen:\n{text}"
            exited = self.exited.exists()
            assert not exited, f"the panel exited ({self.exited.read_text()}):\n{text}"
            time.sleep(0.3)

    def ever(self, text: str) -> bool:
        return any(text in screen for screen in self.seen)

    def exit_status(self, timeout: float = 20) -> int:
        """The panel's exit status once it has exited; minus the signal that killed it."""
        deadline = time.monotonic() + timeout
        while not self.exited.exists():
            assert time.monotonic() < deadline, f"the panel did not exit:\n{self.screen()}"
            time.sleep(0.3)
        return int(self.exited.read_text())

    def kill9(self) -> int:
        """SIGKILL the panel, as a crash or ``kill -9`` would end it; its pid."""
        launcher = int(self._tmux("display-message", "-p", "-t", "0", "#{pane_pid}").strip())
        (panel,) = psutil.Process(launcher).children()
        panel.send_signal(signal.SIGKILL)
        code = self.exit_status()
        assert code == -signal.SIGKILL, f"exit {code}\n{self.screen()}"
        return int(panel.pid)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=30)


def node_env(root: Path, proxy_port: int, port_base: int) -> dict[str, str]:
    """An environment whose node lives under ``root``, with the real runtimes and model."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NAPTHA_TUI_")}
    return environ | {
        "NAPTHA_TUI_DATA_DIR": str(REAL_DATA_DIR),
        "NAPTHA_TUI_STATE_DIR": str(root / "state"),
        "NAPTHA_TUI_CONFIG_DIR": str(root / "config"),
        "NAPTHA_TUI_PROXY__PORT": str(proxy_port),
        "NAPTHA_TUI_PORT_BASE": str(port_base),
    }


def in_process(env: dict[str, str]) -> Node:
    """The product's Node, in this process, on the test's node."""
    saved = {k: os.environ.get(k) for k in env if k.startswith("NAPTHA_TUI_")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("NAPTHA_TUI_")})
    try:
        paths = Paths.from_env()
        return Node(paths, load_settings(paths))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def install_node(environ: dict[str, str]) -> None:
    """Runtimes and the embedded model (idempotent: seconds when already there)."""
    for step in (
        ("runtime", "install", "cpu"),
        ("runtime", "install", "proxy"),
        ("model", "prepare", "smollm2-135m"),
    ):
        done = run_cli(environ, *step, timeout=1800)
        assert done.returncode == 0, f"{step}: {done.stdout[-2000:]}{done.stderr[-2000:]}"


def master_key(env: dict[str, str]) -> str:
    return (Path(env["NAPTHA_TUI_STATE_DIR"]) / "proxy" / "master.key").read_text().strip()


SDK_RETRIES = 2  # openai-python's default max_retries


def post_as_sdk(
    http: httpx.Client, path: str, body: dict[str, Any], retried: list[str]
) -> httpx.Response:
    """POST the way the OpenAI SDK does: a transport error is retried, twice by default.

    openai-python (``_base_client.request``) retries any exception raised while sending,
    after 0.5 s then 1 s. Agents reach the node through it, so this is what they see when the
    proxy reloads: gunicorn's old workers close their idle keep-alive connections, and a
    request written onto one at that instant is reset. Each retry is recorded in ``retried``.
    """
    for attempt in range(SDK_RETRIES + 1):
        try:
            return http.post(path, json=body)
        except httpx.TransportError as exc:
            if attempt == SDK_RETRIES:
                raise
            retried.append(repr(exc)[:200])
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def proxy_client(env: dict[str, str], timeout: float = 120) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{env['NAPTHA_TUI_PROXY__PORT']}/v1",
        timeout=timeout,
        headers={"Authorization": f"Bearer {master_key(env)}"},
    )
