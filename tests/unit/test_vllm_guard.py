"""The guard vLLM loads with --middleware: the server's key on every route but the probes.

Driven as vLLM's ASGI stack drives it (scope, receive, send); the real server is in
tests/integration/embedded/test_node.py.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.servers import naptha_vllm_guard
from naptha_tui.backends.servers.naptha_vllm_guard import NapthaGuard

KEY = "sk-server-key"


async def call(guard: NapthaGuard, path: str, auth: str | None = None, **scope: Any) -> int:
    sent: list[dict[str, Any]] = []
    headers = [(b"authorization", auth.encode())] if auth is not None else []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    guard.app = app
    full = {"type": "http", "method": "POST", "path": path, "headers": headers, **scope}
    await guard(full, receive, send)
    return int(sent[0]["status"])


async def noop(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("replaced by call()")


@pytest.mark.parametrize("path", ["/invocations", "/tokenize", "/detokenize", "/v1/models", "/x"])
async def test_model_routes_need_the_key(path: str) -> None:
    guard = NapthaGuard(noop, KEY)
    assert await call(guard, path) == 401
    assert await call(guard, path, "Bearer sk-wrong") == 401
    assert await call(guard, path, f"Basic {KEY}") == 401
    assert await call(guard, path, "Bearer") == 401
    assert await call(guard, path, f"Bearer {KEY}") == 200


@pytest.mark.parametrize("path", ["/health", "/ping", "/metrics", "/version", "/metrics/"])
async def test_probes_stay_open(path: str) -> None:
    assert await call(NapthaGuard(noop, KEY), path) == 200


async def test_preflight_and_lifespan_pass_and_no_key_guards_nothing() -> None:
    guard = NapthaGuard(noop, KEY)
    assert await call(guard, "/invocations", method="OPTIONS") == 200
    assert await call(NapthaGuard(noop, ""), "/invocations") == 200
    assert await call(guard, "/api/invocations", root_path="/api") == 401


async def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_API_KEY", KEY)
    guard = NapthaGuard(noop)
    assert await call(guard, "/invocations") == 401
    assert await call(guard, "/invocations", f"Bearer {KEY}") == 200


def test_module_imports_only_the_standard_library() -> None:
    # it runs from a copy inside the runtime's Python, where naptha_tui is not installed
    tree = ast.parse(Path(naptha_vllm_guard.__file__).read_text())
    roots = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    roots |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert roots <= set(sys.stdlib_module_names)
