"""A run's field table: the flags, the form's first values and the reader all follow it."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys

import pytest

from naptha_tui.backends.evals.config import EvalConfig
from naptha_tui.backends.evals.fields import EVAL
from naptha_tui.backends.evals.fields import read_form as read_eval
from naptha_tui.backends.loadgen.config import BenchConfig
from naptha_tui.backends.loadgen.fields import BENCH, build
from naptha_tui.backends.loadgen.fields import read_form as read_bench
from naptha_tui.backends.runs.fields import BadInput, Field, Fields, Problem, Reader, as_text
from naptha_tui.tui.cli_parts import add_fields


def test_a_problem_names_its_field_once() -> None:
    assert str(Problem("temperatures", "at least one")) == "temperatures: at least one"
    assert str(Problem("request_rate", "request rate must be above 0", named=True)) == (
        "request rate must be above 0"
    )
    assert str(Problem("", "the proxy does not answer")) == "the proxy does not answer"
    bad = BadInput([Problem("a", "x"), Problem("b", "b is wrong", named=True)])
    assert str(bad) == "a: x; b is wrong" and len(bad.problems) == 2


def test_values_read_as_the_form_shows_them() -> None:
    assert [as_text(v) for v in (None, math.inf, 0.5, 600.0, 3, (0.0, 0.7), "0")] == [
        "", "inf", "0.5", "600", "3", "0, 0.7", "0",
    ]  # fmt: skip


def test_a_core_message_names_the_fields_label() -> None:
    table = Fields(Field("rate", "rate", 1.0, flag="--request-rate", label="request rate"))
    assert table.problem("--request-rate must be above 0 (got 0)") == Problem(
        "rate", "request rate must be above 0 (got 0)", named=True
    )
    assert table.problem("--request-rates? no") == Problem("", "--request-rates? no")


def test_the_reader_names_every_problem_and_skips_the_core_on_a_bad_field() -> None:
    table = Fields(
        Field("n", "positive", 5, flag="--n", label="num"),
        Field("limit", "positive", None, flag="--limit"),
        Field("model", missing="choose one"),
    )
    r = Reader(table, {"n": "many", "limit": "", "model": " "})
    assert (r.get("n"), r.get("limit"), r.get("model")) == (5, None, "")
    r.check(["--n must be at least 1", "--limit: 0", "something else"])
    assert [str(p) for p in r.problems] == [
        "num: 'many' is not a whole number",
        "model: choose one",
        "limit: 0",
        "something else",
    ]
    with pytest.raises(BadInput):
        r.done(None)
    assert Reader(table, {"n": ""}).done(1) == 1  # nothing read, nothing wrong
    empty = Reader(table, {"n": ""})
    empty.get("n")
    assert [str(p) for p in empty.problems] == ["num: required (a whole number)"]


def parsed(table: Fields, *argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(exit_on_error=False)
    add_fields(p, table)
    return p.parse_args(list(argv))


def test_defaults_are_stated_once_the_flags_and_the_form_follow() -> None:
    args = parsed(BENCH)
    config, problems = build(lambda k: getattr(args, k), "m")
    assert problems == [] and config == BenchConfig("m")
    form = read_bench({"model": "m", "workload": "random"})
    assert form.config == config and form.sweep_runs is None
    assert read_eval({"model": "m"}) == EvalConfig("m")
    eval_args = parsed(EVAL, "--model", "m")
    assert {f.key: getattr(eval_args, f.key) for f in EVAL} == {
        f.key: getattr(EvalConfig("m"), f.key) for f in EVAL
    }


def test_the_form_and_the_flags_read_the_same_run() -> None:
    flags = parsed(BENCH, "--agents", "3", "--turns", "2", "--think-time", "exp:2",
                   "--request-rate", "4", "--goodput", "ttft:500", "--seed", "7")  # fmt: skip
    from_flags, _ = build(lambda k: getattr(flags, k), "m")
    form = read_bench(
        {"model": "m", "workload": "agents", "agents": "3", "turns": "2",
         "think_time": "exp:2", "request_rate": "4", "goodput": "ttft:500", "seed": "7"}
    )  # fmt: skip
    assert form.config == from_flags


def test_field_tables_stay_out_of_heavy_imports() -> None:
    """The command line builds its parser from the tables: they load the standard library."""
    code = (
        "import sys\n"
        "import naptha_tui.backends.loadgen.fields, naptha_tui.backends.evals.fields\n"
        "import naptha_tui.backends.playground.fields\n"
        "heavy = {'httpx', 'pydantic', 'textual', 'jsonschema', 'yaml'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_try_flags_come_from_the_playground_table_and_leave_the_session_alone() -> None:
    """Every field of ``TRY`` is a ``try`` flag; a flag left out is None, so ``--session``
    keeps what the saved session holds (only ``--concurrency``, how it sends, has a value)."""
    from naptha_tui.backends.playground.defaults import DEFAULT_CONCURRENCY
    from naptha_tui.backends.playground.fields import TRY
    from naptha_tui.tui.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["try"])
    assert {f.key for f in TRY} <= set(vars(args))
    unset = {f.key: getattr(args, f.key) for f in TRY if f.kind != "switch"}
    assert unset.pop("concurrency") == DEFAULT_CONCURRENCY
    assert set(unset.values()) == {None}, unset
    assert (args.strict, args.stream, args.parallel_tool_calls) == (False, False, None)
    given = parser.parse_args(
        ["try", "--mode", "plain", "--mode", "choice", "--no-parallel-tool-calls",
         "--samples", "3", "--example", "weather"]
    )  # fmt: skip
    assert given.mode == ["plain", "choice"] and given.parallel_tool_calls is False
    assert given.samples == 3 and given.example == "weather"
