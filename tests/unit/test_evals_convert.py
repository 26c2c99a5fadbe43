"""BFCL function documents as OpenAI tools: every shipped function of simple_python, multiple
and parallel converts (or is reported), each schema passes jsonschema's meta-schema check, and
the type map, BFCL's float note and name rules, and what does not convert."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from naptha_tui.backends.evals.cases import SUPPORTED
from naptha_tui.backends.evals.convert import (
    TYPE_MAP,
    ConversionError,
    sent_name,
    to_tool,
    to_tools,
)
from tests.unit.evals_common import cases


def _types(schema: dict[str, Any]) -> set[Any]:
    found = {json.dumps(schema.get("type"))}
    for sub in (schema.get("properties") or {}).values():
        found |= _types(sub)
    if isinstance(schema.get("items"), dict):
        found |= _types(schema["items"])
    return found


@pytest.mark.parametrize("category", ["simple_python", "multiple", "parallel"])
def test_every_shipped_function_converts_to_a_valid_json_schema(category: str) -> None:
    # jsonschema's meta-schema check (check_schema), with the validator built once
    kind = jsonschema.validators.validator_for({})
    assert kind is jsonschema.Draft202012Validator
    meta = kind(kind.META_SCHEMA)
    converted: dict[str, dict[str, Any]] = {}
    reported: list[ConversionError] = []
    functions = [f for case in cases(category) for f in case.functions]
    for f in functions:
        try:
            tool = to_tool(f)
        except ConversionError as exc:  # reported: names the function (and the parameter)
            assert exc.function == f["name"] and str(exc).startswith(f"function {f['name']!r}")
            reported.append(exc)
            continue
        assert tool["type"] == "function"
        fn = tool["function"]
        assert fn["name"] == sent_name(f["name"]) and "." not in fn["name"]
        converted[json.dumps(fn["parameters"], sort_keys=True)] = fn["parameters"]
    assert len(functions) >= {"simple_python": 400, "multiple": 500, "parallel": 200}[category]
    assert reported == []  # every shipped function of these three converts
    for schema in converted.values():
        assert jsonschema.validators.validator_for(schema) is kind
        assert list(meta.iter_errors(schema)) == [], schema
        assert schema["type"] == "object"
        # nothing of BFCL's dialect is left
        assert _types(schema) <= {json.dumps(t) for t in set(TYPE_MAP.values())}


def test_the_other_python_categories_convert_too() -> None:
    for category in SUPPORTED:
        if category in ("simple_python", "multiple", "parallel"):
            continue
        for case in cases(category):
            to_tools(case.functions)  # raises on the first that does not convert


BFCL_FUNCTION: dict[str, Any] = {
    "name": "finance.loan_payment",
    "description": "Monthly payment of a loan.",
    "parameters": {
        "type": "dict",
        "properties": {
            "principal": {"type": "float", "description": "Amount borrowed."},
            "years": {"type": "integer", "description": "Term.", "optional": True},
            "rates": {"type": "tuple", "items": {"type": "float"}, "description": "By year."},
            "note": {"description": "No type given."},
            "anything": {"type": "any", "description": "Whatever."},
            "options": {
                "type": "dict",
                "description": "More.",
                "properties": {"fees": {"type": "boolean", "description": "Add fees."}},
                "required": ["fees"],
            },
            "payments": {
                "type": "array",
                "description": "Past ones.",
                "items": {
                    "type": "dict",
                    "properties": {"amount": {"type": "float", "description": "Paid."}},
                },
            },
        },
        "required": ["principal"],
        "optional": ["years"],
    },
}


def test_bfcl_types_become_json_schema_as_bfcl_sends_them() -> None:
    tool = to_tool(BFCL_FUNCTION)
    assert tool["function"]["name"] == "finance_loan_payment"
    params = tool["function"]["parameters"]
    assert params["type"] == "object" and params["required"] == ["principal"]
    assert "optional" not in params
    props = params["properties"]
    # BFCL's convert_to_tool: a float is a number, with a format and a note
    assert props["principal"] == {
        "type": "number",
        "format": "float",
        "description": "Amount borrowed. This is a float type value.",
    }
    assert props["years"] == {"type": "integer", "description": "Term."}  # "optional" dropped
    assert props["rates"] == {
        "type": "array",
        "items": {"type": "number"},
        "description": "By year.",
    }
    assert props["note"]["type"] == "string"  # BFCL: no type is a string
    assert props["anything"]["type"] == "string"
    assert props["options"]["type"] == "object"
    assert props["options"]["properties"]["fees"]["type"] == "boolean"
    assert props["payments"]["items"]["type"] == "object"
    assert props["payments"]["items"]["properties"]["amount"]["type"] == "number"
    assert BFCL_FUNCTION["parameters"]["type"] == "dict"  # the document is not changed
    jsonschema.validators.validator_for(params).check_schema(params)


def test_names_come_back_through_the_names_map() -> None:
    tools = to_tools([BFCL_FUNCTION, {**BFCL_FUNCTION, "name": "plain_name"}])
    assert tools.names == {
        "finance_loan_payment": "finance.loan_payment",
        "plain_name": "plain_name",
    }


@pytest.mark.parametrize(
    ("change", "parameter", "message"),
    [
        ({"type": "complex128"}, "principal", "type 'complex128' has no JSON Schema equivalent"),
        ({"type": 3}, "principal", "type 3 is not a type name"),
        ("not a schema", "principal", "its schema is not an object"),
        ({"type": "array", "items": {"type": "matrix"}}, "principal[]", "type 'matrix'"),
        (
            {"type": "dict", "properties": {"inner": {"type": "vector"}}},
            "principal.inner",
            "type 'vector'",
        ),
        ({"type": "integer", "minimum": "zero"}, None, "not valid JSON Schema"),
    ],
)
def test_a_function_that_does_not_convert_names_function_and_parameter(
    change: Any, parameter: str | None, message: str
) -> None:
    doc = json.loads(json.dumps(BFCL_FUNCTION))
    doc["parameters"]["properties"]["principal"] = change
    with pytest.raises(ConversionError) as caught:
        to_tool(doc)
    err = caught.value
    assert (err.function, err.parameter) == ("finance.loan_payment", parameter)
    assert message in str(err) and str(err).startswith("function 'finance.loan_payment'")
    assert err.to_json()["function"] == "finance.loan_payment"


def test_names_openai_cannot_take_and_clashing_names_are_reported() -> None:
    with pytest.raises(ConversionError, match=r"'a b' cannot be an OpenAI tool name"):
        to_tool({**BFCL_FUNCTION, "name": "a b"})
    with pytest.raises(ConversionError, match="no 'name'"):
        to_tool({"description": "nameless"})
    with pytest.raises(ConversionError, match=r"function 'a_b': sent as 'a_b'"):
        to_tools([{**BFCL_FUNCTION, "name": "a.b"}, {**BFCL_FUNCTION, "name": "a_b"}])


def test_each_call_gets_its_own_copy() -> None:
    first = to_tool(BFCL_FUNCTION)
    first["function"]["parameters"]["properties"].clear()
    assert to_tool(BFCL_FUNCTION)["function"]["parameters"]["properties"]
