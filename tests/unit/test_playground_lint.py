"""The playground's warnings from the preset's tool-calling notes, and the validity grid."""

from __future__ import annotations

from typing import Any

import pytest

from naptha_tui.backends.playground import examples
from naptha_tui.backends.playground.lint import CONTEXT_SHARE_WARN, PromptTokens, lint
from naptha_tui.backends.playground.results import Grid, Sample, Sweep
from naptha_tui.backends.playground.spec import (
    Spec,
    check,
)
from naptha_tui.backends.presets import PresetCatalog, ToolCapabilities
from tests.unit.playground_common import call, good_spec

# -- lint(): the embedded preset's tool-calling notes -----------------------------------------


@pytest.fixture(scope="module")
def caps() -> ToolCapabilities:
    preset = PresetCatalog(None).get("smollm2-cpu")
    assert preset.tools is not None
    return preset.tools


def lint_spec(**over: Any) -> Spec:
    """A session the embedded preset's notes find nothing wrong with."""
    fields: dict[str, Any] = {
        "model": "m",
        "prompt": examples.WEATHER_PROMPT,
        "tools": examples.tools(1),
        "modes": ["tools-required"],
        "temperatures": [0.0],
        "parallel_tool_calls": False,
    }
    return Spec.model_validate(fields | over)


def test_a_session_within_the_notes_has_no_warning(caps: ToolCapabilities) -> None:
    assert check(lint_spec()) == []
    assert lint(lint_spec(), caps) == []
    assert lint(lint_spec(tools=examples.tools(caps.tool_soft_cap)), caps) == []


def test_more_tools_than_the_soft_cap(caps: ToolCapabilities) -> None:
    n = caps.tool_soft_cap + 1
    [w] = lint(lint_spec(tools=examples.tools(n)), caps, preset="smollm2-cpu")
    assert f"{n} tools" in w and f"up to {caps.tool_soft_cap}" in w and "smollm2-cpu" in w


def test_temperature_outside_the_reliable_range(caps: ToolCapabilities) -> None:
    lo, hi = caps.temperature
    inside, outside = (lo + hi) / 2, hi + 0.4
    [w] = lint(lint_spec(temperatures=[inside, outside]), caps)
    assert f"{outside:g}" in w and f"{inside:g}," not in w
    assert f"[{lo:g}, {hi:g}]" in w


def test_parallel_tool_calls_must_be_false_for_a_family_without(caps: ToolCapabilities) -> None:
    assert caps.parallel_calls is False
    for value in (None, True):
        [w] = lint(lint_spec(parallel_tool_calls=value), caps)
        assert "parallel" in w and "false" in w
    assert lint(lint_spec(parallel_tool_calls=False), caps) == []
    with_parallel = caps.model_copy(update={"parallel_calls": True})
    assert lint(lint_spec(parallel_tool_calls=None), with_parallel) == []


def test_tool_results_for_a_model_without_multi_turn(caps: ToolCapabilities) -> None:
    assert caps.multi_turn_tool_results is False
    turns = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [call("get_weather", {"city": "Paris"})]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    spec = lint_spec(conversation=turns)
    assert check(spec) == []
    [w] = lint(spec, caps)
    assert "tool results" in w
    multi = caps.model_copy(update={"multi_turn_tool_results": True})
    assert lint(spec, multi) == []


def test_tools_auto_for_a_family_that_needs_guided_decoding(caps: ToolCapabilities) -> None:
    assert caps.needs_guided_decoding is True
    [w] = lint(lint_spec(modes=["tools-auto", "tools-required"]), caps)
    assert "guided decoding" in w and "tools-auto" in w
    assert lint(lint_spec(modes=["tools-required", "tool:get_weather"]), caps) == []


def test_no_tool_warnings_without_notes_or_without_tool_modes(caps: ToolCapabilities) -> None:
    reckless = lint_spec(
        tools=examples.tools(10),
        modes=["tools-auto"],
        temperatures=[1.5],
        parallel_tool_calls=None,
    )
    assert len(lint(reckless, caps)) == 4  # cap, temperature, parallel, guided
    assert lint(reckless, None) == []
    assert lint(reckless.model_copy(update={"modes": ["plain", "json_object"]}), caps) == []


