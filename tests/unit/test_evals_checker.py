"""Decoding OpenAI tool calls into the checker's form, scored by BFCL's own checker against
the shipped possible answers: right answers built from them pass; a changed value, a missing
required parameter, an extra call and a wrong name fail with the checker's own reason. Also:
the checker imports with the standard library alone, and the (ir)relevance rules."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

import pytest

from naptha_tui.backends.evals.cases import SUPPORTED, Case, kind_of
from naptha_tui.backends.evals.checker import STAND_IN
from naptha_tui.backends.evals.convert import to_tools
from naptha_tui.backends.evals.decode import decode
from tests.unit.evals_common import (
    UNANSWERABLE,
    cases,
    checker,
    installed,
    openai_calls,
    right_arguments,
    tool_call,
)

AST = [c for c in SUPPORTED if kind_of(c) == "ast"]


def sample(category: str, n: int = 25) -> list[Case]:
    """``n`` cases of ``category`` drawn with a fixed seed (the same ones every run)."""
    found = [c for c in cases(category) if c.id not in UNANSWERABLE]
    return random.Random(f"bfcl-{category}").sample(found, min(n, len(found)))


def check(case: Case, tool_calls: list[dict[str, Any]]) -> Any:
    return checker().check(case, decode(tool_calls, to_tools(case.functions).names))


@pytest.mark.parametrize("category", AST)
def test_a_right_answer_from_possible_answer_passes(category: str) -> None:
    for case in sample(category):
        calls = openai_calls(right_arguments(case))
        random.Random(case.id).shuffle(calls)  # parallel calls may come in any order
        verdict = check(case, calls)
        assert verdict.valid is True, (case.id, verdict.reason)
        assert verdict.reason == "" and verdict.errors == []


def test_the_unanswerable_cases_are_bfcls_own() -> None:
    """The five cases the right-answer builder skips fail whatever is sent: their possible
    answers contradict their function documents (a required parameter whose answers allow
    leaving it out, an answer for a parameter the function lacks)."""
    by_id = {c.id: c for cat in ("live_simple", "live_multiple") for c in cases(cat)}
    for case_id in UNANSWERABLE:
        case = by_id[case_id]
        verdict = check(case, openai_calls(right_arguments(case)))
        assert verdict.valid is False
        assert verdict.error_type in {
            "simple_function_checker:missing_required",
            "simple_function_checker:unexpected_param",
        }


def _first_param(case: Case) -> tuple[str, str, Any]:
    """The first call's name, and a parameter it sends with a plain value."""
    name, args = right_arguments(case)[0]
    for param, value in args.items():
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            return name, param, value
    pytest.skip(f"{case.id}: no plain parameter")


def _changed(value: Any) -> Any:
    if isinstance(value, str):
        return value + " and something else"
    return value + 1000


def _ast_case(category: str, predicate: Any) -> list[Case]:
    return [c for c in sample(category, 60) if predicate(c)][:8]


@pytest.mark.parametrize("category", ["simple_python", "multiple", "live_simple"])
def test_a_changed_value_fails_with_the_checkers_reason(category: str) -> None:
    def plain(case: Case) -> bool:
        _, args = right_arguments(case)[0]
        return any(isinstance(v, (int, str)) and not isinstance(v, bool) for v in args.values())

    for case in _ast_case(category, plain):
        name, param, value = _first_param(case)
        [(_, args)] = right_arguments(case)
        verdict = check(case, openai_calls([(name, {**args, param: _changed(value)})]))
        assert verdict.valid is False, case.id
        assert verdict.reason.startswith(f"Invalid value for parameter {param!r}: "), (
            case.id,
            verdict.reason,
        )
        assert verdict.error_type in {"value_error:string", "value_error:others"}


@pytest.mark.parametrize("category", ["simple_python", "multiple", "live_multiple"])
def test_a_missing_required_parameter_fails(category: str) -> None:
    def has_required(case: Case) -> bool:
        name, args = right_arguments(case)[0]
        doc = next(f for f in case.functions if f["name"] == name)
        return any(p in args for p in doc["parameters"]["required"])

    for case in _ast_case(category, has_required):
        [(name, args)] = right_arguments(case)
        doc = next(f for f in case.functions if f["name"] == name)
        param = next(p for p in doc["parameters"]["required"] if p in args)
        del args[param]
        verdict = check(case, openai_calls([(name, args)]))
        assert verdict.valid is False
        assert verdict.reason == f"Missing required parameter: {param!r}."
        assert verdict.error_type == "simple_function_checker:missing_required"


@pytest.mark.parametrize("category", ["simple_python", "multiple", "parallel", "live_simple"])
def test_an_extra_call_fails(category: str) -> None:
    for case in sample(category, 8):
        calls = right_arguments(case)
        verdict = check(case, openai_calls([*calls, calls[0]]))
        assert verdict.valid is False
        assert verdict.reason == "Wrong number of functions."
        assert verdict.error_type.endswith(":wrong_count")


