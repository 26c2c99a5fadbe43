"""The CLI's shape: each command's own help and flags, usage errors, JSON, import hygiene."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import load_settings
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.tui.cli import Lazy, build_parser, main
from tests.conftest import write_preset
from tests.unit.test_cli import assert_nothing_started
from tests.unit.test_vllm_args import fake_prepared, ready_managed_runtime


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
    ("status",): {"--window", "--json"},
    ("swap",): {"--timeout", "--json"},
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
    ("doctor",): {"--json"},
    ("history",): {"--lines", "--json"},
    ("ollama",): set(),
    ("ollama", "list"): {"--json"},
    ("ollama", "ps"): {"--json"},
    ("ollama", "pull"): {"--json"},
    ("ollama", "load"): {"--keep-alive", "--json"},
    ("ollama", "unload"): {"--json"},
    ("ollama", "status"): {"--json"},
    ("try",): {
        "--model", "--prompt", "--system", "--conversation", "--tools", "--example", "--mode",
        "--schema", "--regex", "--choice", "--grammar", "--strict", "--parallel-tool-calls",
        "--no-parallel-tool-calls", "--temperatures", "--samples", "--max-tokens", "--seed",
        "--stream", "--extra-body", "--expect-tool", "--concurrency", "--session", "--save",
        "--list-sessions", "--curl", "--promptfoo", "--explain", "--json",
    },
    ("bench",): {
        "--workload", "--server", "--model", "--endpoint", "--num-prompts", "--random-input-len",
        "--random-output-len", "--random-range-ratio", "--agents", "--turns", "--think-time",
        "--tool-probability", "--request-rate", "--burstiness", "--max-concurrency",
        "--ramp-up-strategy", "--ramp-up-start-rps", "--ramp-up-end-rps", "--seed",
        "--temperature", "--ignore-eos", "--goodput", "--metric-percentiles", "--sweep",
        "--max-duration", "--connections", "--timeout", "--label", "--no-save", "--json",
    },
    ("bench", "list"): {"--json"},
    ("bench", "compare"): {"--json"},
    ("bench", "show"): {"--json"},
    ("eval",): {
        "--model", "--categories", "--limit", "--temperatures", "--guided", "--seed",
        "--max-tokens", "--concurrency", "--label", "--no-save", "--json",
    },
    ("eval", "setup"): {"--force", "--json"},
    ("eval", "list"): {"--json"},
    ("eval", "compare"): {"--json"},
    ("eval", "show"): {"--failed", "--json"},
}  # fmt: skip
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
    assert leaves == 32  # 31 and history (issue 20 item 5)


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
    assert re.search(r"^\s+try\s+\S", text, re.MULTILINE)


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
        (("status", "--window", "-1"), "argument --window: -1 is negative"),
        (("swap", "a"), "naptha-tui swap: error: the following arguments are required: PRESET"),
        (("swap", "a", "b", "--timeout", "soon"), "argument --timeout: 'soon' is not a number "
         "of seconds"),
        (("routes", "-n", "many"), "argument -n/--lines: invalid int value: 'many'"),
        (("try", "--samples", "many"), "argument --samples: invalid int value: 'many'"),
        (("try", "--example", "nope"), "argument --example: invalid choice: 'nope' (choose "
         "from 'assistant-10', 'assistant-4', 'weather')"),
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
    ["try", "--list-sessions", "--json"],
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
