"""What the Eval screen's tests share: the core's fake proxy and oracle, the app, fixed states.

The proxy is ``tests/fakes/fake_proxy.FakeProxy`` (what the core's tests use), answering each
BFCL case through ``tests/unit/evals_common.Oracle``; bfcl-eval is the one ``installed()``
puts in the real data dir, so a ready app gets that data dir and the rest stays isolated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from naptha_tui.backends.endpoints import ModelInfo, ServerAccess, Target
from naptha_tui.backends.evals.cases import Case
from naptha_tui.backends.evals.config import EvalConfig
from naptha_tui.backends.evals.records import Cell, Progress, Record
from naptha_tui.backends.evals.report import cells_of
from naptha_tui.backends.evals.run import EvalRun
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.app import NapthaTuiApp, make_app
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.eval import EvalScreen
from tests.conftest import REAL_DATA_DIR
from tests.fakes.fake_proxy import PROXY_KEY, SERVER_KEY, FakeProxy, Reply
from tests.fakes.node import FakeGpu, FakeNode, fake_host, proxy, server
from tests.tui.test_dashboard import until, workers_done
from tests.unit.evals_common import Oracle, cases, installed

SIZE = (140, 44)
MODEL = "smollm2-135m"
FIXED_NAME = "20261201-173015-smollm2-135m"
FIXED_PROXY = "http://127.0.0.1:4000"

WrongKey = tuple[str, float, bool]
"""A sample the oracle answers wrong: case id, temperature, guided."""


class EvalNode(FakeNode):
    """The fake node with its proxy at a FakeProxy: the proxy's key, and the embedded preset's
    server (the FakeProxy answers /detokenize too) for the raw text."""

    def __init__(self, url: str, models: tuple[str, ...] = (MODEL,)) -> None:
        super().__init__([server()], proxy_status=replace(proxy(models=models), url=url))

    def playground_target(self) -> Target:
        url = self.proxy_status.url
        models = {
            m: ModelInfo(
                server=ServerAccess(url, SERVER_KEY, m), preset="smollm2-cpu", parser="hermes"
            )
            for m in self.proxy_status.models
        }
        return Target(url, PROXY_KEY, None, models)


@contextmanager
def fake_proxy() -> Iterator[FakeProxy]:
    with FakeProxy(models=[MODEL]) as fake:
        yield fake


def ready(paths: Paths) -> Paths:
    """``paths`` with the real data dir, where bfcl-eval is installed."""
    installed()
    return replace(paths, data_dir=REAL_DATA_DIR)


def app_with(paths: Paths, fake: FakeProxy) -> tuple[NapthaTuiApp, EvalNode]:
    node = EvalNode(fake.url)
    app = make_app(paths, Settings(poll_seconds=60), node=node, gpu=FakeGpu(), read_host=fake_host)
    return app, node


def answering(
    fake: FakeProxy,
    categories: Iterable[str],
    limit: int,
    wrong: Iterable[WrongKey] = (),
    delay_s: float = 0.0,
) -> set[WrongKey]:
    """The proxy answers every case of ``categories`` right, but the ``wrong`` samples."""
    all_cases: list[Case] = [c for cat in categories for c in cases(cat, limit)]
    right, bad = Oracle(all_cases), Oracle(all_cases, {c.id for c in all_cases})
    wrong_keys = set(wrong)

    def reply(body: dict[str, Any]) -> Reply:
        case = right.by_messages[json.dumps(body["messages"])]
        key = (case.id, float(body["temperature"]), body.get("tool_choice") == "required")
        answer = (bad if key in wrong_keys else right)(body)
        return replace(answer, delay_s=delay_s)

    fake.reply = reply
    return wrong_keys


async def open_eval(pilot: Pilot[None], model: str | None = MODEL) -> EvalScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    await pilot.press("e")
    await until(pilot, lambda: isinstance(pilot.app.screen, EvalScreen))
    screen = pilot.app.screen
    assert isinstance(screen, EvalScreen)
    await until(pilot, lambda: screen._bfcl is not None)
    if model is not None:
        await until(pilot, lambda: screen.form.model.value == model)
    await workers_done(pilot, "eval-setup-find", "run-models", "saved-runs")  # read on opening
    return screen


def fill(screen: EvalScreen, categories: Iterable[str] | None = None, **values: str) -> None:
    if categories is not None:
        screen.form.choose(categories)
    for key, value in values.items():
        screen.form.set_value(key, value)


async def finish(pilot: Pilot[None], screen: EvalScreen, timeout: float = 60.0) -> None:
    await until(pilot, lambda: screen.result is not None and not screen.running, timeout)
    await pilot.pause()


def status_text(screen: EvalScreen) -> str:
    return str(screen.status.content)


def error_text(screen: EvalScreen, key: str) -> str:
    return str(screen.query_one(f"#{key.replace('_', '-')}-error", Static).content)


def cell_text(screen: EvalScreen, row: str, column: str) -> str:
    return str(screen.accuracy.get_cell(row, column))


# -- fixed states for the snapshots ------------------------------------------------------
SNAPSHOT_CATEGORIES = ("simple_python", "multiple", "parallel", "irrelevance")
SNAPSHOT_WRONG: set[WrongKey] = {
    ("simple_python_1", 0.0, False),
    ("simple_python_1", 0.7, False),
    ("simple_python_2", 0.7, False),
    ("multiple_0", 0.7, False),
    ("multiple_0", 0.7, True),
    ("parallel_2", 0.0, False),
    ("parallel_1", 0.7, False),
    ("parallel_2", 0.7, False),
}


def snapshot_config() -> EvalConfig:
    return EvalConfig(
        MODEL, SNAPSHOT_CATEGORIES, (0.0, 0.7), guided=True, limit=3, seed=7, concurrency=1
    )


async def fixed_run(fake: FakeProxy) -> tuple[dict[str, Any], list[Record]]:
    """A whole run of :func:`snapshot_config` through the core, made deterministic: the run's
    name, proxy, start and duration fixed, latencies zeroed (the verdicts are the checker's)."""
    answering(fake, SNAPSHOT_CATEGORIES, 3, SNAPSHOT_WRONG)
    target = EvalNode(fake.url).playground_target()
    async with EvalRun(snapshot_config(), target, installed()) as run:
        doc = await run.run()
        failed = run.failed()
    for r in doc["records"]:
        r["latency_ms"] = 0.0
    doc.update(name=FIXED_NAME, proxy_url=FIXED_PROXY, started_at=1796146215.0, duration_s=41.3)
    return doc, [replace(r, latency_ms=0.0) for r in failed]


def replay(doc: dict[str, Any], done: int, elapsed_s: float, in_flight: int = 1) -> Progress:
    """The Progress the run showed after its first ``done`` samples (in the plan's order)."""
    cells = {(c.category, c.temperature, c.guided): replace(c) for c in cells_of(doc)}
    for c in cells.values():
        c.passed = c.failed = c.errors = c.skipped = 0
    landed = [Record.from_json(r) for r in doc["records"][:done]]
    for r in landed:
        cells[(r.category, r.temperature, r.guided)].add(r)
    cs: tuple[Cell, ...] = tuple(cells.values())
    return Progress(
        elapsed_s=elapsed_s,
        planned=int(doc["planned"]),
        done=done,
        passed=sum(c.passed for c in cs),
        failed=sum(c.failed for c in cs),
        errors=sum(c.errors for c in cs),
        skipped=sum(c.skipped for c in cs),
        in_flight=in_flight if done < int(doc["planned"]) else 0,
        cells=cs,
        last=landed[-1] if landed else None,
    )


def started(doc: dict[str, Any]) -> Progress:
    return replay(doc, 0, 0.0, in_flight=0)


NO_SETUP = Path("/nonexistent/naptha-tui-snapshot/data")
"""A data dir that is never there (a fixed path in the not-set-up snapshot)."""


def cases_in(doc: dict[str, Any]) -> int:
    return len({r["case_id"] for r in doc["records"]})
