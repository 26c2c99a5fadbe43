"""The Bench screen: a run completes and is saved, Escape stops one, bad input sends nothing."""

from __future__ import annotations

import pytest

from naptha_tui.backends.loadgen.results import load_run, run_summaries
from naptha_tui.backends.paths import Paths
from naptha_tui.tui.screens.bench import BenchScreen
from naptha_tui.tui.screens.dashboard import DashboardScreen
from tests.tui.bench_common import (
    MODEL,
    SIZE,
    app_with,
    error_text,
    fake_vllm,
    fill,
    finish,
    open_bench,
    report_text,
    status_text,
)
from tests.tui.test_dashboard import until, workers_done


async def test_a_run_completes_is_reported_and_saved(paths: Paths) -> None:
    with fake_vllm() as fake:
        app, _ = app_with(paths, fake.url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_bench(pilot)
            assert screen.form.served == [MODEL]
            fill(screen, num_prompts="12", input_len="8", output_len="4", max_concurrency="4")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: screen.result is not None, 30)
            await finish(pilot, screen)
            report = report_text(screen)
            assert "Serving Benchmark Result" in report
            lines = [line.split() for line in report.splitlines()]
            assert ["Successful", "requests:", "12"] in lines
            assert ["Failed", "requests:", "0"] in lines
            assert "Target:" in report and "proxy" in report
            assert status_text(screen).startswith("done: 12 completed, 0 failed · saved as ")
            # the live view saw the run: its last snapshot, a full bar
            assert screen.live.bar.total == 12 and screen.live.bar.progress == 12
            assert len(screen.live.rates) >= 1
            assert not screen.plot.display
        assert fake.served() == 12
    [saved] = run_summaries(paths)
    assert saved["completed"] == 12 and saved["cancelled"] is False
    doc = load_run(paths, saved["name"])
    assert doc["config"]["workload"]["num_prompts"] == 12
    assert doc["config"]["max_concurrency"] == 4
    assert doc["target"]["label"] == "proxy"


async def test_escape_stops_a_slow_run_and_keeps_the_partial_result(paths: Paths) -> None:
    with fake_vllm(token_delay=0.05) as fake:
        app, _ = app_with(paths, fake.url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_bench(pilot)
            # 40 requests of 16 tokens, 4 at a time: about 8 s if left alone
            fill(screen, num_prompts="40", output_len="16", max_concurrency="4")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: screen.live.bar.progress >= 4, 20)
            assert screen.running
            await pilot.press("escape")
            await finish(pilot, screen, 10)
            assert isinstance(app.screen, BenchScreen)  # the first Escape stops, stays
            result = screen.result
            assert result is not None and result["cancelled"] is True
            assert 4 <= result["completed"] < 40
            assert result["failed"] == 0  # dropped in-flight requests are not failures
            assert "Stopped early: partial result" in report_text(screen)
            assert status_text(screen).startswith(
                f"stopped: partial result, {result['completed']} completed"
            )
            await pilot.press("escape")  # the second one goes back
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
    [saved] = run_summaries(paths)
    assert saved["cancelled"] is True and saved["completed"] == result["completed"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("request_rate", "0", "request rate must be above 0 (got 0); inf sends all"),
        ("max_concurrency", "0", "max concurrency must be at least 1 (got 0)"),
        ("goodput", "ttft:500 queue:9", "goodput 'queue:9': unknown metric 'queue'"),
        ("num_prompts", "many", "num prompts: 'many' is not a whole number"),
        ("request_rate", "fast", "request rate: 'fast' is not a number (inf is one)"),
    ],
)
async def test_bad_input_names_its_field_and_sends_nothing(
    paths: Paths, key: str, value: str, expected: str
) -> None:
    with fake_vllm() as fake:
        app, _ = app_with(paths, fake.url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_bench(pilot)
            fill(screen, num_prompts="4", output_len="4")
            fill(screen, **{key: value})
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "nothing was sent" in status_text(screen))
            assert not screen.running
            assert expected in error_text(screen, key)
            assert status_text(screen).startswith(f"nothing was sent: {expected}")
            assert screen.query_one(f"#{key.replace('_', '-')}-field").has_class("-invalid")
            # fixed, the mark goes and the run goes ahead
            fixed = {"request_rate": "inf", "max_concurrency": "2", "goodput": "ttft:5000"}
            fill(screen, **{key: fixed.get(key, "4")})
            await pilot.press("ctrl+r")
            await until(pilot, lambda: screen.result is not None, 30)
            assert error_text(screen, key) == ""
            assert not screen.query_one(f"#{key.replace('_', '-')}-field").has_class("-invalid")
        assert fake.served() == 4


async def test_agent_problems_name_their_fields(paths: Paths) -> None:
    with fake_vllm() as fake:
        app, _ = app_with(paths, fake.url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_bench(pilot)
            screen.form.workload.value = "agents"
            await pilot.pause()
            assert screen.query_one("#agents-field").display
            assert not screen.query_one("#num-prompts-field").display
            fill(screen, think_time="soon", tool_probability="1.5", agents="0")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: "nothing was sent" in status_text(screen))
            assert "think time 'soon': expected seconds" in error_text(screen, "think_time")
            assert "tool probability must be in [0, 1] (got 1.5)" in error_text(
                screen, "tool_probability"
            )
            assert "agents must be at least 1 (got 0)" in error_text(screen, "agents")
            assert "(and 2 more)" in status_text(screen)
        assert fake.served() == 0


