"""The proxy is never exposed beyond this machine without a master key the operator chose, and
its generated key stays private (0600 file in a 0700 folder, never in the rendered config)."""

from __future__ import annotations

import asyncio
import os
import stat

import pytest
import yaml

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.servers.keys import ServerKeys
from naptha_tui.backends.settings import ProxySettings, Settings
from naptha_tui.proxy.litellm.config import Deployment
from naptha_tui.proxy.litellm.process import ProxyManager, ProxyProblem, is_loopback
from tests.unit.test_cli import assert_nothing_started, cli
from tests.unit.test_remote import free_port
from tests.unit.test_vllm_args import fake_prepared, ready_managed_runtime

KEY_ENV = "NAPTHA_TEST_PROXY_MASTER_KEY"


def manager(paths: Paths, settings: Settings, **proxy: object) -> ProxyManager:
    return ProxyManager(
        paths, settings.model_copy(update={"proxy": ProxySettings.model_validate(proxy)})
    )


def mode(path: os.PathLike[str]) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host) is True


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "", "10.0.0.5", "192.168.1.20", "example.org", "localhost.evil.com"]
)
def test_non_loopback_hosts(host: str) -> None:
    assert is_loopback(host) is False


def test_public_bind_without_master_key_env_is_refused(paths: Paths, settings: Settings) -> None:
    pm = manager(paths, settings, host="0.0.0.0")
    with pytest.raises(ProxyProblem) as info:
        pm.check_bind()
    message = str(info.value)
    assert "proxy.host" in message and "0.0.0.0" in message
    assert "proxy.master_key_env" in message


@pytest.mark.parametrize("value", [None, "", "not-an-sk-key", " sk-leading-space"])
def test_public_bind_with_missing_or_malformed_key_is_refused(
    paths: Paths, settings: Settings, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, value)
    pm = manager(paths, settings, host="10.0.0.5", master_key_env=KEY_ENV)
    with pytest.raises(ProxyProblem) as info:
        pm.check_bind()
    message = str(info.value)
    assert KEY_ENV in message and "proxy.master_key_env" in message and "sk-" in message


