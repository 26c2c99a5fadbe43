"""The one process lifecycle, server keys, the locked server door, and re-adoption.

Real processes (tests/fakes/fake_vllm.py, which guards /v1 with VLLM_API_KEY as vLLM does),
real ports and HTTP.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import psutil
import pytest

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import load_preset_file
from naptha_tui.backends.servers.keys import ServerKeys, key_env, read_or_create_secret
from naptha_tui.backends.servers.managed import (
    NODE_ENV,
    RECORD_ENV,
    ManagedProcess,
    adoptable,
    node_id,
    poll_until,
)
from naptha_tui.backends.servers.supervisor import Supervisor
from naptha_tui.backends.servers.vllm import PresetProblem
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord
from naptha_tui.proxy.node import Node
from tests.conftest import write_preset


def preset(paths: Paths, name: str = "fake", extra: str = ""):  # type: ignore[no-untyped-def]
    text = f"model: org/model\nruntime: fake\nserved_model_name: m-{name}\n{extra}"
    return load_preset_file(write_preset(paths.user_presets_dir, name, text))


async def ready_fake(sup: Supervisor, paths: Paths) -> ProcessRecord:
    """Launch the fake server and wait until it serves (its probe sends the key)."""
    record = sup.launch(sup.plan([preset(paths)])[0])
    [status] = await sup.wait_ready(["fake"], timeout=20, poll_s=0.2)
    assert status.status == "ready", status.reason
    return record


def seen(pid: int) -> str:
    """What ``pid`` is now: its state and command line, or why it cannot be read."""
    try:
        proc = psutil.Process(pid)
        return f"{proc.status()} {proc.cmdline()}"
    except psutil.Error as exc:
        return repr(exc)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_file_is_private_stable_and_made_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "a.key"
    key = read_or_create_secret(path)
    assert key.startswith("sk-") and len(key) > 40
    assert read_or_create_secret(path) == key
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_key_env_names_are_environment_safe() -> None:
    assert key_env("smollm2-cpu-x2-0") == "NAPTHA_KEY_SMOLLM2_CPU_X2_0"
    assert key_env("a.b") == "NAPTHA_KEY_A_B"


def test_keys_lookup_prefers_the_generated_file(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ServerKeys(paths)
    generated = keys.key("srv")
    assert keys.environ() == {"NAPTHA_KEY_SRV": generated}
    assert keys.lookup("NAPTHA_KEY_SRV") == generated
    monkeypatch.setenv("MY_SERVER_KEY", "sk-chosen")
    assert keys.lookup("MY_SERVER_KEY") == "sk-chosen"
    assert keys.lookup("UNSET_VARIABLE_X") is None and keys.lookup(None) is None


async def test_server_gets_its_own_key_and_probes_use_it(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    try:
        record = await ready_fake(sup, paths)  # the probe sent the key
        assert record.api_key_env == "NAPTHA_KEY_FAKE"
        key = ServerKeys(paths).file("fake").read_text().strip()
        assert key not in json.dumps(record.argv)  # never on the command line
        guard = paths.state_dir / "vllm-guard" / "naptha_vllm_guard.py"
        assert "class NapthaGuard" in guard.read_text()  # copied where PYTHONPATH points
        base = f"http://127.0.0.1:{record.port}"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/v1/models")).status_code == 401
            bad = {"Authorization": "Bearer sk-wrong"}
            assert (await http.get(f"{base}/v1/models", headers=bad)).status_code == 401
            good = {"Authorization": f"Bearer {key}"}
            assert (await http.get(f"{base}/v1/models", headers=good)).status_code == 200
        # a restart keeps the key (the proxy holds it by reference)
        again = await sup.restart("fake")
        [status] = await sup.wait_ready(["fake"], timeout=20, poll_s=0.2)
        # seen once under two busy test workers: `crashed` with an empty log; say what ran
        assert status.status == "ready", (status.reason, seen(again.pid), again.argv)
        assert ServerKeys(paths).file("fake").read_text().strip() == key
    finally:
        await sup.stop("fake")
        await sup.aclose()


async def test_logs_are_private(paths: Paths, fake_runtime_settings: Settings) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    record = sup.launch(sup.plan([preset(paths)])[0])
    try:
        assert mode(paths.log_dir) == 0o700
        assert mode(record.log_path) == 0o600
    finally:
        await sup.stop("fake")
        await sup.aclose()
    sup.launch(sup.plan([preset(paths)])[0])  # the previous run's log is kept, still private
    try:
        assert mode(record.log_path.with_suffix(".log.1")) == 0o600
        assert mode(record.log_path) == 0o600
    finally:
        await sup.stop("fake")
        await sup.aclose()


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_non_loopback_server_needs_a_chosen_key(
    paths: Paths, fake_runtime_settings: Settings, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    with pytest.raises(PresetProblem, match=rf"fake.yaml: host: {host} is not a loopback"):
        sup.plan([preset(paths, extra=f"host: '{host}'\n")])
    p = preset(paths, extra=f"host: '{host}'\napi_key_env: FAKE_CHOSEN_KEY\n")
    with pytest.raises(PresetProblem, match="api_key_env: environment variable FAKE_CHOSEN_KEY"):
        sup.plan([p])
    assert not (paths.state_dir / "keys").exists()  # planning starts and writes nothing


def test_chosen_key_opens_every_interface(
    paths: Paths, fake_runtime_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CHOSEN_KEY", "sk-operator")
    monkeypatch.setenv("VLLM_API_KEY", "sk-inherited-from-the-panel")
    p = preset(paths, extra="host: 0.0.0.0\napi_key_env: FAKE_CHOSEN_KEY\n")
    [plan] = Supervisor(paths, fake_runtime_settings).plan([p])
    assert plan.api_key_env == "FAKE_CHOSEN_KEY" and "VLLM_API_KEY" not in plan.env


async def test_children_carry_the_node_mark_and_their_record(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    try:
        # until it serves: mid-exec (the fake's `#!/usr/bin/env python3`) /proc shows no env
        record = await ready_fake(sup, paths)
        env = psutil.Process(record.pid).environ()
        assert env[NODE_ENV] == node_id(paths)
        marked = ProcessRecord.model_validate(
            {**json.loads(env[RECORD_ENV]), "pid": 0, "create_time": 0}
        )
        assert (marked.name, marked.port, marked.preset) == ("fake", record.port, "fake")
        assert [r.name for r in adoptable(paths)] == ["fake"]
        other = Paths(paths.config_dir, paths.data_dir, paths.state_dir / "other", paths.log_dir)
        assert adoptable(other) == []  # another node's children are never taken
    finally:
        await sup.stop("fake")
        await sup.aclose()
    assert adoptable(paths) == []


async def test_unreadable_state_file_re_adopts_children_and_warns(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    record = sup.launch(sup.plan([preset(paths)])[0])
    await sup.aclose()
    try:
        paths.state_file.write_text('{"version": 1, "servers": {"fake": ')  # torn
        async with Node(paths, fake_runtime_settings) as node:
            status = await node.status()
            [server] = status.servers
            assert (server.name, server.pid) == ("fake", record.pid)
            assert server.status in ("starting", "ready")
            [warning] = status.warnings
            assert "unreadable" in warning and "fake" in warning
            assert str(paths.state_file.with_suffix(".corrupt")) in warning
            fresh = json.loads(paths.state_file.read_text())  # a valid file again
            assert fresh["servers"]["fake"]["pid"] == record.pid
            assert mode(paths.state_file) == 0o600
            assert await node.down() == ["fake"]
        assert not psutil.pid_exists(record.pid) or psutil.Process(record.pid).status() == "zombie"
    finally:
        if ManagedProcess(record).alive:
            await ManagedProcess(record).stop(2.0)


async def test_poll_until_returns_the_settled_or_last_result() -> None:
    seen: list[int] = []

    async def poll() -> int:
        seen.append(len(seen))
        return seen[-1]

    assert await poll_until(poll, lambda n: n == 3, timeout=5, poll_s=0) == 3
    assert await poll_until(poll, lambda n: False, timeout=0, poll_s=0) == 4


@pytest.mark.parametrize(
    "name", ["smollm2-cpu", "smollm2-cpu-x2-0", "a.b_c-9", "qwen2.5-7b", "x", "late"]
)
def test_the_node_and_the_proxys_loader_name_key_variables_alike(name: str) -> None:
    # the loader runs inside LiteLLM (no naptha_tui there), so it has its own copy of the rule
    from naptha_tui.proxy.litellm.auth import key_env_name

    assert key_env(name) == key_env_name(name)


def test_servers_whose_key_variables_would_clash_are_refused(
    paths: Paths, fake_runtime_settings: Settings
) -> None:
    sup = Supervisor(paths, fake_runtime_settings)
    with pytest.raises(PresetProblem, match=r"a_b.yaml: name: server a_b would share its key"):
        sup.plan([preset(paths, "a-b"), preset(paths, "a_b")])
