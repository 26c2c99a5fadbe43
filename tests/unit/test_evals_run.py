"""The evaluation runner over real HTTP (a fake proxy on 127.0.0.1 that answers each case):
cases x temperatures x guided, the requests it sends, accuracy, progress, cancel, and bad
input (an unknown category, a model the proxy does not serve, functions that do not convert)
refused or skipped with nothing sent for them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from naptha_tui.backends.evals import plan as plan_module
from naptha_tui.backends.evals.cases import Case, CategoryError
from naptha_tui.backends.evals.config import EvalConfig, EvalInputError
from naptha_tui.backends.evals.records import Progress, Record
from naptha_tui.backends.evals.run import EvalRun
from tests.fakes.fake_proxy import FakeProxy, Reply
from tests.unit.evals_common import Oracle, cases, installed, target

CATEGORIES = ("simple_python", "multiple", "parallel", "irrelevance")


@pytest.fixture
def fake() -> Iterator[FakeProxy]:
    with FakeProxy(models=["m", "other"]) as f:
        yield f


def oracle(
    fake: FakeProxy, *categories: str, limit: int = 3, wrong: set[str] | None = None
) -> Oracle:
    o = Oracle([c for cat in categories for c in cases(cat, limit)], wrong)
    fake.reply = o
    return o


async def evaluate(fake: FakeProxy, **config: Any) -> tuple[dict[str, Any], list[Progress]]:
    seen: list[Progress] = []
    async with EvalRun(EvalConfig(model="m", **config), target(fake), installed()) as run:
        await run.prepare()
        doc = await run.run(seen.append)
    return doc, seen


async def test_every_case_at_every_temperature_unguided_and_guided(fake: FakeProxy) -> None:
    o = oracle(fake, *CATEGORIES)
    doc, seen = await evaluate(
        fake, categories=CATEGORIES, limit=3, temperatures=(0.0, 0.7), guided=True, seed=7
    )
    # 3 AST categories x 3 cases x 2 temperatures x 2 passes, irrelevance unguided only
    assert doc["planned"] == 3 * 3 * 2 * 2 + 3 * 2 == len(fake.chat) == doc["done"]
    assert doc["complete"] is True and doc["cancelled"] is False
    bodies = o.bodies
    guided = [b for b in bodies if b.get("tool_choice") == "required"]
    assert len(guided) == 3 * 3 * 2
    assert all(t["function"]["strict"] is True for b in guided for t in b["tools"])
    unguided = [b for b in bodies if b.get("tool_choice") == "auto"]
    assert len(unguided) == 3 * 3 * 2 + 3 * 2
    assert all("strict" not in t["function"] for b in unguided for t in b["tools"])
    assert {b["temperature"] for b in bodies} == {0.0, 0.7}
    assert {b["seed"] for b in bodies} == {7} and {b["max_tokens"] for b in bodies} == {256}
    assert all(b["logprobs"] is True for b in bodies)  # the playground's raw-text capture
    assert all(r["valid"] is True for r in doc["records"])
    # accuracy per category, temperature and pass; irrelevance has no guided cell
    cells = {(c["category"], c["temperature"], c["guided"]): c for c in doc["summary"]}
    assert len(cells) == 3 * 2 * 2 + 2
    assert ("irrelevance", 0.0, True) not in cells
    assert {c["accuracy"] for c in cells.values()} == {1.0}
    assert [(t["temperature"], t["guided"], t["accuracy"]) for t in doc["totals"]] == [
        (0.0, False, 1.0),
        (0.0, True, 1.0),
        (0.7, False, 1.0),
        (0.7, True, 1.0),
    ]
    # progress after each sample, live
    assert [p.done for p in seen] == list(range(1, doc["planned"] + 1))
    assert seen[-1].passed == doc["planned"] and seen[-1].accuracy == 1.0
    assert all(p.last is not None for p in seen)


async def test_records_hold_what_came_back_and_the_verdict(fake: FakeProxy) -> None:
    oracle(fake, "simple_python", limit=2, wrong={"simple_python_1"})
    async with EvalRun(
        EvalConfig("m", categories=("simple_python",), limit=2), target(fake), installed()
    ) as run:
        doc = await run.run()
        run_failed = run.failed()
    first, second = doc["records"]  # in the plan's order
    assert (first["case_id"], second["case_id"]) == ("simple_python_0", "simple_python_1")
    assert first["valid"] is True and first["reason"] == ""
    assert first["tool_calls"] == [
        {"name": "calculate_triangle_area", "arguments": '{"base": 10, "height": 5}'}
    ]
    assert first["decoded"] == [{"calculate_triangle_area": {"base": 10, "height": 5}}]
    assert first["raw"].startswith('[{"name": "calculate_triangle_area"')
    assert first["raw_source"] == "logprobs tokens" and first["finish_reason"] == "stop"
    assert "question" not in first  # a passed record stays small
    # the failed one can be inspected: question, expected answers, what came back, why
    assert second["valid"] is False
    assert second["reason"] == "Unexpected parameter: '__changed__'."
    assert second["error_type"] == "simple_function_checker:unexpected_param"
    assert second["tool_calls"][0]["name"] == "math_factorial"
    assert second["decoded"] == [{"math.factorial": {"number": 5, "__changed__": 1}}]
    assert second["question"] == [
        {"role": "user", "content": cases("simple_python", 2)[1].question}
    ]
    assert second["expected"] == [{"math.factorial": {"number": [5]}}]
    assert second["functions"] == ["math.factorial"]
    assert run_failed == [Record.from_json(second)]
    r = Record.from_json(second)
    assert r.failed and r.verdict.reason == second["reason"] and r.expected == second["expected"]
    [cell] = doc["summary"]
    assert (cell["passed"], cell["failed"], cell["accuracy"]) == (1, 1, 0.5)
    # a well-formed call BFCL judges wrong was lost by the model, not the parser
    assert "layer" not in first and second["layer"] == "model", second
    assert r.layer == "model" and r.layer_reason == second["layer_reason"]


async def test_a_text_answer_fails_the_ast_categories_and_passes_irrelevance(
    fake: FakeProxy,
) -> None:
    fake.reply = Reply(
        tokens=("I", " would", " rather", " not", "."), content="I would rather not."
    )
    doc, _ = await evaluate(fake, categories=("simple_python", "irrelevance"), limit=2)
    by_cat = {c["category"]: c for c in doc["summary"]}
    assert by_cat["simple_python"]["accuracy"] == 0.0 and by_cat["irrelevance"]["accuracy"] == 1.0
    failed = next(r for r in doc["records"] if r["valid"] is False)
    assert failed["error_type"] == "ast_decoder:decoder_failed"
    assert "No tool call came back" in failed["reason"]
    assert failed["content"] == "I would rather not." and failed["raw"] == "I would rather not."
    assert failed["layer"] == "model"
    assert "holds no call in any known format" in failed["layer_reason"]


async def test_a_call_in_the_raw_text_that_the_parser_missed_is_the_parsers(
    fake: FakeProxy,
) -> None:
    """The server answered text that holds a Hermes call: the parser lost the case."""
    hermes = (
        '<tool_call>\n{"name": "calculate_triangle_area", "arguments": {"base": 10, '
        '"height": 5}}\n</tool_call>'
    )
    fake.reply = Reply(tokens=(hermes, "<|im_end|>"), content=hermes)
    doc, _ = await evaluate(fake, categories=("simple_python",), limit=1)
    [record] = doc["records"]
    assert record["valid"] is False and record["tool_calls"] == []
    assert record["layer"] == "parser", record
    assert "calculate_triangle_area" in record["layer_reason"]
    assert "server's tool_calls lack" in record["layer_reason"]


async def test_a_failed_request_is_a_failed_sample_and_an_error(fake: FakeProxy) -> None:
    fake.reply = Reply(status=400, error="This model's maximum context length is 2048 tokens")
    doc, seen = await evaluate(fake, categories=("multiple",), limit=2)
    [cell] = doc["summary"]
    assert (cell["failed"], cell["errors"], cell["accuracy"]) == (2, 2, 0.0)
    r = doc["records"][0]
    assert r["error_type"] == "request_error" and r["reason"].startswith("request failed: HTTP 400")
    assert "maximum context length" in r["reason"]
    assert seen[-1].errors == 2


async def test_a_case_with_no_functions_is_sent_without_tools(
    fake: FakeProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = [c for c in cases("live_irrelevance") if not c.functions][:1]
    assert bare, "live_irrelevance ships cases without functions"
    monkeypatch.setattr(plan_module, "load_cases", lambda data, cat, limit=None: bare)
    oracle(fake, "live_irrelevance", limit=1000)
    doc, _ = await evaluate(fake, categories=("live_irrelevance",), guided=True)
    [chat] = fake.chat
    assert "tools" not in chat.body and "tool_choice" not in chat.body
    assert doc["records"][0]["valid"] is True and doc["records"][0]["tool_choice"] is None


async def test_an_unknown_category_is_refused_before_anything_is_sent(fake: FakeProxy) -> None:
    async with EvalRun(
        EvalConfig("m", categories=("simple_python", "simple_pyhton", "multi_turn_base")),
        target(fake),
        installed(),
    ) as run:
        with pytest.raises(CategoryError) as caught:
            await run.prepare()
    message = str(caught.value)
    assert "unknown category 'simple_pyhton' (BFCL v4 ships: " in message
    assert "category 'multi_turn_base' is not supported here" in message
    assert fake.seen == []


async def test_a_model_the_proxy_does_not_serve_is_refused(fake: FakeProxy) -> None:
    async with EvalRun(
        EvalConfig("nope", categories=("simple_python",)), target(fake), installed()
    ) as run:
        with pytest.raises(
            EvalInputError, match=r"model 'nope' is not served by the proxy \(it serves: m, other\)"
        ):
            await run.prepare()
    assert fake.chat == []


async def test_no_proxy_is_named(fake: FakeProxy) -> None:
    url = fake.url
    fake.stop()
    async with EvalRun(EvalConfig("m", categories=("multiple",)), target(fake), installed()) as run:
        with pytest.raises(EvalInputError, match=f"the proxy at {url} does not answer"):
            await run.prepare()


def test_bad_flags_are_named_at_once(fake: FakeProxy) -> None:
    config = EvalConfig("", temperatures=(3.0,), limit=0, seed=-1, concurrency=0, max_tokens=0)
    with pytest.raises(EvalInputError) as caught:
        EvalRun(config, target(fake), installed())
    message = str(caught.value)
    for piece in ("--model: required", "--temperatures: 3 is out of range", "--limit: 0",
                  "--seed: -1", "--concurrency: 0", "--max-tokens: 0"):  # fmt: skip
        assert piece in message


async def test_a_case_whose_functions_do_not_convert_is_skipped_counted_and_not_sent(
    fake: FakeProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = cases("simple_python", 2)
    broken_doc = {**bad.functions[0], "parameters": {"type": "dict", "properties": {
        "number": {"type": "complex128", "description": "x"}}}}  # fmt: skip
    broken = Case(bad.id, bad.category, bad.messages, [broken_doc], bad.answers)
    monkeypatch.setattr(plan_module, "load_cases", lambda data, cat, limit=None: [good, broken])
    oracle(fake, "simple_python", limit=2)
    async with EvalRun(
        EvalConfig("m", categories=("simple_python",), temperatures=(0.0, 1.0), guided=True),
        target(fake),
        installed(),
    ) as run:
        plan = await run.prepare()
        [(case, error)] = plan.skipped
        assert case.id == "simple_python_1"
        assert str(error) == (
            "function 'math.factorial', parameter 'number': type 'complex128' has no JSON "
            "Schema equivalent here"
        )
        doc = await run.run()
    assert len(fake.chat) == 4  # the good case, 2 temperatures x 2 passes; none for the bad
    assert doc["planned"] == 8 == doc["done"]
    skipped = [r for r in doc["records"] if r["skipped"]]
    assert len(skipped) == 4 and all(r["valid"] is None for r in skipped)
    assert skipped[0]["reason"].startswith("not sent: function 'math.factorial', parameter")
    assert skipped[0]["question"] and skipped[0]["error_type"] == "conversion_error"
    assert doc["skipped"] == [{
        "case_id": "simple_python_1", "category": "simple_python", "function": "math.factorial",
        "parameter": "number",
        "message": "type 'complex128' has no JSON Schema equivalent here",
    }]  # fmt: skip
    for cell in doc["summary"]:  # counted apart: the accuracy is over what was sent
        assert (cell["skipped"], cell["scored"], cell["accuracy"]) == (1, 1, 1.0)


async def test_cancel_keeps_what_landed(fake: FakeProxy) -> None:
    o = oracle(fake, "multiple", limit=10)
    fake.reply = lambda body: Reply(**{**o(body).__dict__, "delay_s": 0.05})
    seen: list[Progress] = []
    async with EvalRun(
        EvalConfig("m", categories=("multiple",), limit=10, concurrency=2),
        target(fake),
        installed(),
    ) as run:
        await run.prepare()

        def hook(p: Progress) -> None:
            seen.append(p)
            if p.done == 3:
                run.cancel()

        doc = await asyncio.wait_for(run.run(hook), 10)
    assert doc["cancelled"] is True and doc["complete"] is False
    assert 3 <= doc["done"] < 10 and len(doc["records"]) == doc["done"]
    assert len(fake.chat) < 10  # nothing more was sent
    [cell] = doc["summary"]
    assert cell["planned"] == 10 and cell["passed"] == doc["done"]


async def test_cancelling_the_task_keeps_the_partial_result(fake: FakeProxy) -> None:
    o = oracle(fake, "multiple", limit=6)
    fake.reply = lambda body: Reply(**{**o(body).__dict__, "delay_s": 0.1})
    async with EvalRun(
        EvalConfig("m", categories=("multiple",), limit=6, concurrency=1), target(fake), installed()
    ) as run:
        await run.prepare()
        task = asyncio.create_task(run.run())
        while len(run.records) < 2:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        doc = run.result()
    assert doc["cancelled"] is True and 2 <= doc["done"] < 6
