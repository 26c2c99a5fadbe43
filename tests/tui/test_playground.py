"""The playground screen: bad input stays local, a sweep fills grid and samples, Escape stops it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from textual.widgets import Input, Select, SelectionList, Static

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.playground.examples import EXAMPLES
from naptha_tui.backends.playground.spec import Spec
from naptha_tui.tui.screens.dashboard import DashboardScreen
from naptha_tui.tui.screens.playground import PlaygroundScreen
from naptha_tui.tui.widgets.playground_form import PlaygroundForm
from naptha_tui.tui.widgets.playground_results import GridTable, SampleTable
from tests.fakes.playground import CALL_RAW, WEATHER_TEXT
from tests.tui.playground_common import (
    SIZE,
    Engines,
    app_with,
    error,
    filled,
    open_playground,
    run_and_settle,
    weather_spec,
)
from tests.tui.test_dashboard import until


async def test_t_opens_the_playground_and_escape_closes_it(paths: Paths) -> None:
    engines = Engines()
    app = app_with(paths, engines)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        assert screen.form.served == ["smollm2-135m"]
        # the engine was built for the node's target: the proxy and the preset's notes
        target = engines.last.target
        assert target.proxy_url == "http://127.0.0.1:4000"
        assert target.models["smollm2-135m"].parser == "naptha_hermes"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await until(pilot, lambda: engines.last.closed)


async def test_the_command_palette_offers_the_playground(paths: Paths) -> None:
    app = app_with(paths, Engines())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Playground" in titles
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Playground")
        app.call_later(command.callback)  # as the palette does: inside the app
        await until(pilot, lambda: isinstance(app.screen, PlaygroundScreen))
        screen = app.screen
        assert isinstance(screen, PlaygroundScreen)
        await until(pilot, lambda: screen.form.model.value == "smollm2-135m")
        assert "Playground" not in [c.title for c in app.get_system_commands(app.screen)]


# -- bad input: shown under its field, nothing sent ----------------------------------------
def set_tools(text: str) -> Any:
    def apply(form: PlaygroundForm) -> None:
        form.tools.text = text

    return apply


def set_mode(mode: str, key: str, value: str) -> Any:
    def apply(form: PlaygroundForm) -> None:
        form.fill(weather_spec(modes=[mode]))
        form.query_one(f"#{key}", Input).value = value

    return apply


def set_input(key: str, value: str) -> Any:
    def apply(form: PlaygroundForm) -> None:
        form.query_one(f"#{key}", Input).value = value

    return apply


def unserved(form: PlaygroundForm) -> None:
    form.fill(weather_spec(model="qwen2.5-7b"))


BAD_WEATHER = [
    {
        **EXAMPLES["weather"][0],
        "function": {"name": "get_weather", "parameters": {"type": "objekt"}},
    }
]


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (set_tools('[{"name": "get_weather",'), "tools", "tools: not JSON: Expecting"),
        (
            set_tools(json.dumps(BAD_WEATHER)),
            "tools",
            "tools[get_weather].function.parameters: not a valid JSON Schema: 'objekt' is not",
        ),
        (set_mode("regex", "regex", "("), "regex", "regex: invalid: missing ), unterminated"),
        (set_mode("choice", "choice", ""), "choice", "choice: needs at least one non-empty choice"),
        (
            set_input("temperatures", "0,3"),
            "temperatures",
            "temperatures: 3 is out of range [0, 2]",
        ),
        (
            set_input("temperatures", "0,warm"),
            "temperatures",
            "temperatures: 'warm' is not a number",
        ),
        (set_input("samples", "0"), "samples", "samples: 0 is out of range [1, 1000]"),
        (
            unserved,
            "model",
            "model: 'qwen2.5-7b' is not served by the proxy (it serves: smollm2-135m)",
        ),
    ],
    ids=[
        "tools-not-json",
        "parameters-not-a-schema",
        "bad-regex",
        "empty-choice",
        "temperature-3",
        "temperature-not-a-number",
        "no-samples",
        "model-not-served",
    ],
)
async def test_bad_input_is_shown_under_its_field_and_nothing_is_sent(
    paths: Paths, change: Any, key: str, expected: str
) -> None:
    engines = Engines()
    app = app_with(paths, engines)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        screen.form.fill(weather_spec())
        change(screen.form)
        await pilot.pause()
        await run_and_settle(pilot, screen)
        await until(pilot, lambda: expected in error(screen, key))
        status = str(screen.status.content)
        assert status.startswith("nothing was sent:"), status
        assert engines.swept() == 0 and engines.sent() == 0
        assert screen.samples.row_count == 0
        # the other fields say nothing
        others = ("model", "tools", "regex", "choice", "temperatures", "samples")
        assert all(not error(screen, k) for k in others if k != key)


async def test_tools_are_checked_as_you_type_and_offer_their_modes(paths: Paths) -> None:
    app = app_with(paths, Engines())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        form = screen.form
        form.tools.focus()
        await pilot.press(*'{"name": "get_weather"')
        await until(pilot, lambda: "tools: not JSON" in error(screen, "tools"))
        await pilot.press("}")
        await until(pilot, lambda: not error(screen, "tools"))
        modes = form.query_one("#modes", SelectionList)
        await until(pilot, lambda: "tool:get_weather" in [o.prompt for o in modes.options])
        # a ready example replaces the editor's text
        form.query_one("#example", Select).value = "assistant-4"
        await until(pilot, lambda: "tool:calculator" in [str(o.prompt) for o in modes.options])
        assert json.loads(form.tools.text) == EXAMPLES["assistant-4"]
        # a file path loads that file; a missing one says why under the field
        tools_file = paths.state_dir / "tools.json"
        tools_file.parent.mkdir(parents=True, exist_ok=True)
        tools_file.write_text(json.dumps(EXAMPLES["weather"]))
        path_input = form.query_one("#tools-file", Input)
        path_input.value = str(tools_file)
        await path_input.action_submit()
        await until(pilot, lambda: json.loads(form.tools.text or "null") == EXAMPLES["weather"])
        path_input.value = str(paths.state_dir / "absent.json")
        await path_input.action_submit()
        await until(pilot, lambda: "cannot read" in error(screen, "tools"))


async def test_the_mode_field_shows_when_its_mode_is_chosen(paths: Paths) -> None:
    app = app_with(paths, Engines())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        form = screen.form
        boxes = ("schema", "regex", "choice", "grammar")
        assert not any(form.query_one(f"#{b}-box").display for b in boxes)
        form.modes.select("regex")
        await until(pilot, lambda: form.query_one("#regex-box").display)
        assert not form.query_one("#schema-box").display


# -- a sweep ----------------------------------------------------------------------------------
def cells(table: Any, row: int) -> list[str]:
    return [str(c) for c in table.get_row_at(row)]


async def test_a_valid_run_fills_the_grid_and_the_samples(paths: Paths) -> None:
    engines = Engines()
    app = app_with(paths, engines)
    async with app.run_test(size=SIZE) as pilot:
        screen = await filled(pilot)
        await run_and_settle(pilot, screen)
        await until(pilot, lambda: str(screen.status.content) == "done: 4 samples")
        fake = engines.last
        assert fake.swept == [weather_spec()]
        first = fake.sent[0]
        assert first["tool_choice"] == "required" and first["parallel_tool_calls"] is False
        assert first["tools"][0]["function"]["strict"] is True and first["seed"] == 7
        warnings = str(screen.warnings.content)
        assert (
            "temperature 0.7 is outside preset smollm2-cpu's reliable range [0, 0.3] "
            "for tool calls" in warnings
        )
        grid = screen.query_one(GridTable)
        assert grid.row_count == 4
        assert [cells(grid, i)[:5] for i in range(4)] == [
            ["tools-required", "0", "1", "1", "100%"],
            ["tools-required", "0.7", "1", "1", "100%"],
            ["tools-auto", "0", "1", "0", "0%"],
            ["tools-auto", "0.7", "1", "0", "0%"],
        ]
        table = screen.query_one(SampleTable)
        assert table.row_count == 4
        assert cells(table, 0) == ["tools-required", "0", "0", "VALID", "tool_calls", "14000", "41"]
        assert cells(table, 2)[:5] == ["tools-auto", "0", "0", "INVALID", "stop"]


async def test_escape_stops_a_sweep_and_keeps_what_landed(paths: Paths) -> None:
    gate = asyncio.Event()
    engines = Engines(gate=gate, hold_after=2)
    app = app_with(paths, engines)
    async with app.run_test(size=SIZE) as pilot:
        screen = await filled(pilot)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: engines.last.held.is_set() and screen.samples.row_count == 2)
        assert screen.running
        assert str(screen.status.content).startswith("running: 2 of 4 samples")
        await pilot.press("escape")
        await until(pilot, lambda: not screen.running)
        await until(pilot, lambda: str(screen.status.content).startswith("stopped: 2 samples"))
        assert engines.last.cancelled
        assert isinstance(app.screen, PlaygroundScreen)  # the first Escape only stops
        assert screen.samples.row_count == 2
        assert [cells(screen.grid, i)[2] for i in range(4)] == ["1", "1", "0", "0"]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


async def test_a_selected_sample_shows_raw_text_beside_parsed_calls(paths: Paths) -> None:
    engines = Engines()
    app = app_with(paths, engines)
    async with app.run_test(size=SIZE) as pilot:
        screen = await filled(pilot)
        await run_and_settle(pilot, screen)
        table = screen.samples
        table.focus()
        table.move_cursor(row=0)
        await pilot.pause()
        raw = str(screen.query_one("#raw", Static).content)
        parsed = str(screen.query_one("#parsed", Static).content)
        assert raw == CALL_RAW
        source = str(screen.query_one("#raw-source", Static).content)
        assert source == "from logprobs token ids, /detokenize"
        assert parsed.startswith("tools-required t=0 #0 seed=7\nverdict VALID\n")
        assert '"name": "get_weather"' in parsed and '"city": "Paris"' in parsed
        assert "finish_reason tool_calls" in parsed
        assert "✓ get_weather: arguments match its schema" in parsed

        await pilot.press("down", "down")  # tools-auto at 0: the answer went to content
        await until(pilot, lambda: WEATHER_TEXT in str(screen.query_one("#raw", Static).content))
        parsed = str(screen.query_one("#parsed", Static).content)
        assert "tool_calls none" in parsed and "✗ no tool call" in parsed

        await pilot.press("down")  # tools-auto at 0.7: a Hermes call written into content
        await until(pilot, lambda: "<tool_call>" in str(screen.query_one("#raw", Static).content))
        parsed = str(screen.query_one("#parsed", Static).content)
        assert (
            "content holds 1 call(s) in Hermes <tool_call> tags format (get_weather); "
            "read by: hermes, naptha_hermes; the server runs naptha_hermes" in parsed
        )

        await pilot.press("c")
        await until(pilot, lambda: app.clipboard.startswith("curl -s"))
        assert "curl -s http://127.0.0.1:4000/v1/chat/completions" in app.clipboard
        assert "$(cat /tmp/naptha-fake/proxy/master.key)" in app.clipboard
        assert '"temperature": 0.7' in app.clipboard
        await pilot.press("k")
        await until(pilot, lambda: "from openai import OpenAI" in app.clipboard)
        assert "extra_body={'return_tokens_as_token_ids': True}" in app.clipboard


async def test_x_names_where_a_samples_call_broke_and_shows_each_layer(paths: Paths) -> None:
    # the extra requests go out only when asked: none during the sweep, one explain per x
    engines = Engines()
    app = app_with(paths, engines)
    async with app.run_test(size=SIZE) as pilot:
        screen = await filled(pilot)
        await run_and_settle(pilot, screen)
        assert engines.last.explained == []
        pane = screen.query_one("#evidence-pane")
        table = screen.samples
        table.focus()
        table.move_cursor(row=2)  # tools-auto at 0: the model answered in prose
        await pilot.pause()
        assert not pane.display
        await pilot.press("x")
        await until(pilot, lambda: pane.display)
        text = str(screen.query_one("#evidence", Static).content)
        sample = engines.last.explained[-1]
        assert (sample.mode, sample.temperature, sample.layer) == ("tools-auto", 0.0, "model")
        assert text.startswith(f"layer model\n{sample.layer_reason}\n")
        assert "217 prompt tokens of max_model_len 2048" in text and "<tools>" in text
        for title in ("server, directly", "streamed from the server", "through the proxy"):
            assert title in text
        status = str(screen.status.content)
        assert status.startswith("tools-auto t=0 #0: layer model: ")

        await pilot.press("up", "up")  # a strict required call: every layer agrees
        await until(pilot, lambda: not pane.display)  # not explained yet
        await pilot.press("x")
        await until(pilot, lambda: pane.display)
        text = str(screen.query_one("#evidence", Static).content)
        assert engines.last.explained[-1].layer == "none" and text.startswith("layer none\n")
        assert 'get_weather({"city": "Paris", "unit": "celsius"})' in text

        await pilot.press("down", "down")  # back on the explained one: its evidence is kept
        await until(pilot, lambda: pane.display)
        assert str(screen.query_one("#evidence", Static).content).startswith("layer model\n")
        assert len(engines.last.explained) == 2


# -- sessions ---------------------------------------------------------------------------------
async def test_save_then_load_a_session_round_trips_the_form(paths: Paths) -> None:
    app = app_with(paths, Engines())
    spec = weather_spec(
        system="You call tools.",
        conversation=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
        ],
        modes=["tool:get_weather", "json_schema", "choice"],
        schema={"type": "object", "properties": {"city": {"type": "string"}}},
        choice=["sunny", "rainy"],
        temperatures=[0.0, 0.3],
        samples=3,
        stream=True,
        # no box in the form for these: they survive a load, an edit and a save
        expect_tool="get_weather",
        extra_body={"top_p": 0.9},
    )
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_playground(pilot)
        screen.form.fill(spec)
        await pilot.pause()
        assert screen.form.read() == (spec, [])
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen.query("#session-name").first(Input) is not None)
        await pilot.press(*"weather-check", "enter")
        await until(pilot, lambda: isinstance(app.screen, PlaygroundScreen))
        saved = paths.state_dir / "playground" / "weather-check.yaml"
        await until(pilot, saved.exists)

        screen.form.fill(Spec(model="smollm2-135m"))
        await pilot.pause()
        assert screen.form.read()[0] != spec
        await pilot.press("ctrl+o")
        await until(pilot, lambda: not isinstance(app.screen, PlaygroundScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PlaygroundScreen))
        await until(pilot, lambda: screen.form.read() == (spec, []))
        modes = screen.form.query_one("#modes", SelectionList)
        assert modes.selected == ["tool:get_weather", "json_schema", "choice"]
        assert screen.form.query_one("#choice-box").display
