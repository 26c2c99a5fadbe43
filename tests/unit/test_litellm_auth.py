"""The proxy's auth hook and backend-key loader (``proxy/litellm/auth.py``, run as naptha_auth.py).

LiteLLM is not installed here: the functions are called directly, and a stand-in
``litellm.proxy._types`` checks what the proxy gets. The proof against LiteLLM 1.108.7 itself
(401s on every agent route, keys loaded before a SIGHUP reload) was a manual experiment.
"""

from __future__ import annotations

import hmac
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.proxy.litellm import auth as litellm_auth
from naptha_tui.proxy.litellm import config
from naptha_tui.proxy.litellm.auth import (
    KEYS_DIR_ENV,
    MASTER_KEY_ENV,
    MISSING_KEY,
    NO_MASTER_KEY,
    WRONG_KEY,
    AuthRejected,
    key_env_name,
    key_matches,
    load_backend_keys,
    read_backend_keys,
    user_api_key_auth,
)

MASTER = "sk-" + "m" * 43


def write_key(folder: Path, server: str, text: str, mode: int = 0o600) -> Path:
    path = folder / f"{server}.key"
    path.write_text(text)
    path.chmod(mode)
    return path


# --- key_env_name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "env"),
    [
        ("alpha", "NAPTHA_KEY_ALPHA"),
        ("beta-1", "NAPTHA_KEY_BETA_1"),
        ("smollm2-cpu-x2-0", "NAPTHA_KEY_SMOLLM2_CPU_X2_0"),
        ("qwen2.5-7b_0", "NAPTHA_KEY_QWEN2_5_7B_0"),
    ],
)
def test_key_env_name(server: str, env: str) -> None:
    assert key_env_name(server) == env
    assert env.isidentifier()


# --- read_backend_keys -----------------------------------------------------------------------


def test_reads_one_key_per_server(tmp_path: Path) -> None:
    write_key(tmp_path, "alpha", "key-alpha\n")
    write_key(tmp_path, "beta-1", "  key-beta  \n\n")
    assert read_backend_keys(tmp_path) == {
        "NAPTHA_KEY_ALPHA": "key-alpha",
        "NAPTHA_KEY_BETA_1": "key-beta",
    }
    assert read_backend_keys(str(tmp_path)) == read_backend_keys(tmp_path)


def test_skips_what_is_not_a_key_file(tmp_path: Path) -> None:
    write_key(tmp_path, "good", "k1")
    write_key(tmp_path, "empty", "  \n")
    write_key(tmp_path, "two-words", "half key\n")
    write_key(tmp_path, "huge", "k" * (litellm_auth.MAX_KEY_BYTES + 1))
    (tmp_path / "latin1.key").write_bytes(b"\xff\xfe")
    (tmp_path / "notes.txt").write_text("not a key")
    (tmp_path / ".key").write_text("no server name")
    (tmp_path / ".hidden.key").write_text("editor swap file")
    (tmp_path / "folder.key").mkdir()
    (tmp_path / "link.key").symlink_to(tmp_path / "good.key")
    write_key(tmp_path, "unreadable", "k2", mode=0o000)
    keys = read_backend_keys(tmp_path)
    expected = {"NAPTHA_KEY_GOOD": "k1"}
    if os.geteuid() == 0:  # root reads a 0000 file
        expected["NAPTHA_KEY_UNREADABLE"] = "k2"
    assert keys == expected


def test_names_sharing_a_variable_load_neither(tmp_path: Path) -> None:
    write_key(tmp_path, "m-1", "key-a")
    write_key(tmp_path, "m.1", "key-b")
    write_key(tmp_path, "m_1", "key-c")
    write_key(tmp_path, "other", "key-d")
    assert read_backend_keys(tmp_path) == {"NAPTHA_KEY_OTHER": "key-d"}


@pytest.mark.parametrize("where", [None, "", "missing", "a-file"])
def test_no_folder_no_keys(tmp_path: Path, where: str | None) -> None:
    (tmp_path / "a-file").write_text("x")
    keys_dir = str(tmp_path / where) if where else where
    assert read_backend_keys(keys_dir) == {}


# --- load_backend_keys (the worker startup hook) ---------------------------------------------


def test_startup_hook_sets_the_keys_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_key(tmp_path, "beta-1", "key-beta")
    monkeypatch.setenv(KEYS_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("NAPTHA_KEY_BETA_1", "a stale key")
    monkeypatch.setenv("NAPTHA_KEY_ELSE", "kept")
    assert load_backend_keys() == 1  # called without arguments, as LiteLLM does
    assert os.environ["NAPTHA_KEY_BETA_1"] == "key-beta"
    assert os.environ["NAPTHA_KEY_ELSE"] == "kept"


def test_startup_hook_sees_keys_written_after_it_last_ran(tmp_path: Path) -> None:
    env = {KEYS_DIR_ENV: str(tmp_path)}
    write_key(tmp_path, "alpha", "key-alpha")
    assert load_backend_keys(env) == 1
    write_key(tmp_path, "beta-1", "key-beta")  # a server started after the proxy
    assert load_backend_keys(env) == 2  # the next worker (after SIGHUP) loads it
    assert env == {
        KEYS_DIR_ENV: str(tmp_path),
        "NAPTHA_KEY_ALPHA": "key-alpha",
        "NAPTHA_KEY_BETA_1": "key-beta",
    }


@pytest.mark.parametrize("keys_dir", [None, "/nonexistent/keys", "/dev/null"])
def test_startup_hook_never_raises(keys_dir: str | None) -> None:
    env: dict[str, str] = {} if keys_dir is None else {KEYS_DIR_ENV: keys_dir}
    assert load_backend_keys(env) == 0
    assert env == ({} if keys_dir is None else {KEYS_DIR_ENV: keys_dir})


# --- key_matches -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presented", "expected", "ok"),
    [
        (MASTER, MASTER, True),
        (MASTER + "x", MASTER, False),
        (MASTER[:-1], MASTER, False),
        ("", MASTER, False),
        (None, MASTER, False),
        ("", "", False),
        (None, None, False),
        ("anything", None, False),
        ("clé-ü", "clé-ü", True),  # not ASCII: compare_digest needs bytes for these
        ("clé-ü", "cle-u", False),
    ],
)
def test_key_matches(presented: str | None, expected: str | None, ok: bool) -> None:
    assert key_matches(presented, expected) is ok


