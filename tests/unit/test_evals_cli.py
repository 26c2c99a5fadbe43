"""``naptha-tui eval`` against a fake proxy on the node's port: the run, its saved result,
``eval list``, ``eval show --failed``, ``eval compare``, ``eval setup``; bad input (an unknown
category, a model the proxy does not serve, ``eval`` before ``eval setup``, bad flags) named
with nothing sent; and no eval command loads Textual."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

import pytest

from naptha_tui.backends.evals import setup as evals_setup
from naptha_tui.backends.evals.results import evals_state_dir
from naptha_tui.backends.paths import Paths
from naptha_tui.tui.cli import main
from naptha_tui.tui.cli_eval import DEFAULT_CATEGORIES
from tests.fakes.fake_proxy import FakeProxy
from tests.unit.evals_common import Oracle, cases, node_proxy

__all__ = ["node_proxy"]  # the fixture


def run_eval(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["eval", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def usage(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int | str | None, str]:
    with pytest.raises(SystemExit) as exited:
        main(["eval", *argv])
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


def test_the_default_categories_are_the_backends() -> None:
    from naptha_tui.backends.evals.cases import DEFAULT_CATEGORIES as BACKEND

    assert tuple(DEFAULT_CATEGORIES.split(",")) == BACKEND


def test_eval_runs_saves_lists_shows_and_compares(
    capsys: pytest.CaptureFixture[str], node_proxy: FakeProxy, paths: Paths
) -> None:
    cats = ("simple_python", "parallel", "irrelevance")
    node_proxy.reply = Oracle([c for cat in cats for c in cases(cat, 2)], {"simple_python_1"})
    argv = ("--model", "m", "--categories", ",".join(cats), "--limit", "2")
    code, out, err = run_eval(capsys, *argv, "--guided", "--json", "--label", "first")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["done"] == doc["planned"] == 2 * 2 + 2 * 2 + 2 == len(node_proxy.chat)
    assert "progress" not in out and "done:" in err  # progress on stderr
    name = doc["name"]
    saved = evals_state_dir(paths) / f"{name}.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["records"] == doc["records"]
    assert name.endswith("-first")

    # the table: per category and temperature, unguided and guided, then totals
    code, out, err = run_eval(capsys, *argv, "--temperatures", "0,0.5")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("m (preset -, parser -), t=0,0.5, first 2 per category via ")
    header = lines[2].split()
    assert header == ["CATEGORY", "T", "UNGUIDED", "SKIPPED", "ERRORS"]
    assert lines[3].split() == ["simple_python", "0", "50.0%", "(1/2)", "0", "0"]
    assert any(line.startswith("all (pooled)") for line in lines)
    second = lines[-1].split()[2]
    assert lines[-1] == f"saved as {second} (eval show {second} --failed)"

    code, out, _ = run_eval(capsys, "list", "--json")
    runs = json.loads(out)
    assert [r["name"] for r in runs] == [name, second]
    assert runs[0]["accuracy"] == {"t=0": 0.8333, "t=0 guided": 0.75}
    code, out, _ = run_eval(capsys, "list")
    assert out.splitlines()[0].split() == ["RUN", "MODEL", "PRESET", "CATEGORIES", "DONE",
                                           "ACCURACY"]  # fmt: skip

    code, out, _ = run_eval(capsys, "show", name, "--failed")
    assert code == 0
    assert "2 failed sample(s)" in out  # simple_python_1, unguided and guided
    block = out[out.index("FAIL simple_python_1 (simple_python, t=0, unguided)") :]
    assert "  user: Calculate the factorial of 5 using math functions." in block
    assert '  expected: [{"math.factorial": {"number": [5]}}]' in block
    assert '  tool_calls: math_factorial({"number": 5, "__changed__": 1})' in block
    assert '  decoded: [{"math.factorial": {"number": 5, "__changed__": 1}}]' in block
    assert "  raw (logprobs tokens): " in block
    assert "  reason: Unexpected parameter: '__changed__'." in block
    code, out, _ = run_eval(capsys, "show", name, "--failed", "--json")
    failed = json.loads(out)["failed"]
    assert {(r["case_id"], r["guided"]) for r in failed} == {
        ("simple_python_1", False),
        ("simple_python_1", True),
    }

    code, out, _ = run_eval(capsys, "compare", name, second, "--json")
    rows = {(r["category"], r["temperature"], r["guided"]): r for r in json.loads(out)["rows"]}
    assert rows[("simple_python", 0.0, False)] | {} == {
        "category": "simple_python", "temperature": 0.0, "guided": False, "a": 0.5, "b": 0.5,
        "diff": 0.0, "a_scored": 2, "b_scored": 2, "fixed": 0, "broken": 0,
    }  # fmt: skip
    assert rows[("simple_python", 0.0, True)]["b"] is None  # B ran no guided pass
    assert rows[("parallel", 0.5, False)]["a"] is None
    code, out, _ = run_eval(capsys, "compare", name, second)
    assert out.splitlines()[0].split()[:5] == ["CATEGORY", "T", "PASS", "A", "B"]
    assert f"A: {name}: m (preset -" in out and f"B: {second}: m" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--categories", "simple_python,simple_pyhton"), "unknown category 'simple_pyhton'"),
        (("--categories", "multi_turn_base"), "category 'multi_turn_base' is not supported"),
        (("--model", "nope"), "model 'nope' is not served by the proxy (it serves: m)"),
        ((), "--model: required"),
    ],
)
def test_bad_input_is_named_and_nothing_is_sent(
    capsys: pytest.CaptureFixture[str],
    node_proxy: FakeProxy,
    argv: tuple[str, ...],
    message: str,
) -> None:
    if "--model" not in argv and argv:
        argv = ("--model", "m", *argv)
    code, out, err = run_eval(capsys, *argv, "--limit", "1")
    assert code == 2 and out == ""
    assert err.startswith("naptha-tui: error: ") and message in err, err
    assert "Traceback" not in err
    assert node_proxy.chat == []


def test_eval_before_eval_setup_says_what_to_run(
    capsys: pytest.CaptureFixture[str], node_proxy: FakeProxy, paths: Paths,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NAPTHA_TUI_DATA_DIR", str(paths.data_dir))  # a data dir without it
    code, out, err = run_eval(capsys, "--model", "m")
    assert code == 2 and out == ""
    assert "bfcl-eval 2026.3.23 is not set up in " in err
    assert "run `naptha-tui eval setup` first" in err
    assert node_proxy.seen == []  # not even the model list was asked for
    _, out, _ = run_eval(capsys, "list")
    assert out == "no saved eval runs (first: `naptha-tui eval setup`)\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--temperatures", "0,x"), "argument --temperatures: 'x' is not a number"),
        (("--temperatures", "3"), "argument --temperatures: 3 is out of range [0, 2]"),
        (("--limit", "0"), "argument --limit: 0: must be at least 1"),
        (("--seed", "-2"), "argument --seed: -2: must be 0 or more"),
        (("--categories", ","), "argument --categories: at least one category"),
        (("compare", "a"), "the following arguments are required: B"),
        (("show",), "the following arguments are required: RUN"),
        (("setup", "--failed"), "unrecognized arguments: --failed"),
    ],
)
def test_usage_errors_name_the_flag(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, text = usage(capsys, *argv)
    assert code == 2 and message in text, text


def test_show_and_compare_name_a_missing_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_eval(capsys, "show", "20261201-000000-nope")
    assert code == 2 and "no eval run '20261201-000000-nope' (latest: none yet" in err
    code, _, err = run_eval(capsys, "compare", "a", "../b")
    assert code == 2 and "eval run 'a'" in err


def test_setup_is_idempotent(
    capsys: pytest.CaptureFixture[str], node_proxy: FakeProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pip(*a: object, **k: object) -> str:
        raise AssertionError("pip ran for a ready install")

    monkeypatch.setattr(evals_setup, "run_logged", no_pip)
    code, out, _ = run_eval(capsys, "setup")
    assert code == 0 and out.startswith("bfcl-eval 2026.3.23 is ready at ")
    code, out, _ = run_eval(capsys, "setup", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ready"] is True and doc["version"] == "2026.3.23"


def test_no_eval_command_loads_textual(node_proxy: FakeProxy, paths: Paths) -> None:
    code = """
import contextlib, io, json, sys
from naptha_tui.tui.cli import main
for argv in (["eval", "list", "--json"], ["eval", "setup", "--json"],
             ["eval", "--model", "m", "--categories", "multiple", "--limit", "1", "--no-save"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(argv) == 0, argv
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "textual")))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    assert len(node_proxy.chat) == 1
