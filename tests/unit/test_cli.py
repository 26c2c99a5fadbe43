"""The CLI: bad input gets a clear message naming the culprit, exit 2, nothing started; each
command has its own help and flags; data comes as JSON on request; no headless command loads
Textual."""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import load_settings
from naptha_tui.backends.state import StateFile
from naptha_tui.proxy.process import ProxyManager
from naptha_tui.tui.cli import Lazy, build_parser, main
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


# -- the parser: each command's own help and flags, usage errors ----------------------------
def subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subcommands(sub, (*path, name))


HELP_FLAGS: dict[tuple[str, ...], set[str]] = {
    (): {"--up"},
    ("up",): {"--json"},
    ("down",): {"--json"},
    ("status",): {"--json"},
    ("logs",): {"--follow", "--lines"},
    ("presets",): set(),
    ("presets", "list"): {"--json"},
    ("presets", "show"): {"--json"},
    ("presets", "check"): {"--runtime", "--static", "--json"},
    ("runtime",): set(),
    ("runtime", "install"): {"--force"},
    ("runtime", "status"): {"--json"},
    ("model",): set(),
    ("model", "prepare"): {"--runtime"},
    ("model", "list"): {"--json"},
    ("proxy",): set(),
    ("proxy", "render"): set(),
    ("routes",): {"--follow", "--lines", "--json"},
}
LONG_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def usage_exit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int | str | None, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


def test_every_command_has_a_help_case() -> None:
    assert {path for path, _ in subcommands(build_parser())} | {()} == set(HELP_FLAGS)


def test_every_command_body_can_be_loaded() -> None:
    leaves = 0
    for path, sub in subcommands(build_parser()):
        func = sub.get_default("func")
        if func is None:  # a group: one of its actions runs
            continue
        assert isinstance(func, Lazy), path
        assert callable(func.load()), f"{' '.join(path)}: {func} does not load"
        leaves += 1
    assert leaves == 13


@pytest.mark.parametrize("argv", sorted(HELP_FLAGS), ids=lambda a: " ".join(a) or "top")
def test_help_shows_the_commands_own_flags_only(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, text = usage_exit(capsys, *argv, "--help")
    assert code == 0, text
    assert text.startswith(f"usage: {' '.join(('naptha-tui', *argv))} ")
    assert set(LONG_FLAG.findall(text)) == HELP_FLAGS[argv] | {"--help"}, text


def test_top_level_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    _, text = usage_exit(capsys, "--help")
    for command in ("up", "down", "status", "logs", "presets", "runtime", "model", "proxy"):
        assert re.search(rf"^\s+{command}\s+\S", text, re.MULTILINE), command
    assert re.search(r"^\s+routes\s+\S", text, re.MULTILINE)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("presets", "show"), "naptha-tui presets show: error: the following arguments are "
         "required: NAME"),
        (("runtime", "install"), "naptha-tui runtime install: error: the following arguments "
         "are required: NAME"),
        (("model", "prepare"), "naptha-tui model prepare: error: the following arguments are "
         "required: NAME"),
        (("logs",), "naptha-tui logs: error: the following arguments are required: NAME"),
        (("up",), "naptha-tui up: error: the following arguments are required: PRESET"),
        (("presets",), "naptha-tui presets: error: the following arguments are required: "
         "{list,show,check}"),
        (("runtime",), "naptha-tui runtime: error: the following arguments are required: "
         "{install,status}"),
        (("model",), "the following arguments are required: {prepare,list}"),
        (("proxy",), "the following arguments are required: {render}"),
        (("runtime", "install", "gpu"), "argument NAME: invalid choice: 'gpu' (choose from "
         "'cpu', 'cuda', 'proxy')"),
        (("model", "prepare", "llama"), "invalid choice: 'llama' (choose from 'smollm2-135m')"),
        (("runtime", "install", "cpu", "--json"), "unrecognized arguments: --json"),
        (("presets", "list", "--static"), "unrecognized arguments: --static"),
        (("status", "--up", "x"), "unrecognized arguments: --up x"),
        (("routes", "-n", "many"), "argument -n/--lines: invalid int value: 'many'"),
    ],
)  # fmt: skip
def test_usage_errors_name_the_argument(
    capsys: pytest.CaptureFixture[str], paths: Paths, argv: tuple[str, ...], message: str
) -> None:
    code, text = usage_exit(capsys, *argv)
    assert code == 2 and message in text, text
    assert "Traceback" not in text
    assert_nothing_started(paths)


