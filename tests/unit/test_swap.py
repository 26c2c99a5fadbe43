"""Swap and sleep mode through the real Node and supervisor, against the fake vLLM server; and a
start that hangs, restarted on every path that starts servers (up, swap, bringing the old server
back, restart).

The fake follows vLLM 0.32's sleep routes (``vllm/entrypoints/serve/dev/sleep/api_router.py``):
real processes, ports and HTTP; the sleep mode itself only exists on CUDA, ROCm and XPU.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import psutil
import pytest

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset
from naptha_tui.backends.servers.verdict import WontFit
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.gpu import GpuSample, GpuUnavailable
from naptha_tui.proxy.node import Node
from naptha_tui.proxy.node.memory import gpu_neighbours
from naptha_tui.proxy.node.swap import SwapFailed, arrange_choices, first_answer, why_not_here
from tests.conftest import write_preset
from tests.fakes.fake_proxy import PROXY_KEY, FakeProxy
from tests.fakes.node import FakeGpu, without_litellm

GIB = 2**30
CONFIGS = Path(__file__).parent.parent / "fixtures" / "model_configs"


def add(paths: Paths, name: str, extra: str = "") -> None:
    write_preset(
        paths.user_presets_dir,
        name,
        f"model: org/{name}\nruntime: fake\nserved_model_name: m-{name}\n{extra}",
    )


def dev_calls(paths: Paths, name: str) -> list[str]:
    """The sleep-mode calls the fake server logged, in order."""
    log = (paths.log_dir / f"{name}.log").read_text()
    return [line.split("fake-vllm dev: ", 1)[1] for line in log.splitlines() if "dev: " in line]


async def start(node: Node, name: str) -> None:
    preset = node.catalog.get(name)
    for plan in node.supervisor.plan([preset]):
        node.supervisor.launch(plan)
    statuses = await node.supervisor.wait_ready(preset.instance_names(), 20, poll_s=0.2)
    assert all(s.status == "ready" for s in statuses), statuses


@pytest.fixture
async def node(paths: Paths, fake_runtime_settings: Settings):  # type: ignore[no-untyped-def]
    n = Node(paths, fake_runtime_settings, gpu=FakeGpu())
    yield n
    await n.down()
    await n.aclose()


async def test_sleep_mode_swap_and_swap_back(paths: Paths, node: Node) -> None:
    add(paths, "sl-a", "sleep_mode: true\n")
    add(paths, "sl-b")
    await start(node, "sl-a")
    a_pid = node.state.load().servers["sl-a"].pid
    lines: list[str] = []

    report = await node.swap("sl-a", "sl-b", lines.append)
    assert (report.old_action, report.new_action) == ("slept", "started")
    statuses = {s.name: s for s in await node.supervisor.statuses()}
    assert statuses["sl-a"].status == "sleeping" and statuses["sl-a"].pid == a_pid
    assert statuses["sl-b"].status == "ready"
    # a sleeping server is left out of the proxy's model list
    assert [d.model_name for d in node.deployments(list(statuses.values()))] == ["m-sl-b"]
    assert [c for c in dev_calls(paths, "sl-a") if c.startswith("POST")] == [
        "POST /sleep?level=1 null"
    ]

    back = await node.swap("sl-b", "sl-a", lines.append)
    assert (back.old_action, back.new_action) == ("stopped", "woke")
    statuses = {s.name: s for s in await node.supervisor.statuses()}
    assert "sl-b" not in statuses  # stopped and forgotten, as `down` would
    assert statuses["sl-a"].status == "ready" and statuses["sl-a"].pid == a_pid  # same process
    assert [c.split()[1] for c in dev_calls(paths, "sl-a") if c.startswith("POST")] == [
        "/sleep?level=1",
        "/wake_up",
    ]
    assert node.state.load().servers["sl-a"].sleeping is None
    assert any("waking up" in line for line in lines)


async def test_level_two_wakes_by_reloading_the_weights(paths: Paths, node: Node) -> None:
    add(paths, "sl-two", "sleep_mode: true\nsleep_level: 2\n")
    add(paths, "sl-other")
    await start(node, "sl-two")
    await node.swap("sl-two", "sl-other", lambda _: None)
    assert node.state.load().servers["sl-two"].sleeping == 2
    await node.swap("sl-other", "sl-two", lambda _: None)
    posts = [c for c in dev_calls(paths, "sl-two") if c.startswith("POST")]
    assert [c.split()[1] for c in posts] == [
        "/sleep?level=2",
        "/wake_up?tags=weights",
        "/collective_rpc",
        "/wake_up?tags=kv_cache",
        "/reset_prefix_cache",
    ]
    assert json.loads(posts[2].split(" ", 2)[2]) == {"method": "reload_weights"}


async def test_a_server_without_sleep_mode_is_stopped_and_its_tree_is_gone(
    paths: Paths, node: Node
) -> None:
    add(paths, "st-a", "env: {FAKE_VLLM_STUBBORN_CHILD: '1'}\n")
    add(paths, "st-b")
    await start(node, "st-a")
    leader = psutil.Process(node.state.load().servers["st-a"].pid)
    tree = [leader, *leader.children(recursive=True)]
    assert len(tree) == 2
    report = await node.swap("st-a", "st-b", lambda _: None, timeout=30)
    assert report.old_action == "stopped" and report.messages == []
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)
    assert set(node.state.load().servers) == {"st-b"}


async def test_the_dev_routes_missing_is_a_clear_error(paths: Paths, node: Node) -> None:
    add(paths, "no-sleep")
    await start(node, "no-sleep")
    with pytest.raises(Exception, match="was not started with sleep mode"):
        await node.supervisor.sleep("no-sleep", 1)


async def test_bad_swaps_change_nothing(paths: Paths, node: Node) -> None:
    add(paths, "ok-a")
    await start(node, "ok-a")
    with pytest.raises(Exception, match=r"no local server named 'nope' \(running: ok-a\)"):
        await node.swap("nope", "ok-a", lambda _: None)
    with pytest.raises(Exception, match="unknown preset 'ghost'"):
        await node.swap("ok-a", "ghost", lambda _: None)
    with pytest.raises(Exception, match="already belongs to preset ok-a"):
        await node.swap("ok-a", "ok-a", lambda _: None)
    [s] = await node.supervisor.statuses()
    assert s.status == "ready"


def gpu_node_preset(paths: Paths, tmp_path: Path, name: str, extra: str = "") -> None:
    folder = tmp_path / "llama-3.1-8b"
    folder.mkdir(exist_ok=True)
    shutil.copy(CONFIGS / "llama-3.1-8b-instruct.json", folder / "config.json")
    write_preset(
        paths.user_presets_dir,
        name,
        f"model: {folder}\nruntime: fake\nserved_model_name: m-{name}\nmax_model_len: 8192\n"
        f"gpu_memory_utilization: 0.9\n{extra}",
    )


async def test_swap_to_what_will_not_fit_is_refused_and_a_keeps_serving(
    paths: Paths, fake_runtime_settings: Settings, tmp_path: Path
) -> None:
    # one 24 GiB GPU with 20 GiB held by someone else: 0.9 x 24 GiB cannot be had
    gpu = FakeGpu([GpuSample(0, "NVIDIA L4", "GPU-0", 24 * GIB, 20 * GIB, 3, 40, 30.0)])
    node = Node(paths, fake_runtime_settings, gpu=gpu)
    try:
        add(paths, "keep")
        gpu_node_preset(paths, tmp_path, "big")
        await start(node, "keep")
        lines: list[str] = []
        with pytest.raises(WontFit) as refused:
            await node.swap("keep", "big", lines.append)
        message = str(refused.value)
        assert "big" in message and "GiB" in message and "GPU 0" in message
        assert "other processes" in message  # who holds the memory
        assert refused.value.verdict.fits is False
        [s] = await node.supervisor.statuses()
        assert (s.name, s.status) == ("keep", "ready")
        assert not any("stopping" in line for line in lines)
        # `up` refuses it the same way, before starting anything
        with pytest.raises(WontFit):
            await node.check_memory(node.supervisor.plan([node.catalog.get("big")]), print)
        assert set(node.state.load().servers) == {"keep"}
    finally:
        await node.down()
        await node.aclose()


def test_servers_sharing_a_gpu_load_one_at_a_time(paths: Paths, tmp_path: Path) -> None:
    from naptha_tui.backends.presets import Preset
    from naptha_tui.backends.servers.vllm import LaunchPlan, dtype_choice

    def plan(name: str, runtime: str, env: dict[str, str]) -> LaunchPlan:
        preset = Preset(name=name, model="org/m", runtime=runtime)
        dtype = dtype_choice(preset)
        return LaunchPlan(
            name=name,
            kind="vllm",
            argv=[],
            env=env,
            host="127.0.0.1",
            port=1,
            cwd=tmp_path,
            startup_timeout=600.0,
            preset=preset,
            served_model_name=name,
            model="org/m",
            api_key_env="K",
            dtype=dtype,
        )

    a = plan("a", "cuda", {"CUDA_VISIBLE_DEVICES": "0"})
    b = plan("b", "cuda", {"CUDA_VISIBLE_DEVICES": "1"})
    c = plan("c", "cuda", {"CUDA_VISIBLE_DEVICES": "0,1"})
    cpu = plan("cpu", "cpu", {})
    assert gpu_neighbours(b, [a]) == []
    assert gpu_neighbours(c, [a, b]) == ["a", "b"]
    assert gpu_neighbours(cpu, [a, b, c]) == []
    assert gpu_neighbours(plan("d", "cuda", {}), [a, cpu]) == ["a"]  # no mask: GPU 0 first


# -- the start-up hang, in every path: a start whose log stays silent is restarted once --------


def hang_once(paths: Paths, name: str, mark: Path, waiting: str = "0") -> None:
    """Preset ``name``, whose server hangs at a start while ``mark`` is absent (and makes it),
    printing vLLM's still-waiting line every ``waiting`` seconds ("0": silent); 1 s without
    other output counts as hung."""
    env = f"env: {{FAKE_VLLM_HANG_ONCE: '{mark}', FAKE_VLLM_HANG_WAITING: '{waiting}'}}\n"
    add(paths, name, f"startup_stall_timeout: 1\n{env}")


def assert_restarted_once(node: Node, name: str, lines: list[str], mark: Path) -> None:
    """The hung start was restarted, once, said so through ``progress`` and left nothing."""
    notes = [line for line in lines if "while starting; restarted" in line]
    assert len(notes) == 1 and notes[0].startswith(f"{name}: no output for "), lines
    assert mark.exists()
    # the hung start's log was kept as .log.1 by the restart; the fake names its pid there
    found = re.search(r"pid=(\d+)", (node.paths.log_dir / f"{name}.log.1").read_text())
    assert found is not None
    hung = int(found.group(1))
    assert hung != node.state.load().servers[name].pid and not psutil.pid_exists(hung)


async def test_up_restarts_a_silent_start(
    paths: Paths, node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_litellm(node, monkeypatch)
    mark = tmp_path / "hung-once"
    hang_once(paths, "hu-a", mark)
    lines: list[str] = []
    done = await node.up([node.catalog.get("hu-a")], lines.append)
    assert [(s.name, s.status) for s in done.servers] == [("hu-a", "ready")], lines
    assert_restarted_once(node, "hu-a", lines, mark)


async def test_up_restarts_a_silent_start_a_neighbour_waits_for(
    paths: Paths, node: Node, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two servers on one GPU (no mask: GPU 0) load one at a time: hu-b waits for hu-a first
    without_litellm(node, monkeypatch)
    mark = tmp_path / "hung-once"
    hang_once(paths, "hu-a", mark)
    add(paths, "hu-b")
    lines: list[str] = []
    done = await node.up([node.catalog.get("hu-a"), node.catalog.get("hu-b")], lines.append)
    assert {(s.name, s.status) for s in done.servers} == {("hu-a", "ready"), ("hu-b", "ready")}
    assert "hu-b: waiting for hu-a to load first (shared GPU)" in lines
    assert_restarted_once(node, "hu-a", lines, mark)


async def test_swap_restarts_a_silent_start(paths: Paths, node: Node, tmp_path: Path) -> None:
    # as test_swap_keeps_the_other_model_serving saw it in CI: vLLM's engine, waiting on its
    # hung worker, prints its still-waiting line more often than the stall limit
    add(paths, "hs-a")
    mark = tmp_path / "hung-once"
    hang_once(paths, "hs-b", mark, waiting="0.3")
    await start(node, "hs-a")
    lines: list[str] = []
    report = await node.swap("hs-a", "hs-b", lines.append)
    assert (report.old_action, report.new_action) == ("stopped", "started")
    [s] = await node.supervisor.statuses()
    assert (s.name, s.status) == ("hs-b", "ready")
    assert_restarted_once(node, "hs-b", lines, mark)


async def test_a_swap_that_fails_restarts_a_silent_bring_back(
    paths: Paths, node: Node, tmp_path: Path
) -> None:
    mark = tmp_path / "hung-once"
    mark.touch()  # the first start of hb-a does not hang; bringing it back does
    hang_once(paths, "hb-a", mark)
    add(paths, "hb-bad", "env: {FAKE_VLLM_MODE: port-in-use}\n")
    await start(node, "hb-a")
    mark.unlink()
    lines: list[str] = []
    with pytest.raises(SwapFailed, match="hb-bad crashed"):
        await node.swap("hb-a", "hb-bad", lines.append)
    [s] = await node.supervisor.statuses()
    assert (s.name, s.status) == ("hb-a", "ready"), lines
    assert_restarted_once(node, "hb-a", lines, mark)


async def test_restart_server_restarts_a_silent_start(
    paths: Paths, node: Node, tmp_path: Path
) -> None:
    mark = tmp_path / "hung-once"
    mark.touch()
    hang_once(paths, "hr-a", mark)
    await start(node, "hr-a")
    mark.unlink()  # the restart hangs
    lines: list[str] = []
    s = await node.restart_server("hr-a", lines.append)
    assert (s.name, s.status) == ("hr-a", "ready"), lines
    assert_restarted_once(node, "hr-a", lines, mark)


# -- what the swap offers, and its last step ------------------------------------------
def test_why_not_here_names_the_runtime_the_device_and_the_model(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    settings = fake_runtime_settings
    no_gpu = GpuUnavailable("NVML library not found")
    on_gpu = Preset(name="g", model="org/m", runtime="cuda")
    assert why_not_here(on_gpu, paths, settings, []) == (
        "runtime cuda not installed: naptha-tui runtime install cuda"
    )
    unknown = Preset(name="u", model="org/m", runtime="nope")
    assert "unknown runtime 'nope'" in (why_not_here(unknown, paths, settings, []) or "")
    # the fake runtime is an installed external vllm that is not the cpu one: it needs a GPU
    fake = Preset(name="f", model="org/m", runtime="fake")
    assert why_not_here(fake, paths, settings, no_gpu) == (
        "needs a GPU; none can be read here (NVML library not found)"
    )
    assert why_not_here(fake, paths, settings, []) is None
    embedded = Preset(name="e", model="smollm2-135m", runtime="fake")
    assert why_not_here(embedded, paths, settings, []) == (
        "model smollm2-135m is not prepared: naptha-tui model prepare smollm2-135m"
    )


def test_what_can_start_here_is_offered_first_and_the_own_preset_not_at_all() -> None:
    presets = [
        Preset(name=n, model="org/m", runtime="cuda") for n in ("zeta", "alpha", "own", "mid")
    ]
    remote = Preset.model_validate(
        {"name": "peer", "kind": "remote", "base_url": "http://10.0.0.7:8000/v1", "models": ["q"]}
    )
    choices = arrange_choices([*presets, remote], "own", {"alpha": "needs a GPU"})
    assert [(c.preset.name, c.blocked) for c in choices] == [
        ("mid", None),
        ("zeta", None),
        ("alpha", "needs a GPU"),
    ]


async def test_the_new_model_answers_through_the_proxy_or_the_swap_says_why(
    paths: Paths, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeProxy(models=["m-x"]) as fake:
        monkeypatch.setenv("MY_PROXY_KEY", PROXY_KEY)
        proxy = {"port": fake.port, "master_key_env": "MY_PROXY_KEY"}
        node = Node(paths, Settings.model_validate({**settings.model_dump(), "proxy": proxy}))
        try:
            assert await first_answer(node, "m-x") > 0
            (seen,) = fake.chat
            assert seen.body["model"] == "m-x" and seen.body["max_tokens"] == 1
            monkeypatch.setenv("MY_PROXY_KEY", "wrong")
            with pytest.raises(NapthaError, match=r"m-x: no answer .* within 1 s \(HTTP 401"):
                await first_answer(node, "m-x", timeout=1)
            assert len(fake.chat) >= 2  # it asked again before giving up
        finally:
            await node.aclose()