@pytest.mark.parametrize("category", ["simple_python", "multiple", "live_simple"])
def test_a_wrong_name_fails(category: str) -> None:
    for case in sample(category, 8):
        [(name, args)] = right_arguments(case)
        verdict = check(case, [tool_call("not_" + name.replace(".", "_"), args)])
        assert verdict.valid is False
        assert verdict.reason == f"Function name {name!r} not found in model output."
        assert verdict.error_type == "simple_function_checker:wrong_func_name"


def test_a_parallel_case_names_each_unmatched_call() -> None:
    case = sample("parallel", 1)[0]
    calls = right_arguments(case)
    name, args = calls[-1]
    calls[-1] = (name, {**args, "unexpected": 1})
    verdict = check(case, openai_calls(calls))
    assert verdict.valid is False
    assert verdict.error_type == "parallel_function_checker_no_order:cannot_find_match"
    assert verdict.reason.startswith("Could not find a matching function among index")
    assert "Unexpected parameter: 'unexpected'." in verdict.reason
    json.dumps(verdict.errors)  # saved as is


def test_dotted_names_come_back_from_their_sent_form() -> None:
    case = next(c for c in cases("simple_python") if c.id == "simple_python_1")
    assert case.functions[0]["name"] == "math.factorial"
    calls = [tool_call("math_factorial", {"number": 5})]
    decoded = decode(calls, to_tools(case.functions).names)
    assert decoded.calls == [{"math.factorial": {"number": 5}}]
    assert checker().check(case, decoded).valid is True
    # a model that writes the dotted name itself (vLLM does not refuse it) passes too
    assert check(case, [tool_call("math.factorial", {"number": 5})]).valid is True


@pytest.mark.parametrize(
    ("calls", "error_type", "reason"),
    [
        ([], "ast_decoder:decoder_failed", "No tool call came back (the model answered"),
        (
            [tool_call("math_factorial", '{"number": 5')],
            "ast_decoder:decoder_failed",
            "The arguments of 'math_factorial' are not JSON: Expecting",
        ),
        (
            [tool_call("math_factorial", "[5]")],
            "ast_decoder:decoder_wrong_output_format",
            "are not a JSON object: [5]",
        ),
        ([{"type": "function", "function": {}}], "ast_decoder:decoder_failed", "no function"),
    ],
)
def test_what_does_not_decode_fails_as_bfcls_decoder_does(
    calls: list[dict[str, Any]], error_type: str, reason: str
) -> None:
    case = next(c for c in cases("simple_python") if c.id == "simple_python_1")
    verdict = check(case, calls)
    assert verdict.valid is False and verdict.error_type == error_type
    assert reason in verdict.reason


def test_irrelevance_passes_only_when_no_call_decodes() -> None:
    case = cases("irrelevance", 1)[0]
    name = case.functions[0]["name"].replace(".", "_")
    assert check(case, []).valid is True
    assert check(case, [tool_call(name, "not json")]).valid is True  # BFCL: nothing decoded
    verdict = check(case, [tool_call(name, {})])
    assert verdict.valid is False
    assert verdict.reason == "Valid syntax. Successfully decode AST when it should not."
    assert verdict.error_type == "irrelevance_error:decoder_success"


def test_live_relevance_passes_when_a_call_decodes() -> None:
    case = cases("live_relevance", 1)[0]
    name = case.functions[0]["name"].replace(".", "_")
    assert check(case, [tool_call(name, {})]).valid is True
    verdict = check(case, [])
    assert verdict.valid is False and verdict.error_type == "relevance_error:decoder_failed"
    assert verdict.reason.startswith("Invalid syntax. Failed to decode AST when it should have.")


def test_a_checker_that_raises_is_a_failed_verdict() -> None:
    case = next(c for c in cases("simple_python") if c.id == "simple_python_1")
    broken = Case(case.id, case.category, case.messages, case.functions, answers=[{}])
    verdict = check(broken, [tool_call("math_factorial", {"number": 5})])
    assert verdict.valid is False and verdict.error_type == "checker_error"
    assert verdict.reason.startswith("the checker raised ")


def test_the_checker_imports_with_the_standard_library_alone() -> None:
    """In a fresh interpreter: the checker comes from the install, model_config is the
    stand-in, and no provider SDK or declared dependency of bfcl-eval is loaded."""
    code = f"""
import json, sys
from pathlib import Path
from naptha_tui.backends.evals.checker import load_checker
before = set(sys.modules)
m = load_checker(Path({str(installed().location)!r}))
print(json.dumps({{"file": m.__file__, "stand_in": sys.modules[{STAND_IN!r}].__doc__,
                  "path": sys.path, "new": sorted(set(sys.modules) - before)}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["file"].startswith(str(installed().location))
    assert doc["file"].endswith("bfcl_eval/eval_checker/ast_eval/ast_checker.py")
    assert "stand-in" in doc["stand_in"]
    assert not any(str(installed().location) in p for p in doc["path"])  # not on sys.path
    bfcl = {m for m in doc["new"] if m == "bfcl_eval" or m.startswith("bfcl_eval.")}
    others = {m.split(".")[0] for m in doc["new"]} - {"bfcl_eval"}
    assert others <= set(sys.stdlib_module_names), others  # the standard library alone
    assert not any(m.startswith("bfcl_eval.model_handler") for m in bfcl)
    assert "bfcl_eval.eval_checker.ast_eval.ast_checker" in bfcl