# -- JSON on every command whose output is data ---------------------------------------------
def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_presets_list_json(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    mine = write_preset(paths.user_presets_dir, "mine", "model: a/b\nruntime: cpu\n")
    broken = write_preset(paths.user_presets_dir, "broken", "model: a/b\nenv: [unclosed\n")
    code, out, _ = run_main(capsys, "presets", "list", "--json")
    assert code == 1  # as without --json: a preset did not load
    doc = json.loads(out)
    assert set(doc) == {"presets", "invalid"}
    by_name = {p["name"]: p for p in doc["presets"]}
    assert by_name["mine"] == {
        "name": "mine",
        "kind": "vllm",
        "runtime": "cpu",
        "model": "a/b",
        "description": "",
        "file": str(mine),
    }
    assert by_name["smollm2-cpu"]["model"] == "smollm2-135m"
    [invalid] = doc["invalid"]
    assert invalid["file"] == str(broken) and "invalid YAML" in invalid["error"]


def test_model_list_json(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    code, out, _ = run_main(capsys, "model", "list", "--json")
    assert code == 0
    [model] = json.loads(out)
    assert set(model) == {"name", "prepared", "description"}
    assert (model["name"], model["prepared"]) == ("smollm2-135m", False)
    fake_prepared(paths)
    assert json.loads(run_main(capsys, "model", "list", "--json")[1])[0]["prepared"] is True


def test_runtime_status_json_in_process(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    ready_managed_runtime(paths, "cpu")
    code, out, _ = run_main(capsys, "runtime", "status", "--json")
    assert code == 0
    doc = json.loads(out)
    assert {tuple(sorted(r)) for r in doc} == {
        ("detail", "kind", "location", "name", "ready", "version")
    }
    assert {r["name"]: r["ready"] for r in doc} == {"cpu": True, "cuda": False, "proxy": False}
    assert doc[0]["location"] == str(paths.runtimes_dir / "cpu")


def test_presets_show_accepts_json(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    plain = run_main(capsys, "presets", "show", "smollm2-cpu")
    assert plain == run_main(capsys, "presets", "show", "smollm2-cpu", "--json")
    assert json.loads(plain[1])["name"] == "smollm2-cpu"


def test_down_json_on_an_empty_node(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    code, out, _ = run_main(capsys, "down", "--json")
    assert code == 0 and json.loads(out) == {"stopped": []}
    assert run_main(capsys, "down")[1] == "nothing was running\n"


def test_status_prints_the_nodes_warnings_to_stderr(
    capsys: pytest.CaptureFixture[str], paths: Paths
) -> None:
    paths.state_file.parent.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text("{not json")
    code, out, err = run_main(capsys, "status")
    assert code == 0
    [warning] = err.splitlines()
    assert warning.startswith(f"naptha-tui: warning: state file {paths.state_file} was unreadable")
    assert out.startswith("no servers\n")
    paths.state_file.write_text("{not json")
    code, out, err = run_main(capsys, "status", "--json")
    [carried] = json.loads(out)["warnings"]
    assert code == 0 and err == ""  # the document carries them
    assert carried.startswith(f"state file {paths.state_file} was unreadable")


def test_routes_table_and_json(capsys: pytest.CaptureFixture[str], paths: Paths) -> None:
    feed = ProxyManager(paths, load_settings(paths)).feed_file
    feed.parent.mkdir(parents=True, exist_ok=True)
    t = 1795533902.2544
    end = {
        "kind": "end", "t": t, "call_id": "c1", "model_group": "m", "deployment": "a",
        "api_base": "http://127.0.0.1:18901/v1", "status": "failure", "latency_ms": 31.7,
        "ttft_ms": None, "tokens_in": None, "tokens_out": None, "retries": 2, "stream": False,
        "error": "litellm.Timeout: Timeout: read timed out\nmore detail",
    }  # fmt: skip
    # aged against the clock: a start older than IN_FLIGHT_MAX_AGE_S is no longer in flight
    start = {
        "kind": "start",
        "t": time.time(),
        "call_id": "c2",
        "deployment": "b",
        "model_group": "m",
    }
    feed.write_text(f"{json.dumps(start)}\n{json.dumps(end)}\nnot json\n")
    code, out, err = run_main(capsys, "routes")
    assert code == 0 and err == f"skipped 1 malformed feed line(s) in {feed}\n"
    recent, deployments = out.split("\n\n")
    header, row = recent.splitlines()
    assert header.split() == ["TIME", "MODEL", "GROUP", "DEPLOYMENT", "STATUS", "MS", "TTFT",
                              "MS", "IN/OUT", "RETRIES", "ERROR"]  # fmt: skip
    assert row.split()[1:] == ["m", "a", "failure", "32", "-", "-/-", "2", "Timeout:", "read",
                               "timed", "out"]  # fmt: skip
    assert deployments.splitlines()[1:] == [
        "b           -            0     0       1          -       -",  # only a start so far
        "a           m            1     1       0          -       -",
    ]
    code, out, _ = run_main(capsys, "routes", "--json")
    [event] = [json.loads(line) for line in out.splitlines()]
    assert list(event) == ["kind", "t", "model_group", "deployment", "api_base", "status",
                           "latency_ms", "ttft_ms", "tokens_in", "tokens_out", "retries",
                           "stream", "error", "call_id"]  # fmt: skip
    assert (event["kind"], event["call_id"], event["retries"]) == ("end", "c1", 2)


# -- import hygiene: no headless command loads Textual --------------------------------------
HEADLESS = [
    ["presets", "list", "--json"],
    ["presets", "show", "smollm2-cpu"],
    ["presets", "check", "smollm2-cpu", "--static", "--json"],
    ["model", "list", "--json"],
    ["runtime", "status", "--json"],
    ["status", "--json"],
    ["down", "--json"],
    ["routes", "--json"],
    ["proxy", "render"],
]


def test_headless_commands_never_import_textual(paths: Paths) -> None:
    code = f"""
import contextlib, io, json, sys
from naptha_tui.tui.cli import main

def ui():
    return sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))

loaded = {{"import naptha_tui.tui.cli": ui()}}
for argv in {HEADLESS!r}:
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    assert code == 0, (argv, code)
    loaded[" ".join(argv)] = ui()
print(json.dumps(loaded))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert len(loaded) == len(HEADLESS) + 1
    culprit = next((command for command, ui in loaded.items() if ui), None)
    assert culprit is None, f"`{culprit}` loaded {loaded[culprit][:5]}"
