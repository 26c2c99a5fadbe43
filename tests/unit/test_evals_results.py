"""Saved evaluation runs: the document's shape, records back as typed rows, list, and two runs
compared (accuracy side by side, the cases that flipped)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.evals.config import EvalConfig
from naptha_tui.backends.evals.records import Record
from naptha_tui.backends.evals.results import (
    compare,
    describe,
    load_run,
    records,
    run_summaries,
    save_run,
)
from naptha_tui.backends.evals.run import EvalRun
from naptha_tui.backends.paths import Paths
from tests.fakes.fake_proxy import FakeProxy
from tests.unit.evals_common import Oracle, cases, installed, target

CATS = ("simple_python", "multiple")


@pytest.fixture
def fake() -> Iterator[FakeProxy]:
    with FakeProxy(models=["m"]) as f:
        yield f


async def run_with(fake: FakeProxy, wrong: set[str], **config: Any) -> dict[str, Any]:
    fake.reply = Oracle([c for cat in CATS for c in cases(cat, 4)], wrong)
    async with EvalRun(
        EvalConfig("m", categories=CATS, limit=4, **config), target(fake), installed()
    ) as run:
        return await run.run()  # prepare() is called when it was not


async def test_the_document_has_one_record_per_case_and_sample(fake: FakeProxy) -> None:
    doc = await run_with(fake, {"multiple_0"}, temperatures=(0.0, 0.5))
    assert list(doc) == [
        "kind", "bfcl_version", "config", "model", "preset", "tool_call_parser", "proxy_url",
        "started_at", "duration_s", "planned", "done", "complete", "cancelled", "summary",
        "totals", "skipped", "records",
    ]  # fmt: skip
    assert (doc["kind"], doc["bfcl_version"], doc["planned"]) == ("bfcl", "2026.3.23", 16)
    assert doc["config"] == {
        "model": "m", "categories": list(CATS), "temperatures": [0.0, 0.5], "guided": False,
        "limit": 4, "seed": None, "max_tokens": 256, "concurrency": 4,
    }  # fmt: skip
    assert [(r["case_id"], r["temperature"]) for r in doc["records"][:3]] == [
        ("simple_python_0", 0.0),
        ("simple_python_0", 0.5),
        ("simple_python_1", 0.0),
    ]
    for r in doc["records"]:
        assert {"case_id", "category", "temperature", "guided", "tool_calls", "valid",
                "reason"} <= set(r)  # fmt: skip
    assert json.loads(json.dumps(doc)) == doc
    back = [Record.from_json(r) for r in doc["records"]]
    assert [r.to_json() for r in back] == doc["records"]


async def test_saved_listed_loaded_and_compared(fake: FakeProxy, paths: Paths) -> None:
    a = await run_with(fake, {"simple_python_1", "multiple_2"})
    b = await run_with(fake, {"simple_python_1", "simple_python_3"}, guided=True)
    name_a, name_b = save_run(paths, a, "small model"), save_run(paths, b, "small model")
    assert name_a != name_b and name_a.endswith("-small-model")
    assert name_b == f"{name_a}-2" or name_b > name_a
    [sa, sb] = run_summaries(paths)
    assert (sa["name"], sb["name"]) == (name_a, name_b)
    assert sa["accuracy"] == {"t=0": 0.75} and sb["guided"] is True
    loaded = load_run(paths, name_b)
    failed = records(loaded, failed_only=True)
    assert {(r.case_id, r.guided) for r in failed} == {
        ("simple_python_1", False), ("simple_python_3", False),
        ("simple_python_1", True), ("simple_python_3", True),
    }  # fmt: skip
    assert all(r.question and r.expected for r in failed)
    rows = {(r.category, r.guided): r for r in compare(a, loaded)}
    sp = rows[("simple_python", False)]
    assert (sp.a, sp.b, sp.diff, sp.fixed, sp.broken) == (0.75, 0.5, -0.25, 0, 1)
    mu = rows[("multiple", False)]
    assert (mu.a, mu.b, mu.fixed, mu.broken) == (0.75, 1.0, 1, 0)
    assert rows[("multiple", True)].a is None and rows[("multiple", True)].b == 1.0
    assert describe(loaded) == "m (preset -, parser -), t=0, guided too, first 4 per category"


def test_what_is_not_a_saved_run_is_named(paths: Paths, tmp_path: Path) -> None:
    with pytest.raises(
        NapthaError, match=r"no eval run 'x1' \(latest: none yet; see `eval list`\)"
    ):
        load_run(paths, "x1")
    other = tmp_path / "bench.json"
    other.write_text('{"completed": 3}')
    with pytest.raises(NapthaError, match="not an eval result"):
        load_run(paths, str(other))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(NapthaError, match="not a readable eval result"):
        load_run(paths, str(broken))
