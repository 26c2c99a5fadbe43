"""The Eval screen: a run's table adds up its verdicts, Escape keeps a partial result, bad input
and a missing setup send nothing, setup runs from the screen, a failed case opens whole."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static

from naptha_tui.backends.evals import setup as evals_setup
from naptha_tui.backends.evals.results import load_run, run_summaries
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.runtime import RuntimeProblem
from naptha_tui.tui.screens import eval as eval_screen
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.eval import EvalScreen
from tests.tui.eval_common import (
    MODEL,
    SIZE,
    answering,
    app_with,
    cell_text,
    error_text,
    fake_proxy,
    fill,
    finish,
    open_eval,
    ready,
    status_text,
)
from tests.tui.test_dashboard import until
from tests.unit.evals_common import cases


async def test_a_run_completes_and_the_table_adds_up_the_verdicts(paths: Paths) -> None:
    cats = ("simple_python", "multiple", "irrelevance")
    wrong = {
        ("simple_python_0", 0.0, False),
        ("simple_python_2", 0.7, False),
        ("simple_python_2", 0.7, True),
        ("multiple_1", 0.0, True),
    }
    with fake_proxy() as fake:
        answering(fake, cats, 3, wrong)
        app, _ = app_with(ready(paths), fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            assert screen.form.served == [MODEL]
            assert not screen.setup_box.display
            fill(screen, cats, limit="3", temperatures="0, 0.7", seed="7")
            screen.form.guided.value = True
            await pilot.press("ctrl+r")
            await finish(pilot, screen)
            result = screen.result
            assert result is not None and result["complete"] is True
            # 2 AST categories x 3 cases x 2 temperatures x 2 passes, irrelevance unguided only
            assert result["planned"] == 2 * 3 * 2 * 2 + 3 * 2 == len(fake.chat)
            # every cell of the table is what the records' verdicts add up to
            for cat in cats:
                for t in (0.0, 0.7):
                    row = f"{cat}@{t:g}"
                    for guided, column in ((False, "unguided"), (True, "guided")):
                        mine = [
                            r
                            for r in result["records"]
                            if (r["category"], r["temperature"], r["guided"]) == (cat, t, guided)
                        ]
                        if not mine:
                            assert cat == "irrelevance" and guided
                            assert cell_text(screen, row, column) == "-"
                            continue
                        passed = sum(r["valid"] is True for r in mine)
                        told = sum((r["case_id"], t, guided) in wrong for r in mine)
                        assert passed == len(mine) - told  # the checker saw what was sent
                        expected = f"{passed / len(mine):.1%} ({passed}/{len(mine)})"
                        assert cell_text(screen, row, column) == expected
                    done = 3 if cat == "irrelevance" else 6
                    assert cell_text(screen, row, "done") == f"{done}/{done}"
            # the totals: pooled over the categories, per temperature and pass
            assert cell_text(screen, "all (pooled)@0", "unguided") == "88.9% (8/9)"
            assert cell_text(screen, "all (pooled)@0.7", "guided") == "83.3% (5/6)"
            assert cell_text(screen, "mean of categories@0", "guided") == "83.3%"
            # the live view saw it to the end
            assert screen.live.bar.total == screen.live.bar.progress == result["planned"]
            status = status_text(screen)
            assert status.startswith("done: 30 of 30 samples: 26 passed (86.7%), 4 failed")
            assert f"saved as {result['name']}" in status
            assert screen.failed.row_count == 4
            notes = str(screen.notes.content)
            assert notes.startswith(f"{MODEL} (preset smollm2-cpu, parser hermes), t=0,0.7")
    [saved] = run_summaries(paths)
    assert saved["name"] == result["name"] and saved["cancelled"] is False
    doc = load_run(paths, saved["name"])
    assert doc["config"]["seed"] == 7 and doc["config"]["guided"] is True
    assert doc["summary"] == result["summary"]


async def test_escape_stops_a_slow_run_and_keeps_the_partial_result(paths: Paths) -> None:
    with fake_proxy() as fake:
        answering(fake, ("multiple",), 10, delay_s=0.2)
        app, _ = app_with(ready(paths), fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            # 10 samples one at a time, 0.2 s each: about 2 s if left alone
            fill(screen, ["multiple"], limit="10", concurrency="1")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: screen.live.bar.progress >= 2, 20)
            assert screen.running
            await pilot.press("escape")
            await finish(pilot, screen, 10)
            assert isinstance(app.screen, EvalScreen)  # the first Escape stops, stays
            result = screen.result
            assert result is not None and result["cancelled"] is True
            done = result["done"]
            assert 2 <= done < 10 and len(fake.chat) < 10  # nothing more was sent
            assert status_text(screen).startswith(
                f"stopped: partial result, {done} of 10 samples: {done} passed (100.0%)"
            )
            assert cell_text(screen, "multiple@0", "done") == f"{done}/10"
            assert cell_text(screen, "multiple@0", "unguided") == f"100.0% ({done}/{done})"
            assert f"stopped early: {done} of 10 samples ran" in str(screen.notes.content)
            await pilot.press("escape")  # the second one goes back
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
    [saved] = run_summaries(paths)
    assert saved["cancelled"] is True and saved["done"] == done


@pytest.mark.parametrize(
    ("values", "key", "expected"),
    [
        ({"categories": []}, "categories", "categories: choose at least one (supported: "),
        ({"temperatures": "0, 3"}, "temperatures", "temperatures: 3 is out of range [0, 2]"),
        ({"temperatures": "0, warm"}, "temperatures", "temperatures: 'warm' is not a number"),
        ({"temperatures": ""}, "temperatures", "temperatures: at least one"),
        ({"limit": "0"}, "limit", "limit: 0 (at least 1)"),
        ({"limit": "a few"}, "limit", "limit: 'a few' is not a whole number"),
        ({"seed": "-1"}, "seed", "seed: -1 (0 or more)"),
        ({"concurrency": "0"}, "concurrency", "concurrency: 0 (at least 1)"),
    ],
)
async def test_bad_input_names_its_field_and_sends_nothing(
    paths: Paths, values: dict[str, Any], key: str, expected: str
) -> None:
    with fake_proxy() as fake:
        answering(fake, ("multiple",), 2)
        app, _ = app_with(ready(paths), fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            texts = {"limit": "2"} | {k: v for k, v in values.items() if k != "categories"}
            fill(screen, values.get("categories", ["multiple"]), **texts)
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "nothing was sent" in status_text(screen))
            assert not screen.running and screen.result is None
            assert expected in error_text(screen, key)
            assert status_text(screen).startswith(f"nothing was sent: {expected}")
            assert screen.query_one(f"#{key}-field").has_class("-invalid")
            # fixed, the mark goes and the run goes ahead
            fill(screen, ["multiple"], limit="2", temperatures="0", seed="", concurrency="4")
            await pilot.press("ctrl+r")
            await finish(pilot, screen)
            assert error_text(screen, key) == ""
            assert not screen.query_one(f"#{key}-field").has_class("-invalid")
        assert len(fake.chat) == 2  # the fixed run's, and nothing before it


async def test_a_model_the_proxy_does_not_serve_is_refused(paths: Paths) -> None:
    with fake_proxy() as fake:
        app, _ = app_with(ready(paths), fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            screen.form.choose_model("qwen2.5-7b")  # chosen before the proxy changed its mind
            fill(screen, ["simple_python"], limit="2")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "nothing was sent" in status_text(screen))
            expected = f"model 'qwen2.5-7b' is not served by the proxy (it serves: {MODEL})"
            assert error_text(screen, "model") == expected
            assert status_text(screen) == f"nothing was sent: {expected}"
            assert screen.result is None and not screen.running
        assert fake.chat == []
    assert run_summaries(paths) == []


async def test_not_set_up_says_to_run_eval_setup_and_sends_nothing(paths: Paths) -> None:
    with fake_proxy() as fake:
        app, _ = app_with(paths, fake)  # an empty data dir: no bfcl-eval
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            assert screen.setup_box.display
            about = str(screen.setup_box.about.content)
            assert "bfcl-eval 2026.3.23 is not set up in " in about
            assert "(not installed)" in about and "Run naptha-tui eval setup, or press" in about
            assert "run `naptha-tui eval setup`" in status_text(screen)
            fill(screen, ["simple_python"], limit="1")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "nothing was sent" in status_text(screen))
            status = status_text(screen)
            assert status.startswith("nothing was sent: bfcl-eval 2026.3.23 is not set up in ")
            assert status.endswith("run `naptha-tui eval setup` first")
            form_error = str(screen.query_one("#form-error", Static).content)
            assert "run `naptha-tui eval setup` first" in form_error
            assert screen.result is None
        assert fake.chat == []


async def test_the_setup_button_runs_eval_setup_and_shows_its_lines(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The button runs ``setup.install`` (here: the real one, for the data dir where the tests'
    bfcl-eval is, so it finds it ready at once), then a run goes ahead."""
    seen: list[Paths] = []

    def install(given: Paths, progress: Any, force: bool = False) -> Any:
        seen.append(given)
        progress("installing bfcl-eval==2026.3.23 without its dependencies (a stand-in pip)")
        return evals_setup.install(ready(paths), progress)

    monkeypatch.setattr(eval_screen, "install", install)
    with fake_proxy() as fake:
        answering(fake, ("simple_python",), 1)
        app, _ = app_with(paths, fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            assert screen.setup_box.display
            await pilot.click("#setup")
            await until(pilot, lambda: not screen.setup_box.display)
            assert seen == [paths]
            lines = list(screen.setup_box.lines.lines)
            assert lines[0].startswith("installing bfcl-eval==2026.3.23")
            assert lines[-1].startswith("bfcl-eval 2026.3.23 is ready at ")
            assert status_text(screen).startswith("bfcl-eval 2026.3.23 is ready at ")
            fill(screen, ["simple_python"], limit="1")
            await pilot.press("ctrl+r")
            await finish(pilot, screen)
            assert screen.result is not None and screen.result["done"] == 1
        assert len(fake.chat) == 1


async def test_a_failed_setup_is_shown_and_can_be_tried_again(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    def install(given: Paths, progress: Any, force: bool = False) -> Any:
        progress("installing bfcl-eval==2026.3.23 into .../bfcl-eval.new ...")
        raise RuntimeProblem("pip exited with 1: No matching distribution (log: setup.log)")

    monkeypatch.setattr(eval_screen, "install", install)
    with fake_proxy() as fake:
        app, _ = app_with(paths, fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            await pilot.click("#setup")
            await until(pilot, lambda: "setup failed" in status_text(screen))
            lines = list(screen.setup_box.lines.lines)
            assert lines[-1] == "pip exited with 1: No matching distribution (log: setup.log)"
            assert screen.setup_box.display and not screen.setup_box.button.disabled


async def test_a_failed_case_opens_with_the_checkers_reason(paths: Paths) -> None:
    with fake_proxy() as fake:
        answering(fake, ("simple_python",), 2, {("simple_python_1", 0.0, False)})
        app, _ = app_with(ready(paths), fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            fill(screen, ["simple_python"], limit="2")
            await pilot.press("ctrl+r")
            await finish(pilot, screen)
            assert screen.failed.row_count == 1
            assert str(screen.failed_hint.content).startswith("1 failed sample · ")
            screen.tabs.active = "tab-failed"
            screen.failed.focus()
            await pilot.pause()
            assert screen.detail.record is None  # until Enter
            await pilot.press("enter")
            await until(pilot, lambda: screen.detail.record is not None)
            heading = str(screen.query_one("#case-heading", Static).content)
            assert heading.startswith("FAIL simple_python_1  simple_python, t=0, unguided")
            assert "simple_function_checker:unexpected_param" in heading
            assert "Unexpected parameter: '__changed__'." in heading
            asked = str(screen.query_one("#case-asked", Static).content)
            assert f"user: {cases('simple_python', 2)[1].question}" in asked
            assert "functions offered math.factorial" in asked
            assert 'expected (accepted values per parameter; "" may be left out)' in asked
            assert "math.factorial(number=[5])" in asked
            back = str(screen.query_one("#case-came-back", Static).content)
            assert "raw model output, from logprobs token ids, /detokenize" in back
            assert '[{"name": "math_factorial", "arguments": ' in back  # the raw text
            assert (
                "tool_calls parsed by the server\nmath_factorial(number=5, __changed__=1)" in back
            )
            decoded = '{"math.factorial": {"number": 5, "__changed__": 1}}'
            assert f"decoded in the checker's form\n{decoded}" in back


async def test_e_and_the_command_palette_open_the_eval(paths: Paths) -> None:
    with fake_proxy() as fake:
        app, _ = app_with(paths, fake)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.pause()
            command = next(c for c in app.get_system_commands(app.screen) if c.title == "Eval")
            app.call_later(command.callback)
            await until(pilot, lambda: isinstance(app.screen, EvalScreen))
            assert "Eval" not in [c.title for c in app.get_system_commands(app.screen)]
            stack = list(app.screen_stack)
            app.action_open_eval()  # e on the Eval screen opens no second one
            await pilot.pause()
            assert app.screen_stack == stack
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, EvalScreen))


async def test_saved_runs_are_listed_shown_and_compared(paths: Paths) -> None:
    with fake_proxy() as fake:
        app, _ = app_with(ready(paths), fake)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_eval(pilot)
            for wrong in ({("multiple_0", 0.0, False), ("multiple_1", 0.0, False)}, set()):
                answering(fake, ("multiple",), 3, wrong)
                screen.result = None
                fill(screen, ["multiple"], limit="3")
                await pilot.press("ctrl+r")
                await finish(pilot, screen)
            await until(pilot, lambda: screen.runs.row_count == 2)
            a, b = (r["name"] for r in run_summaries(paths))
            screen.tabs.active = "tab-runs"
            screen.runs.focus()
            await pilot.pause()
            assert str(screen.runs.get_cell(a, "c4")) == "t=0 33.3%"
            await pilot.press("up", "space", "down", "space")
            assert screen.runs.marked == [a, b]
            await pilot.press("c")
            await until(pilot, lambda: screen.compared.row_count == 1)
            assert screen.tabs.active == "tab-compare"
            row = [str(c) for c in screen.compared.get_row_at(0)]
            assert row == ["multiple", "0", "unguided", "33.3% (3)", "100.0% (3)", "+66.7 pt",
                           "2", "0"]  # fmt: skip
            about = str(screen.compare_about.content)
            assert about.startswith(f"A: {a}: {MODEL} (preset smollm2-cpu")
            # Enter on a run shows it: its table and its failed cases
            screen.tabs.active = "tab-runs"
            screen.runs.focus()
            await pilot.pause()
            await pilot.press("up", "enter")
            await until(pilot, lambda: status_text(screen) == f"saved run {a}")
            assert screen.tabs.active == "tab-accuracy"
            assert cell_text(screen, "multiple@0", "unguided") == "33.3% (1/3)"
            assert [r.case_id for r in screen.failed.records] == ["multiple_0", "multiple_1"]