def test_public_bind_with_a_good_key_is_allowed(
    paths: Paths, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-operator-chosen-key")
    pm = manager(paths, settings, host="0.0.0.0", master_key_env=KEY_ENV)
    pm.check_bind()  # raises ProxyProblem if refused
    # checking writes nothing
    assert not pm.dir.exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_key(paths: Paths, settings: Settings, host: str) -> None:
    manager(paths, settings, host=host).check_bind()  # raises ProxyProblem if refused


def test_generated_master_key_is_private_and_stable(paths: Paths, settings: Settings) -> None:
    pm = ProxyManager(paths, settings)
    assert pm.client_key() is None
    key = pm.master_key()
    assert key.startswith("sk-") and len(key) >= 40
    assert pm.key_file == paths.state_dir / "proxy" / "master.key"
    assert pm.key_file.read_text() == key + "\n"
    assert mode(pm.key_file) == 0o600
    assert mode(pm.dir) == 0o700
    assert pm.master_key() == key
    assert ProxyManager(paths, settings).master_key() == key
    assert pm.client_key() == key


def test_master_key_from_the_environment_writes_no_file(
    paths: Paths, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-operator-chosen-key")
    pm = manager(paths, settings, master_key_env=KEY_ENV)
    assert pm.master_key() == "sk-operator-chosen-key"
    assert pm.client_key() == "sk-operator-chosen-key"
    assert not pm.key_file.exists()
    assert not pm.dir.exists()


def test_render_loads_the_hooks_and_holds_no_key(paths: Paths, settings: Settings) -> None:
    pm = ProxyManager(paths, settings)
    key = pm.master_key()
    text = pm.render(
        [
            Deployment("smollm2-cpu-x2-0", "smollm2-135m", "http://127.0.0.1:18100/v1"),
            Deployment("smollm2-cpu-x2-1", "smollm2-135m", "http://127.0.0.1:18101/v1"),
        ]
    )
    assert key not in text and key.removeprefix("sk-") not in text
    config = yaml.safe_load(text)
    assert config["litellm_settings"]["callbacks"] == ["naptha_routes.handler"]
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert "  - naptha_routes.handler\n" in text
    assert [e["model_info"]["id"] for e in config["model_list"]] == [
        "smollm2-cpu-x2-0",
        "smollm2-cpu-x2-1",
    ]


def test_render_with_an_operator_key_holds_no_key(
    paths: Paths, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-operator-chosen-key")
    pm = manager(paths, settings, host="0.0.0.0", master_key_env=KEY_ENV)
    text = pm.render([Deployment("a", "a", "http://127.0.0.1:18100/v1")])
    assert "sk-operator-chosen-key" not in text
    assert yaml.safe_load(text)["general_settings"]["master_key"] == (
        "os.environ/LITELLM_MASTER_KEY"
    )


def ready_everything_but_the_bind(paths: Paths) -> None:
    # both runtimes and the model look installed, so the bind check is what refuses
    ready_managed_runtime(paths, "cpu")
    ready_managed_runtime(paths, "proxy")
    fake_prepared(paths)


def test_cli_refuses_a_public_bind_without_a_key(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_everything_but_the_bind(paths)
    monkeypatch.setenv("NAPTHA_TUI_PROXY__HOST", "0.0.0.0")
    done = cli("up", "smollm2-cpu")
    assert done.returncode == 2, done.stderr
    assert "settings proxy.host: 0.0.0.0 is not a loopback address" in done.stderr
    assert "proxy.master_key_env" in done.stderr
    assert "not installed" not in done.stderr
    assert_nothing_started(paths)
    assert not (paths.state_dir / "proxy").exists()


def test_cli_refuses_a_public_bind_with_a_bad_key(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready_everything_but_the_bind(paths)
    monkeypatch.setenv("NAPTHA_TUI_PROXY__HOST", "0.0.0.0")
    monkeypatch.setenv("NAPTHA_TUI_PROXY__MASTER_KEY_ENV", KEY_ENV)
    monkeypatch.setenv(KEY_ENV, "password123")
    done = cli("up", "smollm2-cpu")
    assert done.returncode == 2, done.stderr
    assert f"settings proxy.master_key_env: environment variable {KEY_ENV}" in done.stderr
    assert "password123" not in done.stderr + done.stdout
    assert_nothing_started(paths)
    assert not (paths.state_dir / "proxy").exists()


def test_install_hooks_copies_the_auth_module_the_config_names(
    paths: Paths, settings: Settings
) -> None:
    pm = ProxyManager(paths, settings)
    pm.install_hooks()
    config = yaml.safe_load(pm.render([]))
    module, _, function = config["general_settings"]["custom_auth"].partition(".")
    copied = (pm.dir / f"{module}.py").read_text()
    assert f"async def {function}(" in copied
    assert "load_backend_keys" in copied and (pm.dir / "naptha_routes.py").is_file()
    assert "from naptha_tui" not in copied and "import naptha_tui" not in copied  # standalone


FAKE_LITELLM = """#!/usr/bin/env python3
import signal, sys, time
hups = 0
def hup(*_):
    global hups
    hups += 1
    print(f"SIGHUP {hups}", flush=True)
signal.signal(signal.SIGHUP, hup)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


async def test_a_key_file_made_again_reloads_the_proxy(paths: Paths, settings: Settings) -> None:
    """The workers hold the keys they loaded; a re-made key file changes no config line."""
    runtime = ready_managed_runtime(paths, "proxy")
    litellm = runtime.bin("litellm")
    litellm.write_text(FAKE_LITELLM)
    litellm.chmod(0o755)
    keys = ServerKeys(paths)
    keys.key("srv")
    pm = ProxyManager(paths, settings.model_copy(update={"proxy": ProxySettings(port=free_port())}))
    deployments = [Deployment("srv", "m", "http://127.0.0.1:9/v1", api_key_env="NAPTHA_KEY_SRV")]
    record, outcome = await pm.start(deployments)

    async def logged(line: str) -> bool:
        for _ in range(100):
            if line in record.log_path.read_text():
                return True
            await asyncio.sleep(0.05)
        return False

    try:
        assert outcome == "started" and await logged("ready")  # its SIGHUP handler is set
        assert (await pm.start(deployments))[1] == "unchanged"
        keys.file("srv").unlink()
        keys.key("srv")  # a new key, same name: same config text
        assert (await pm.start(deployments))[1] == "reloaded"
        assert (await pm.start(deployments))[1] == "unchanged"
        assert await logged("SIGHUP 1") and "SIGHUP 2" not in record.log_path.read_text()
    finally:
        await pm.stop()
