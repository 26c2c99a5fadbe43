"""What the Bench screen's tests share: a fake vLLM to load, the app, and fixed states."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from textual.pilot import Pilot
from textual.widgets import Static

from naptha_tui.backends.loadgen.live import Progress
from naptha_tui.backends.loadgen.metrics import summarize
from naptha_tui.backends.loadgen.records import RequestRecord
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.settings import Settings
from naptha_tui.tui.app import NapthaTuiApp, make_app
from naptha_tui.tui.screens.bench import BenchScreen
from naptha_tui.tui.screens.dashboard import DashboardScreen
from tests.conftest import FAKE_VLLM, PY
from tests.fakes.node import FakeGpu, FakeNode, fake_host, server
from tests.tui.test_dashboard import until, workers_done

SIZE = (140, 44)
MODEL = "smollm2-135m"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakeVllm:
    url: str
    """Base URL, without ``/v1`` (what an ``Access`` holds)."""

    def served(self) -> int:
        """Chat requests it has answered (its ``vllm:request_success_total``)."""
        text = httpx.get(self.url + "/metrics", timeout=5).text
        match = re.search(r"^vllm:request_success_total\{[^}]*\} (\S+)$", text, re.M)
        assert match, text
        return int(float(match.group(1)))


@contextmanager
def fake_vllm(token_delay: float = 0.0) -> Iterator[FakeVllm]:
    """tests/fakes/fake_vllm.py serving ``smollm2-135m`` (``token_delay`` s between tokens)."""
    port = free_port()
    env = {**os.environ, "FAKE_VLLM_TOKEN_DELAY": str(token_delay)}
    command = [PY, str(FAKE_VLLM), "serve", "org/model", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--served-model-name", MODEL],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "fake vLLM exited"
            assert time.monotonic() < deadline, "fake vLLM never listened"
            time.sleep(0.05)
        yield FakeVllm(url)
    finally:
        proc.terminate()
        proc.wait(10)


def app_with(paths: Paths, url: str | None = None) -> tuple[NapthaTuiApp, FakeNode]:
    node = FakeNode([server()])
    if url is not None:
        node.bench_url = url
    app = make_app(paths, Settings(poll_seconds=60), node=node, gpu=FakeGpu(), read_host=fake_host)
    return app, node


async def open_bench(pilot: Pilot[None], model: str | None = MODEL) -> BenchScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))
    await pilot.press("b")
    await until(pilot, lambda: isinstance(pilot.app.screen, BenchScreen))
    screen = pilot.app.screen
    assert isinstance(screen, BenchScreen)
    if model is not None:
        await until(pilot, lambda: screen.form.model.value == model)
    await workers_done(pilot, "bench-targets", "run-models", "saved-runs")  # read on opening
    return screen


def fill(screen: BenchScreen, **values: str) -> None:
    for key, value in values.items():
        screen.form.set_value(key, value)


async def finish(pilot: Pilot[None], screen: BenchScreen, timeout: float = 30.0) -> None:
    await until(pilot, lambda: not screen.running, timeout)
    await pilot.pause()


def report_text(screen: BenchScreen) -> str:
    return str(screen.report.content)


def status_text(screen: BenchScreen) -> str:
    return str(screen.status.content)


def error_text(screen: BenchScreen, key: str) -> str:
    return str(screen.query_one(f"#{key.replace('_', '-')}-error", Static).content)


# -- fixed states for the snapshots ------------------------------------------------------
def progress(i: int, total: int = 200) -> Progress:
    """The ``i``-th of a run's snapshots (every 0.5 s): a rate that climbs, a TTFT that grows."""
    done = min(total, i * 3)
    return Progress(
        elapsed_s=i * 0.5,
        total=total,
        sent=min(total, done + 8),
        completed=done,
        failed=i // 10,
        in_flight=8,
        request_rate=min(6.0, 0.4 * i),
        median_ttft_ms=80.0 + 6.0 * i,
        p99_ttft_ms=140.0 + 11.0 * i,
        median_tpot_ms=21.5,
        median_e2el_ms=420.0 + 9.0 * i,
        output_throughput=min(96.0, 6.4 * i),
    )


def records(n: int = 40, gap: float = 0.25) -> list[RequestRecord]:
    """``n`` requests, one every ``gap`` s, with fixed timings (two of them failed)."""
    out = []
    for i in range(n):
        r = RequestRecord(i, scheduled=i * gap, start=i * gap + 0.001)
        if i in (7, 23):
            r.error = "HTTP 503"
        else:
            r.success = True
            r.ttft = 0.08 + 0.002 * (i % 9)
            r.itl = [0.02 + 0.001 * (j % 3) for j in range(15)]
            r.latency = r.ttft + sum(r.itl)
            r.prompt_tokens, r.output_tokens = 64, 16
        out.append(r)
    return out


def result(cancelled: bool = False) -> dict[str, Any]:
    """A finished random-prompts run through the proxy, as ``LoadTest.run`` returns it."""
    doc = summarize(records(), 10.0, (99.0,), None)
    doc.update(
        client_cpu_s=0.42,
        client_cpu_per_request_ms=10.5,
        client_cpu_percent=4.2,
        cancelled=cancelled,
        incomplete=3 if cancelled else 0,
        target={"label": "proxy", "base_url": "http://127.0.0.1:4000", "via_proxy": True},
        config={"model": MODEL, "workload": {"kind": "random", "num_prompts": 40}, "seed": 0},
        name="20261201-173015-proxy",
    )
    return doc


def sweep_result() -> dict[str, Any]:
    """A finished sweep of five stages: latency climbs with throughput."""
    doc = result()
    stages = [
        ("synchronous", 1.9, 1.9, 82.0, 410.0),
        ("throughput", "inf", 7.8, 950.0, 2900.0),
        ("rate 3.87", 3.87, 3.8, 110.0, 520.0),
        ("rate 5.83", 5.83, 5.6, 240.0, 880.0),
        ("rate 7.80", 7.8, 7.1, 610.0, 1900.0),
    ]
    doc["sweep"] = [
        {
            "stage": stage,
            "request_rate": rate,
            "completed": 40,
            "failed": 0,
            "request_throughput": tput,
            "output_throughput": tput * 16,
            "median_ttft_ms": ttft,
            "p99_ttft_ms": ttft * 1.6,
            "median_tpot_ms": 21.0,
            "median_itl_ms": 20.0,
            "median_e2el_ms": e2el,
            "p99_e2el_ms": e2el * 1.4,
        }
        for stage, rate, tput, ttft, e2el in stages
    ]
    doc["name"] = "20261201-174500-proxy"
    return doc
