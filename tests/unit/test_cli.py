"""The CLI on bad input: a clear message naming the culprit, exit 2, nothing started.

Its shape (help, usage errors, JSON, import hygiene) is in test_cli_shape.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.state import StateFile
from tests.conftest import FAKE_VLLM, write_preset
from tests.unit.test_vllm_args import fake_prepared, ready_managed_runtime


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "naptha_tui.tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def assert_nothing_started(paths: Paths) -> None:
    state = StateFile(paths.state_file).load()
    assert state.servers == {} and state.proxy is None
    assert not (paths.log_dir.exists() and any(paths.log_dir.iterdir()))


def with_fake_runtime(paths: Paths) -> None:
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(f"runtimes:\n  fake:\n    executable: {FAKE_VLLM}\n")


def test_unknown_preset_key(paths: Paths) -> None:
    path = write_preset(
        paths.user_presets_dir, "typo", "model: a/b\nruntime: cpu\ngpu_mem_util: 0.9\n"
    )
    done = cli("up", "typo")
    assert done.returncode == 2
    assert f"{path}:3: gpu_mem_util: unknown key" in done.stderr
    assert_nothing_started(paths)


def test_invalid_yaml(paths: Paths) -> None:
    path = write_preset(paths.user_presets_dir, "broken", "model: a/b\nenv: [unclosed\n")
    done = cli("up", "broken")
    assert done.returncode == 2
    assert f"{path}:" in done.stderr and "invalid YAML" in done.stderr
    assert_nothing_started(paths)


def test_port_already_in_use(paths: Paths) -> None:
    with_fake_runtime(paths)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        write_preset(paths.user_presets_dir, "pinned", f"model: a/b\nruntime: fake\nport: {port}\n")
        done = cli("up", "pinned")
    assert done.returncode == 2
    assert f"port {port} on 127.0.0.1 (preset pinned, key port) is already in use" in done.stderr
    assert_nothing_started(paths)


def test_runtime_not_installed(paths: Paths) -> None:
    done = cli("up", "smollm2-cpu")
    assert done.returncode == 2
    assert "runtime 'cpu' is not installed: run `naptha-tui runtime install cpu`" in done.stderr
    assert_nothing_started(paths)


def test_model_not_prepared(paths: Paths) -> None:
    ready_managed_runtime(paths, "cpu")
    done = cli("up", "smollm2-cpu")
    assert done.returncode == 2
    assert (
        "smollm2-cpu.yaml: model: model 'smollm2-135m' is not prepared: "
        "run `naptha-tui model prepare smollm2-135m`" in done.stderr
    )
    assert_nothing_started(paths)


def test_model_path_missing(paths: Paths) -> None:
    with_fake_runtime(paths)
    path = write_preset(paths.user_presets_dir, "local", "model: /no/such/model\nruntime: fake\n")
    done = cli("up", "local")
    assert done.returncode == 2
    assert f"{path}: model: model path /no/such/model does not exist" in done.stderr
    assert_nothing_started(paths)


def test_proxy_runtime_missing_starts_no_server(paths: Paths) -> None:
    # everything about the servers is fine, but the proxy cannot run: nothing may start
    ready_managed_runtime(paths, "cpu")
    fake_prepared(paths)
    done = cli("up", "smollm2-cpu")
    assert done.returncode == 2
    assert "runtime 'proxy' is not installed" in done.stderr
    assert_nothing_started(paths)


def test_unknown_preset_and_bad_settings(paths: Paths) -> None:
    done = cli("up", "nope")
    assert done.returncode == 2 and "unknown preset 'nope' (known: " in done.stderr
    paths.config_dir.mkdir(parents=True)
    paths.config_file.write_text("proxy:\n  port: 4000\n  hots: 0.0.0.0\n")
    done = cli("status")
    assert done.returncode == 2
    assert f"{paths.config_file}:3: proxy.hots: unknown key" in done.stderr


def test_presets_check_and_show(paths: Paths, tmp_path: Path) -> None:
    good = write_preset(tmp_path, "good", "model: a/b\nruntime: cpu\n")
    done = cli("presets", "check", str(good))
    assert done.returncode == 0 and "ok (preset good, model a/b, runtime cpu)" in done.stdout
    bad = write_preset(tmp_path, "bad", "model: a/b\nmax_num_seqs: many\n")
    done = cli("presets", "check", str(bad))
    assert done.returncode == 2 and f"{bad}:2: max_num_seqs:" in done.stderr
    shown = json.loads(cli("presets", "show", "smollm2-cpu").stdout)
    assert shown["runtime"] == "cpu" and shown["tool_call_parser"] == "naptha_hermes"


def test_status_json_on_an_empty_node(paths: Paths) -> None:
    done = cli("status", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["servers"] == []
    assert doc["proxy"]["status"] == "stopped" and doc["proxy"]["url"] == "http://127.0.0.1:4000"
    assert doc["proxy"]["key_file"] == str(paths.state_dir / "proxy" / "master.key")


@pytest.mark.parametrize("args", [("runtime", "status", "--json")])
def test_runtime_status_json(paths: Paths, args: tuple[str, ...]) -> None:
    doc = json.loads(cli(*args).stdout)
    assert {r["name"]: r["ready"] for r in doc} == {"cpu": False, "cuda": False, "proxy": False}


def test_logs_of_unknown_server(paths: Paths) -> None:
    done = cli("logs", "ghost")
    assert done.returncode == 2 and "no log for 'ghost'" in done.stderr