def test_the_tools_share_of_the_context(caps: ToolCapabilities) -> None:
    spec = lint_spec()
    window = 2048
    heavy = PromptTokens(
        with_tools=100 + int(window * 0.3), without_tools=100, max_model_len=window
    )
    [w] = lint(spec, caps, heavy)
    assert f"{heavy.tools} tokens" in w and "30%" in w and f"{window}-token" in w
    light = PromptTokens(100 + int(window * (CONTEXT_SHARE_WARN - 0.05)), 100, window)
    assert lint(spec, caps, light) == []
    assert lint(spec, caps, PromptTokens(1900, 100, None)) == []  # window unknown


def test_prompt_plus_max_tokens_over_the_window(caps: ToolCapabilities) -> None:
    spec = lint_spec(max_tokens=300)
    over = PromptTokens(with_tools=1800, without_tools=1790, max_model_len=2048)
    [w] = lint(spec, caps, over)
    assert "1800 tokens" in w and "max_tokens (300)" in w and "max_model_len 2048" in w
    fits = PromptTokens(with_tools=1748, without_tools=1740, max_model_len=2048)
    assert lint(spec, caps, fits) == []
    assert len(lint(spec, None, over)) == 1  # the window is not a tool note


# -- Grid, Cell, Sweep arithmetic -------------------------------------------------------------


def sample(mode: str, t: float, valid: bool | None, error: str | None = None, i: int = 0) -> Sample:
    from naptha_tui.backends.playground.judge import Verdict

    s = Sample(mode, t, i, None, {})
    s.verdict = Verdict(valid)
    s.error = error
    s.latency_s = 0.1
    return s


def test_the_grid_counts_valid_checked_and_errors() -> None:
    spec = good_spec(modes=["tools-required", "grammar"], temperatures=[0.0, 0.7], samples=3)
    grid = Grid(spec)
    assert list(grid.cells) == [
        ("tools-required", 0.0),
        ("tools-required", 0.7),
        ("grammar", 0.0),
        ("grammar", 0.7),
    ]
    for valid, error in ((True, None), (False, None), (False, "HTTP 400: bad")):
        grid.add(sample("tools-required", 0.0, valid, error))
    grid.add(sample("grammar", 0.0, None))
    cell = grid.cells[("tools-required", 0.0)]
    assert (cell.samples, cell.valid, cell.checked, cell.errors) == (3, 1, 3, 1)
    assert cell.valid_rate == pytest.approx(1 / 3)
    grammar = grid.cells[("grammar", 0.0)]
    assert (grammar.samples, grammar.checked, grammar.valid_rate) == (1, 0, None)
    assert grid.cells[("grammar", 0.7)].valid_rate is None  # nothing yet


def test_sweep_json() -> None:
    spec = good_spec(modes=["plain", "regex"], temperatures=[0.0, 1.0], samples=2)
    sweep = Sweep(spec)
    sweep.add(sample("regex", 1.0, True, i=1))
    sweep.add(sample("plain", 0.0, False))
    sweep.add(sample("regex", 1.0, False, i=0))
    doc = sweep.to_json()
    assert doc["complete"] is False and doc["samples"] == 3 and doc["model"] == "m"
    assert len(doc["grid"]) == 4
    for entry in doc["grid"]:
        assert {"temperature", "mode", "samples", "valid", "valid_rate"} <= set(entry)
    by_cell = {(e["mode"], e["temperature"]): e for e in doc["grid"]}
    assert by_cell[("regex", 1.0)] | {"mean_latency_ms": None} == {
        "temperature": 1.0,
        "mode": "regex",
        "samples": 2,
        "valid": 1,
        "valid_rate": 0.5,
        "errors": 0,
        "mean_latency_ms": None,
        "right_tool_rate": None,
    }
    assert by_cell[("plain", 1.0)]["valid_rate"] is None
    assert [(s.mode, s.temperature, s.index) for s in sweep.ordered()] == [
        ("plain", 0.0, 0),
        ("regex", 1.0, 0),
        ("regex", 1.0, 1),
    ]
    for m, t in ((m, t) for m in ("plain", "regex") for t in (0.0, 1.0)):
        for i in range(2):
            if (m, t, i) not in {(s.mode, s.temperature, s.index) for s in sweep.samples}:
                sweep.add(sample(m, t, True, i=i))
    assert sweep.to_json()["complete"] is True
