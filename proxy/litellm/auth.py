"""naptha's LiteLLM auth hook and backend-key loader.

This file runs inside the proxy's own environment (litellm, no naptha_tui): the panel copies it
beside the rendered config as ``naptha_auth.py``. It imports only the standard library, and
litellm lazily (the panel's environment imports it for its pure functions and its tests).

**The locked door** (``general_settings.custom_auth: naptha_auth.user_api_key_auth``). LiteLLM
1.108.7 without a database answers a wrong key with 400 "No connected db." and a missing or
empty one with 500 (its error path imports ``prisma``, which the proxy runtime lacks). With a
custom auth function LiteLLM calls it first, for every route guarded by its auth dependency,
and uses its answer as is: the master key is then checked here only (constant time), a good key
gets the proxy-admin identity LiteLLM itself gives the master key, and everything else gets a
401 ``ProxyException``. It must be a ``ProxyException`` (or ``HTTPException``): any other
exception reaches the same ``prisma`` import and becomes a 500; and the function must return a
real ``UserAPIKeyAuth``: with ``litellm_enterprise`` installed (it is) anything else silently
falls through to LiteLLM's own checks. ``/health/liveliness`` and ``/health/readiness`` have no
auth dependency and stay open.

**Backend keys** (``LITELLM_WORKER_STARTUP_HOOKS=naptha_auth:load_backend_keys``). Each vLLM
server has its own key in ``$NAPTHA_KEYS_DIR/<server>.key`` and the config references it as
``os.environ/NAPTHA_KEY_<SERVER>`` (:func:`key_env_name`). LiteLLM resolves every
``os.environ/`` reference when a worker reads the config, in the worker, and a server started
after the proxy is not in the gunicorn master's environment; each worker runs this hook at
startup, before it reads the config, so a key file written before the SIGHUP is in the new
workers' environment when they resolve it. Modules named in the config itself (callbacks,
``custom_auth``) are imported after that resolution, too late for this. LiteLLM imports the hook
by module name: the proxy folder must be on ``sys.path`` (``PYTHONPATH``; LiteLLM also appends
its working directory), and a hook it cannot import stops every worker from booting, so the
gunicorn master exits ("Worker failed to boot").
"""

from __future__ import annotations

import hmac
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
"""Where the proxy's master key is (the config's ``general_settings.master_key`` names it too)."""
KEYS_DIR_ENV = "NAPTHA_KEYS_DIR"
"""The folder of backend key files, one ``<server>.key`` each (0600)."""
KEY_ENV_PREFIX = "NAPTHA_KEY_"
KEY_SUFFIX = ".key"
MAX_KEY_BYTES = 4096
ADMIN_USER_ID = "default_user_id"
"""The user id LiteLLM gives master-key requests (``LITELLM_PROXY_ADMIN_NAME``)."""
MASTER_KEY_ALIAS = "litellm_proxy_master_key"
"""What LiteLLM records instead of the master key (``LITELLM_PROXY_MASTER_KEY_ALIAS``)."""

_NOT_ENV_SAFE = re.compile(r"[^A-Z0-9]")


def key_env_name(server: str) -> str:
    """The environment variable holding ``server``'s backend key.

    ``NAPTHA_KEY_`` + the name upper-cased, anything but letters and digits as ``_``
    (``smol-cpu-0`` -> ``NAPTHA_KEY_SMOL_CPU_0``). Names that differ only in ``-``, ``.`` or
    ``_`` share a variable: :func:`read_backend_keys` then loads neither.
    """
    return KEY_ENV_PREFIX + _NOT_ENV_SAFE.sub("_", server.upper())


