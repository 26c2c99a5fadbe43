"""The load test's core against an in-process server that records what it received."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import pytest

from naptha_tui.backends.endpoints import Access
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.loadgen.arrivals import Arrivals
from naptha_tui.backends.loadgen.client import resolve_model
from naptha_tui.backends.loadgen.config import BenchConfig
from naptha_tui.backends.loadgen.run import LoadTest
from naptha_tui.backends.loadgen.sweep import Sweep, between
from naptha_tui.backends.loadgen.workloads import (
    AgentWorkload,
    RandomWorkload,
    ThinkTime,
    length_range,
    tool_result,
)
from tests.fakes.chat_stream import ChatStream


@pytest.fixture
def fake() -> Iterator[ChatStream]:
    with ChatStream(models=("m",)) as server:
        yield server


def access(fake: ChatStream) -> Access:
    return Access(fake.url, "sk-test", "fake", via_proxy=False)


def test_poisson_arrivals_take_n_over_rate_seconds_and_follow_the_seed() -> None:
    a = Arrivals(request_rate=4.0)
    offsets = a.offsets(100, seed=1)
    assert offsets == sorted(offsets) and math.isclose(offsets[-1], 100 / 4.0)
    assert a.offsets(100, seed=1) == offsets != a.offsets(100, seed=2)
    assert Arrivals().offsets(5, seed=0) == [0.0] * 5  # inf: all at once
    assert Arrivals(4.0, burstiness=math.inf).offsets(4, 0) == [0.25, 0.5, 0.75, 1.0]


def test_a_linear_ramp_goes_from_start_to_end_rate() -> None:
    a = Arrivals(ramp_up="linear", ramp_up_start_rps=1, ramp_up_end_rps=9)
    assert [a.rate_at(i, 5) for i in range(5)] == [1, 3, 5, 7, 9]
    e = Arrivals(ramp_up="exponential", ramp_up_start_rps=1, ramp_up_end_rps=16)
    assert [e.rate_at(i, 5) for i in range(5)] == [1, 2, 4, 8, 16]


@pytest.mark.parametrize(
    ("config", "culprit"),
    [
        (BenchConfig("m", arrivals=Arrivals(request_rate=0)), "--request-rate"),
        (BenchConfig("m", max_concurrency=0), "--max-concurrency"),
        (BenchConfig("m", RandomWorkload(num_prompts=0)), "--num-prompts"),
        (BenchConfig("m", AgentWorkload(agents=0)), "--agents"),
        (BenchConfig("m", AgentWorkload(), endpoint="completions"), "chat endpoint"),
        (BenchConfig("m", arrivals=Arrivals(burstiness=0)), "--burstiness"),
        (BenchConfig("m", arrivals=Arrivals(ramp_up="linear")), "--ramp-up-start-rps"),
    ],
)
def test_bad_input_names_the_flag_and_sends_nothing(
    fake: ChatStream, config: BenchConfig, culprit: str
) -> None:
    with pytest.raises(NapthaError, match=culprit.replace("-", r"\-")):
        LoadTest(config, access(fake))
    assert fake.bodies == []


def test_think_time_specs() -> None:
    assert ThinkTime.parse("2") == ThinkTime("const", 2.0)
    assert ThinkTime.parse("exp:1.5") == ThinkTime("exp", 1.5)
    assert ThinkTime.parse("uniform:1,3") == ThinkTime("uniform", 1.0, 3.0)
    for bad in ("-1", "exp:0", "uniform:3,1", "gauss:1", "soon"):
        with pytest.raises(NapthaError, match="--think-time"):
            ThinkTime.parse(bad)


def test_lengths_follow_vllms_range_ratio() -> None:
    assert length_range(64, 0.0) == (64, 64)
    assert length_range(64, 0.5) == (32, 96)
    prompts = RandomWorkload(200, 64, 16, 0.5).prompts(seed=3)
    assert all(32 <= p.input_words <= 96 and 8 <= p.max_tokens <= 24 for p in prompts)
    assert len({p.input_words for p in prompts}) > 10


def run(config: BenchConfig, fake: ChatStream) -> dict[str, object]:
    return asyncio.run(LoadTest(config, access(fake)).run())


def test_the_same_seed_sends_the_same_prompts(fake: ChatStream) -> None:
    config = BenchConfig("m", RandomWorkload(20, 12, 3), max_concurrency=5, seed=11)
    run(config, fake)
    first = sorted(b["messages"][0]["content"] for b in fake.bodies)
    fake.bodies.clear()
    run(config, fake)
    second = sorted(b["messages"][0]["content"] for b in fake.bodies)
    fake.bodies.clear()
    run(BenchConfig("m", RandomWorkload(20, 12, 3), max_concurrency=5, seed=12), fake)
    other = sorted(b["messages"][0]["content"] for b in fake.bodies)
    assert first == second != other
    assert len(set(first)) == 20


def test_a_run_counts_every_request_and_its_tokens(fake: ChatStream) -> None:
    result = run(BenchConfig("m", RandomWorkload(30, 8, 4), max_concurrency=4), fake)
    assert (result["completed"], result["failed"]) == (30, 0)
    assert result["total_output_tokens"] == 30 * 4 and result["total_input_tokens"] == 30 * 5
    assert len(fake.bodies) == 30
    body = fake.bodies[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 4 and "ignore_eos" not in body


def test_the_completions_endpoint_sends_a_prompt(fake: ChatStream) -> None:
    config = BenchConfig("m", RandomWorkload(5, 8, 3), endpoint="completions", ignore_eos=True)
    result = run(config, fake)
    assert result["completed"] == 5
    assert all(isinstance(b["prompt"], str) and b["ignore_eos"] for b in fake.bodies)


def test_failures_are_counted_by_cause() -> None:
    with ChatStream(fail_every=3) as fake:
        result = run(BenchConfig("m", RandomWorkload(9, 4, 2), max_concurrency=1), fake)
    assert (result["completed"], result["failed"]) == (6, 3)
    assert result["failures"] == {"HTTP 500: engine dead": 3}


def test_a_closed_port_fails_every_request_with_connect() -> None:
    with ChatStream() as fake:
        gone = access(fake)
    result = asyncio.run(LoadTest(BenchConfig("m", RandomWorkload(3, 4, 2)), gone).run())
    assert result["failed"] == 3 and result["failures"] == {"connect": 3}


def test_cancelling_stops_and_reports_what_completed() -> None:
    with ChatStream(delay=0.05) as fake:
        test = LoadTest(
            BenchConfig("m", RandomWorkload(200, 4, 8), max_concurrency=2), access(fake)
        )

        async def go() -> dict[str, object]:
            task = asyncio.create_task(test.run())
            while test.live.completed < 4:
                await asyncio.sleep(0.02)
            test.cancel()
            return await task

        result = asyncio.run(go())
    assert result["cancelled"] is True
    assert 4 <= result["completed"] < 200  # type: ignore[operator]
    assert result["failed"] == 0 and result["incomplete"] <= 2  # type: ignore[operator]
    # a request cancelled before its body went out never reached the server
    sent = len(fake.bodies)
    assert result["completed"] <= sent <= result["completed"] + result["incomplete"]  # type: ignore[operator]


def test_agents_grow_their_conversations_and_carry_tool_results(fake: ChatStream) -> None:
    workload = AgentWorkload(
        agents=3, turns=2, tool_probability=1.0, think_time=ThinkTime("const", 0.01)
    )
    result = run(BenchConfig("m", workload, max_concurrency=2, seed=5), fake)
    assert result["agents"] == {"total": 3, "finished": 3, "turns": 2}
    assert result["completed"] == 3 * 2 * 2 and result["failed"] == 0
    for agent in range(3):
        mine = [b for b in fake.bodies if b["messages"][1]["content"].startswith(f"Agent {agent},")]
        assert len(mine) == 4
        assert [len(b["messages"]) for b in mine] == [2, 4, 6, 8]
        assert mine[0]["tool_choice"]["function"]["name"] == "lookup"
        tools = [[m["content"] for m in b["messages"] if m["role"] == "tool"] for b in mine]
        assert tools == [
            [],
            [tool_result(agent, 0)],
            [tool_result(agent, 0)],
            [tool_result(agent, 0), tool_result(agent, 1)],
        ]
        # every request starts with the one shared system prompt
        assert len({b["messages"][0]["content"] for b in fake.bodies}) == 1


async def test_a_model_the_target_does_not_serve_is_refused(fake: ChatStream) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        assert await resolve_model(client, access(fake), None) == "m"
        with pytest.raises(NapthaError, match=r"--model 'nope'.*serves: m.*nothing was sent"):
            await resolve_model(client, access(fake), "nope")
    assert fake.bodies == []


def test_a_sweep_runs_synchronous_throughput_then_rates_between() -> None:
    assert between(1.0, 4.0, 5) == [1.75, 2.5, 3.25]
    assert between(4.0, 4.0, 5) == []  # a server that does not scale: nothing between
    with ChatStream(delay=0.03) as fake:  # slow tokens: three at once beat one at a time
        sweep = Sweep(
            BenchConfig("m", RandomWorkload(6, 4, 4), max_concurrency=3), access(fake), runs=4
        )
        doc = asyncio.run(sweep.run())
    stages = [p["stage"] for p in doc["sweep"]]
    assert stages[:2] == ["synchronous", "throughput"] and len(stages) == 4
    assert all(s.startswith("rate ") for s in stages[2:])
    low, high = doc["sweep"][0]["request_throughput"], doc["sweep"][1]["request_throughput"]
    rates = [p["request_rate"] for p in doc["sweep"][2:]]
    assert all(low < r < high for r in rates) and rates == sorted(rates)
    assert len(fake.bodies) == 6 * 4