def test_key_matches_compares_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module calls hmac.compare_digest
    assert key_matches("sk-a", "sk-a")
    assert not key_matches("sk-b", "sk-a")
    assert calls == [(b"sk-a", b"sk-a"), (b"sk-b", b"sk-a")]


# --- user_api_key_auth (custom_auth) ---------------------------------------------------------


class FakeRequest:
    """LiteLLM passes the Starlette request; the hook never reads it."""

    url = types.SimpleNamespace(path="/v1/chat/completions")
    headers: dict[str, str] = {}


async def test_the_master_key_gets_the_proxy_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, MASTER)
    identity = await user_api_key_auth(FakeRequest(), MASTER)
    assert identity == {
        "api_key": "litellm_proxy_master_key",
        "user_id": "default_user_id",
        "user_role": "proxy_admin",
    }


@pytest.mark.parametrize(
    ("api_key", "message"),
    [
        ("sk-wrong", WRONG_KEY),
        (MASTER + " ", WRONG_KEY),
        (MASTER.upper(), WRONG_KEY),
        ("", MISSING_KEY),  # 'Bearer ' alone, or an Authorization header without 'Bearer '
        (None, MISSING_KEY),  # no key header at all
    ],
)
async def test_anything_else_gets_a_401(
    monkeypatch: pytest.MonkeyPatch, api_key: str | None, message: str
) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, MASTER)
    with pytest.raises(AuthRejected) as caught:
        await user_api_key_auth(FakeRequest(), api_key)
    assert (caught.value.code, caught.value.type, caught.value.param) == (
        "401",
        "auth_error",
        "api_key",
    )
    assert caught.value.message == message == str(caught.value)


@pytest.mark.parametrize("master", [None, ""])
@pytest.mark.parametrize("api_key", ["", None, "sk-anything"])
async def test_without_a_master_key_nothing_gets_in(
    monkeypatch: pytest.MonkeyPatch, master: str | None, api_key: str | None
) -> None:
    if master is None:
        monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(MASTER_KEY_ENV, master)
    with pytest.raises(AuthRejected) as caught:
        await user_api_key_auth(FakeRequest(), api_key)
    assert caught.value.code == "401" and caught.value.message == NO_MASTER_KEY


async def test_the_master_key_is_read_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, "sk-old")
    assert await user_api_key_auth(FakeRequest(), "sk-old")
    monkeypatch.setenv(MASTER_KEY_ENV, "sk-new")
    with pytest.raises(AuthRejected):
        await user_api_key_auth(FakeRequest(), "sk-old")
    assert await user_api_key_auth(FakeRequest(), "sk-new")


@pytest.fixture
def fake_litellm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A stand-in ``litellm.proxy._types`` with the three names the hook imports."""

    class ProxyException(Exception):
        def __init__(self, message: str, type: str, param: str | None, code: Any = None) -> None:
            super().__init__(message)
            self.message, self.type, self.param, self.code = message, type, param, str(code)

    class UserAPIKeyAuth:
        def __init__(self, **fields: Any) -> None:
            self.fields = fields

    types_module = types.ModuleType("litellm.proxy._types")
    types_module.ProxyException = ProxyException  # type: ignore[attr-defined]
    types_module.UserAPIKeyAuth = UserAPIKeyAuth  # type: ignore[attr-defined]
    types_module.LitellmUserRoles = types.SimpleNamespace(PROXY_ADMIN="PROXY_ADMIN")  # type: ignore[attr-defined]
    for name in ("litellm", "litellm.proxy"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "litellm.proxy._types", types_module)
    return types_module


async def test_inside_the_proxy_it_speaks_litellm(
    monkeypatch: pytest.MonkeyPatch, fake_litellm: Any
) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, MASTER)
    identity = await user_api_key_auth(FakeRequest(), MASTER)
    # a real UserAPIKeyAuth: with litellm_enterprise installed, anything else falls through
    assert isinstance(identity, fake_litellm.UserAPIKeyAuth)
    assert identity.fields == {
        "api_key": "litellm_proxy_master_key",
        "user_id": "default_user_id",
        "user_role": "PROXY_ADMIN",
    }
    # a ProxyException: LiteLLM sends it as is; other exceptions become 500s without prisma
    with pytest.raises(fake_litellm.ProxyException) as caught:
        await user_api_key_auth(FakeRequest(), "sk-wrong")
    assert (caught.value.code, caught.value.type, caught.value.message) == (
        "401",
        "auth_error",
        WRONG_KEY,
    )


# --- the module as LiteLLM loads it ----------------------------------------------------------


def test_the_master_key_variable_is_the_one_the_config_names() -> None:
    assert MASTER_KEY_ENV == config.MASTER_KEY_ENV
    rendered = config.render_config([])
    assert rendered["general_settings"]["master_key"] == f"os.environ/{MASTER_KEY_ENV}"
