"""The playground form's text and a Spec, both ways (``backends/playground/form.py``)."""

from __future__ import annotations

import pytest

from naptha_tui.backends.playground.examples import EXAMPLES
from naptha_tui.backends.playground.fields import TRY
from naptha_tui.backends.playground.form import form_values, read_form
from naptha_tui.backends.playground.spec import Spec

RICH = Spec(
    model="smollm2-135m",
    system="be brief",
    prompt="weather in Paris?",
    conversation=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
    tools=EXAMPLES["weather"],
    modes=["tool:get_weather", "json_schema", "regex", "choice", "grammar"],
    schema={"type": "object"},
    regex=r"\d+",
    choice=["yes", "no"],
    grammar='root ::= "a"',
    strict=True,
    parallel_tool_calls=False,
    temperatures=[0.0, 0.7],
    samples=3,
    max_tokens=64,
    seed=7,
    stream=True,
    expect_tool="get_weather",
    extra_body={"top_k": 5},
)


@pytest.mark.parametrize("spec", [Spec(), RICH], ids=["defaults", "every-field"])
def test_a_spec_shown_in_the_form_reads_back_the_same(spec: Spec) -> None:
    values = form_values(spec)
    assert set(values) == {f.key for f in TRY.form}  # a field for each of the table's
    assert read_form(values, kept=spec) == (spec, [])


def test_what_the_form_has_no_field_for_is_kept_from_the_loaded_session() -> None:
    values = form_values(RICH)
    spec, problems = read_form(values, kept=Spec(expect_tool="x", extra_body={"n": 2}))
    assert problems == []
    assert spec.expect_tool == "x" and spec.extra_body == {"n": 2}


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("conversation", "[{", "not JSON: "),
        ("conversation", '{"role": "user"}', "must be a JSON list of messages"),
        ("schema", "{", "not JSON: "),
        ("temperatures", "0,warm", "'warm' is not a number"),
        ("samples", "", "'' is not a whole number"),
        ("max_tokens", "many", "'many' is not a whole number"),
        ("seed", "1.5", "'1.5' is not a whole number"),
        ("tools", '[{"name": "get_weather",', "not JSON: "),
    ],
)
def test_a_field_that_does_not_read_is_named_and_the_rest_read(
    key: str, text: str, expected: str
) -> None:
    values = form_values(RICH) | {key: text}
    spec, problems = read_form(values, kept=RICH)
    assert [p.field for p in problems] == [key], problems
    assert problems[0].message.startswith(expected), problems[0]
    assert spec.prompt == RICH.prompt and spec.model == RICH.model  # the others are read


def test_an_empty_seed_is_none_and_parallel_default_is_not_sent() -> None:
    values = form_values(RICH) | {"seed": "", "parallel_tool_calls": "default"}
    spec, problems = read_form(values, kept=RICH)
    assert problems == [] and spec.seed is None and spec.parallel_tool_calls is None
