"""A cpu server starts clear of the cores other servers' workers spin on (the start-up hang:
MKL's core count pins the new process to each CPU of its affinity, and on a spinning core it
was not scheduled for minutes)."""

from __future__ import annotations

import asyncio
import os

import psutil
import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.affinity import bound_cpus, busy_cpus, start_cpus
from naptha_tui.backends.servers.supervisor import Supervisor
from naptha_tui.backends.settings import Settings
from tests.unit.test_supervisor import preset


@pytest.mark.parametrize(
    ("spec", "cpus"),
    [
        ("0", {0}),
        ("0-2", {0, 1, 2}),
        ("0,2", {0, 2}),
        ("0-1|2-3", {0, 1, 2, 3}),
        ("auto", None),
        ("nobind", None),
        ("all", None),
        ("", None),
        ("zero", None),
    ],
)
def test_the_cores_a_binding_names(spec: str, cpus: set[int] | None) -> None:
    assert bound_cpus({"VLLM_CPU_OMP_THREADS_BIND": spec}) == cpus


def test_a_server_bound_clear_of_busy_cores_starts_on_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    bind = {"VLLM_CPU_OMP_THREADS_BIND": "0"}
    assert start_cpus(bind, {1}) == {0, 2, 3}
    assert start_cpus(bind, set()) is None  # nothing spins elsewhere: as it is
    assert start_cpus(bind, {0}) is None  # bound onto a busy core: the preset's choice
    assert start_cpus({"VLLM_CPU_OMP_THREADS_BIND": "auto"}, {1}) is None  # vLLM's to resolve
    assert start_cpus({}, {1}) is None


async def test_the_second_server_starts_off_the_first_ones_worker_core(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.fail("this test needs two CPUs (the project's machines have two)")
    env = "env: {{FAKE_VLLM_WORKER: '1', VLLM_CPU_OMP_THREADS_BIND: '{}'}}\n"
    sup = Supervisor(paths, fake_runtime_settings)
    first = sup.launch(sup.plan([preset(paths, "busy", env.format(1))])[0])
    try:
        await sup.wait_ready(["busy"], timeout=20, poll_s=0.2)
        for _ in range(100):  # the worker names and pins itself once it runs
            if busy_cpus([first.pid]) == {1}:
                break
            await asyncio.sleep(0.05)
        assert busy_cpus([first.pid]) == {1}
        second = sup.launch(sup.plan([preset(paths, "next", env.format(0))])[0])
        allowed = set(psutil.Process(second.pid).cpu_affinity() or [])
        assert allowed == set(os.sched_getaffinity(0)) - {1}
        assert 1 not in allowed and 0 in allowed
        # an unbound server (vLLM's auto) is left where it is
        third = sup.launch(sup.plan([preset(paths, "free")])[0])
        assert set(psutil.Process(third.pid).cpu_affinity() or []) == set(os.sched_getaffinity(0))
    finally:
        for name in ("busy", "next", "free"):
            await sup.stop(name)
        await sup.aclose()