async def test_a_model_the_target_does_not_serve_is_refused(paths: Paths) -> None:
    with fake_vllm() as fake:
        app, _ = app_with(paths, fake.url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_bench(pilot)
            screen.form.choose_model("qwen2.5-7b")  # chosen before the target changed its mind
            fill(screen, num_prompts="3")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: not screen.running)
            await pilot.pause()
            expected = (
                f"model 'qwen2.5-7b': proxy does not serve it (it serves: {MODEL}); "
                "nothing was sent"
            )
            assert error_text(screen, "model") == expected
            assert status_text(screen) == f"nothing was sent: {expected}"
            assert screen.result is None
        assert fake.served() == 0
    assert run_summaries(paths) == []


async def test_a_target_that_does_not_answer_is_said_so(paths: Paths) -> None:
    app, _ = app_with(paths)  # the fake node's proxy is a port that refuses
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_bench(pilot, model=None)
        await until(pilot, lambda: "does not answer" in status_text(screen))
        assert "the proxy at http://127.0.0.1:9 does not answer (connect)" in status_text(screen)
        assert str(screen.form.model.prompt) == "the target does not answer"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "nothing was sent" in status_text(screen))
        assert error_text(screen, "model") == "model: choose a model the target serves"


async def test_agents_through_one_server_with_tool_calls(paths: Paths) -> None:
    with fake_vllm() as fake:
        app, _ = app_with(paths, fake.url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_bench(pilot)
            await until(pilot, lambda: len(screen.form.target._options) == 2)
            screen.form.target.value = "smollm2-cpu"
            await workers_done(pilot, "run-models")  # what the server serves, asked again
            await until(pilot, lambda: screen.form.model.value == MODEL)
            screen.form.workload.value = "agents"
            fill(screen, agents="3", turns="2", tool_probability="1", output_len="4")
            await pilot.press("ctrl+r")
            await until(pilot, lambda: screen.result is not None, 30)
            result = screen.result
            assert result is not None
            assert result["agents"] == {"total": 3, "finished": 3, "turns": 2}
            assert result["target"]["label"] == "smollm2-cpu"
            assert result["failed"] == 0
            assert "Agents finished:" in report_text(screen)
            assert screen.live.bar.total == 3 and screen.live.bar.progress == 3
        # every turn: a forced tool call, then the answer
        assert fake.served() == 3 * 2 * 2


async def test_a_sweep_draws_latency_against_throughput(paths: Paths) -> None:
    with fake_vllm() as fake:
        app, _ = app_with(paths, fake.url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_bench(pilot)
            fill(screen, num_prompts="6", output_len="4", runs="3")
            screen.form.sweep.value = True
            await pilot.press("ctrl+r")
            await until(pilot, lambda: screen.result is not None, 60)
            result = screen.result
            assert result is not None
            stages = [p["stage"] for p in result["sweep"]]
            # a third stage when throughput beat one-at-a-time (a busy 2-core box may not)
            assert stages[:2] == ["synchronous", "throughput"] and len(stages) <= 3
            assert all(p["completed"] == 6 for p in result["sweep"])
            assert screen.plot.display
            report = report_text(screen)
            assert "STAGE" in report and "synchronous" in report
            assert "latency vs throughput" not in report  # the plot is a widget here
        assert fake.served() == 6 * len(stages)


async def test_b_and_the_command_palette_open_the_bench(paths: Paths) -> None:
    app, _ = app_with(paths)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause()
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Bench")
        app.call_later(command.callback)
        await until(pilot, lambda: isinstance(app.screen, BenchScreen))
        assert "Bench" not in [c.title for c in app.get_system_commands(app.screen)]
        stack = list(app.screen_stack)
        app.action_open_bench()  # b on the Bench screen opens no second one
        await pilot.pause()
        assert app.screen_stack == stack
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_saved_runs_are_listed_shown_and_compared(paths: Paths) -> None:
    with fake_vllm() as fake:
        app, _ = app_with(paths, fake.url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_bench(pilot)
            for n in ("3", "5"):
                screen.result = None
                fill(screen, num_prompts=n, output_len="4")
                await pilot.press("ctrl+r")
                await until(pilot, lambda: screen.result is not None, 30)
                await finish(pilot, screen)
            await until(pilot, lambda: screen.runs.row_count == 2)
            a, b = (r["name"] for r in run_summaries(paths))
            screen.tabs.active = "tab-runs"
            screen.runs.focus()
            await pilot.pause()
            await pilot.press("c")  # nothing marked: a hint, no compare
            await pilot.press("up", "space", "down", "space")
            assert screen.runs.marked == [a, b]
            await pilot.press("c")
            await until(pilot, lambda: "B/A" in report_text(screen))
            lines = [line.split() for line in report_text(screen).splitlines()]
            assert ["completed", "3.00", "5.00", "+2.00", "1.67x"] in lines
            assert screen.tabs.active == "tab-report"
            # Enter on a run shows its report
            screen.tabs.active = "tab-runs"
            screen.runs.focus()
            await pilot.pause()
            await pilot.press("up", "enter")
            await until(pilot, lambda: "Serving Benchmark Result" in report_text(screen))
            lines = [line.split() for line in report_text(screen).splitlines()]
            assert ["Successful", "requests:", "3"] in lines
            assert status_text(screen) == f"saved run {a}"