def _read_key(path: Path) -> str | None:
    """The key in ``path``; None unless it is a regular file with one non-empty line."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raw = os.read(fd, MAX_KEY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(raw) > MAX_KEY_BYTES:
        return None
    try:
        key = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if not key or any(c.isspace() for c in key):
        return None
    return key


def read_backend_keys(keys_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    """``{env name: key}`` for every ``<server>.key`` in ``keys_dir``.

    Unreadable, empty or malformed files are skipped, and so are files whose names map to the
    same variable (neither is loaded: a wrong key must not reach another server). A missing
    folder gives ``{}``.
    """
    if not keys_dir:
        return {}
    try:
        entries = sorted(Path(keys_dir).iterdir())
    except OSError:
        return {}
    found: dict[str, str] = {}
    clashing: set[str] = set()
    for path in entries:
        server = path.name[: -len(KEY_SUFFIX)]
        if not path.name.endswith(KEY_SUFFIX) or not server or server.startswith("."):
            continue
        key = _read_key(path)
        if key is None:
            continue
        name = key_env_name(server)
        if name in found:
            clashing.add(name)
        found[name] = key
    return {name: key for name, key in found.items() if name not in clashing}


def load_backend_keys(environ: Any = None) -> int:
    """The worker startup hook: put every backend key from ``$NAPTHA_KEYS_DIR`` in the environment.

    Runs in each gunicorn worker before it reads the config. Never raises (a raising startup
    hook stops the worker from booting); returns how many keys it set.
    """
    env = os.environ if environ is None else environ
    try:
        keys = read_backend_keys(env.get(KEYS_DIR_ENV))
        for name, key in keys.items():
            env[name] = key
        return len(keys)
    except Exception as e:  # pragma: no cover - belt and braces around a stdlib-only body
        print(f"naptha_auth: loading backend keys failed: {e!r}", file=sys.stderr)
        return 0


def key_matches(presented: str | None, expected: str | None) -> bool:
    """Whether ``presented`` is ``expected``, in constant time; never for an empty expected key."""
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


class AuthRejected(Exception):
    """The stand-in for LiteLLM's ``ProxyException`` where litellm is not installed (tests)."""

    def __init__(self, message: str, type: str, param: str | None, code: int | str) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.param = param
        self.code = str(code)


def rejection(message: str) -> Exception:
    """The 401 LiteLLM sends as is: a ``ProxyException`` (type ``auth_error``)."""
    try:
        from litellm.proxy._types import ProxyException
    except ImportError:
        return AuthRejected(message, type="auth_error", param="api_key", code=401)
    return ProxyException(message=message, type="auth_error", param="api_key", code=401)  # type: ignore[no-any-return]


def admin_identity() -> Any:
    """The identity LiteLLM itself gives a master-key request (proxy admin)."""
    fields: dict[str, Any] = {
        "api_key": MASTER_KEY_ALIAS,
        "user_id": ADMIN_USER_ID,
        "user_role": "proxy_admin",
    }
    try:
        from litellm.proxy._types import LitellmUserRoles, UserAPIKeyAuth
    except ImportError:
        return fields
    return UserAPIKeyAuth(**{**fields, "user_role": LitellmUserRoles.PROXY_ADMIN})


MISSING_KEY = (
    "Missing API key: send 'Authorization: Bearer <key>' with the node's master key "
    "(naptha-tui keeps it in <state dir>/proxy/master.key)"
)
WRONG_KEY = "Invalid API key: it is not this node's master key"
NO_MASTER_KEY = "The proxy has no master key set; it refuses every request"


async def user_api_key_auth(request: Any, api_key: str | None) -> Any:
    """LiteLLM's ``custom_auth``: the master key or a 401.

    Args:
        request: the Starlette request (unused: LiteLLM has already taken the key from it).
        api_key: what LiteLLM read: the ``Authorization`` header without ``Bearer `` (empty for
            ``Bearer `` alone or another scheme), else ``x-litellm-api-key``, ``api-key``,
            ``x-api-key``, ``x-goog-api-key``; None when there is none.

    Returns:
        LiteLLM's ``UserAPIKeyAuth`` for the proxy admin.

    Raises:
        ProxyException: 401 (``AuthRejected`` where litellm is not installed).
    """
    expected = os.environ.get(MASTER_KEY_ENV)
    if not expected:
        raise rejection(NO_MASTER_KEY)
    if not api_key:
        raise rejection(MISSING_KEY)
    if not key_matches(api_key, expected):
        raise rejection(WRONG_KEY)
    return admin_identity()
