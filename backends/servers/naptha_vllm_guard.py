"""naptha's guard for a vLLM server: its API key on every route but the probes.

vLLM's own ``--api-key`` / ``VLLM_API_KEY`` check guards only paths under ``/v1``, ``/v2``,
``/inference`` and ``/cohere``. vLLM 0.32 serves more at the top level, and some of it runs the
model: ``POST /invocations`` (SageMaker's entry point) answers a chat completion with no key
(seen on the embedded server), ``/tokenize`` and ``/detokenize`` use the tokenizer. Loaded with
``--middleware naptha_vllm_guard.NapthaGuard``, this pure ASGI middleware asks for
``Authorization: Bearer $VLLM_API_KEY`` on every path except the few that only report state:
``/health``, ``/ping``, ``/metrics``, ``/version`` (the panel's probes and a scraper need them
without a key). CORS preflights (``OPTIONS``) pass, as vLLM's own check lets them.

This file runs inside the runtime's Python (no naptha_tui there): the supervisor copies it into
``<state dir>/vllm-guard/`` and puts that folder on the server's ``PYTHONPATH``. Standard
library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/health", "/ping", "/metrics", "/version"})
"""What a probe or a metrics scraper reads without a key (state only, no model call)."""
KEY_ENV = "VLLM_API_KEY"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class NapthaGuard:
    """Refuse (401) every request without the server's key, except the open paths."""

    def __init__(self, app: App, key: str | None = None) -> None:
        """Wrap ``app``; the key is ``key`` or ``$VLLM_API_KEY`` (none: guard nothing)."""
        self.app = app
        key = key if key is not None else os.environ.get(KEY_ENV)
        self.expected = _digest(key) if key else None

    def allowed(self, scope: Scope) -> bool:
        """Whether this request may pass."""
        if self.expected is None or scope.get("method") == "OPTIONS":
            return True
        path = str(scope.get("path", "")).removeprefix(str(scope.get("root_path", "")))
        if path.rstrip("/") in OPEN_PATHS:
            return True
        headers = dict(scope.get("headers") or [])
        value = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        return hmac.compare_digest(_digest(token), self.expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 401 as vLLM's own check does."""
        if scope.get("type") not in ("http", "websocket") or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"error": "Unauthorized"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
