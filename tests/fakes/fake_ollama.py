#!/usr/bin/env python3
"""An Ollama daemon stand-in: an in-process HTTP server speaking Ollama's REST API, field by field.

No Ollama binary runs on these machines, so the client is tested against this replay of the
documented wire format; every body it sends comes from ``ollama_wire.EXAMPLES``.

Served: ``GET /`` and ``/api/version``, ``GET /api/tags``, ``GET /api/ps``, ``POST /api/pull``
(NDJSON progress; an unknown model fails *inside* the 200 stream, as ``streamResponse`` does
once it has written), ``POST /api/generate`` (empty prompt: load; ``keep_alive: 0``: unload;
otherwise an answer), ``POST /api/chat`` (plain and tool-call answers; ``messages: []`` loads
or unloads), 404 ``{"error": "model 'x' not found"}`` for a model not in the library, and gin's
``404 page not found`` for any other path.

``python fake_ollama.py serve`` listens on ``OLLAMA_HOST`` as ``ollama serve`` does (the
managed-daemon tests put it on PATH as ``ollama``).
"""

from __future__ import annotations

import copy
import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script (``ollama serve``): make ``tests.fakes`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fakes.http_thread import HttpThread
from tests.fakes.ollama_wire import (
    DOC_ZONE,
    EXAMPLES,
    FOREVER,
    VERSION,
    digest_of,
    full_name,
    go_time,
    keep_alive,
)


@dataclass(frozen=True)
class Library:
    """A model the fake knows: its /api/tags details and what loading it costs."""

    name: str
    size: int
    family: str
    parameter_size: str
    quantization_level: str
    gpu_share: float = 1.0
    """size_vram / size once loaded (1.0: all on the GPU, 0.0: CPU only)."""
    context_length: int = 4096
    layers: tuple[int, ...] = ()
    """Layer sizes a pull downloads (a registry model; empty for one already local)."""

    @property
    def digest(self) -> str:
        return digest_of(self.name)[7:]

    def entry(self, example: str) -> dict[str, Any]:
        """A copy of ``EXAMPLES[example]`` (a ``models[]`` entry) with this model's details."""
        entry: dict[str, Any] = copy.deepcopy(EXAMPLES[example])
        entry["details"].update(
            family=self.family,
            families=[self.family],
            parameter_size=self.parameter_size,
            quantization_level=self.quantization_level,
        )
        return entry

    def tags_entry(self, modified_at: str) -> dict[str, Any]:
        entry = self.entry("tags_model")
        entry.update(name=self.name, model=self.name, modified_at=modified_at, size=self.size)
        entry["digest"] = self.digest
        return entry


LOCAL = (
    Library("llama3.2:latest", 2019393189, "llama", "3.2B", "Q4_K_M", gpu_share=1.0),
    Library("deepseek-r1:latest", 4683075271, "qwen2", "7.6B", "Q4_K_M", gpu_share=0.6),
)
REGISTRY = (
    Library(
        "smollm2:135m",
        270898672,
        "llama",
        "134.52M",
        "F16",
        context_length=8192,
        layers=(270882400, 1588, 11357, 180),
    ),
)
MEMORY_OVERHEAD = 1.25
"""A loaded model takes more than its file (KV cache, compute graph)."""
PULL_STEPS = 4
"""Download events per layer after the first (which has no ``completed``)."""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    body: Any


@dataclass
class Loaded:
    model: Library
    expires_at: datetime | None


@dataclass
class FakeOllama(HttpThread):
    """The fake daemon; ``with FakeOllama() as fake: fake.url``."""

    local: tuple[Library, ...] = LOCAL
    registry: tuple[Library, ...] = REGISTRY
    host: str = "127.0.0.1"
    port: int = 0
    tool_arguments: dict[str, Any] = field(default_factory=lambda: {"city": "Tokyo"})
    seen: list[Seen] = field(default_factory=list)
    library: dict[str, tuple[Library, str]] = field(default_factory=dict)
    """name -> (model, modified_at) of the local library."""
    loaded: dict[str, Loaded] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        for m in self.local:
            self.library[m.name] = (m, go_time(datetime(2025, 5, 4, 17, 37, 44, tzinfo=DOC_ZONE)))

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def paths(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.seen]

    # -- the daemon's state ---------------------------------------------------------------
    def known(self, name: str) -> Library | None:
        found = self.library.get(full_name(name))
        return found[0] if found else None

    def load(self, model: Library, alive: timedelta | None, now: datetime) -> None:
        self.loaded[model.name] = Loaded(model, None if alive is None else now + alive)

    def ps_entry(self, item: Loaded, now: datetime) -> dict[str, Any]:
        m = item.model
        size = int(m.size * MEMORY_OVERHEAD)
        entry = m.entry("ps_model")
        entry.update(
            name=m.name,
            model=m.name,
            size=size,
            digest=m.digest,
            size_vram=int(size * m.gpu_share),
            context_length=m.context_length,
            expires_at=go_time((item.expires_at or now + FOREVER).astimezone(DOC_ZONE)),
        )
        return entry

    def pull_events(self, name: str) -> Iterator[dict[str, Any]]:
        yield dict(EXAMPLES["pull_manifest"])
        model = next((m for m in self.registry if m.name == full_name(name)), None)
        if model is None:
            yield dict(EXAMPLES["pull_unknown_error"])
            return
        for i, total in enumerate(model.layers):
            digest = digest_of(f"{model.name}/{i}")
            first = {**EXAMPLES["pull_layer"], "status": f"pulling {digest[7:19]}"}
            first.update(digest=digest, total=total)
            del first["completed"]  # omitempty until the first byte arrives
            yield first
            for step in range(1, PULL_STEPS + 1):
                yield {**first, "completed": total * step // PULL_STEPS}
        yield from (dict(e) for e in EXAMPLES["pull_tail"])
        now = datetime.now(DOC_ZONE)
        with self._lock:
            self.library[model.name] = (model, go_time(now))

    # -- HTTP -----------------------------------------------------------------------------
    def start(self) -> FakeOllama:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def send(self, status: int, body: Any, kind: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def stream(self, parts: Iterator[dict[str, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in parts:
                    data = json.dumps(part).encode() + b"\n"
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def not_found(self) -> None:  # gin's default for a route it does not have
                self.send(404, "404 page not found", "text/plain")

            def do_GET(self) -> None:
                fake.seen.append(Seen("GET", self.path, None))
                now = datetime.now(DOC_ZONE)
                if self.path == "/":
                    self.send(200, "Ollama is running", "text/plain")
                elif self.path == "/api/version":
                    self.send(200, EXAMPLES["version"])
                elif self.path == "/api/tags":
                    with fake._lock:
                        models = [m.tags_entry(t) for m, t in fake.library.values()]
                    self.send(200, {"models": models})
                elif self.path == "/api/ps":
                    with fake._lock:
                        live = [
                            item
                            for item in fake.loaded.values()
                            if item.expires_at is None or item.expires_at > now
                        ]
                        # PsHandler: longest remaining first
                        live.sort(key=lambda i: i.expires_at or now + FOREVER, reverse=True)
                        models = [fake.ps_entry(i, now) for i in live]
                    self.send(200, {"models": models})
                else:
                    self.not_found()

            def do_DELETE(self) -> None:
                self.not_found()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                fake.seen.append(Seen("POST", self.path, body))
                if not isinstance(body, dict):
                    self.send(400, {"error": "missing request body"})
                elif self.path == "/api/pull":
                    name = body.get("model") or body.get("name") or ""
                    self.stream(fake.pull_events(name))
                elif self.path in ("/api/generate", "/api/chat"):
                    self.answer(body, chat=self.path == "/api/chat")
                else:
                    self.not_found()

            def answer(self, body: dict[str, Any], chat: bool) -> None:
                name = str(body.get("model") or "")
                model = fake.known(name)
                if model is None:
                    self.send(404, {"error": EXAMPLES["not_found"]["error"] % name})
                    return
                try:
                    alive = keep_alive(body.get("keep_alive"))
                except ValueError as exc:  # ShouldBindJSON fails: 400 with Go's message
                    self.send(400, {"error": str(exc)})
                    return
                now = datetime.now(UTC)
                created = go_time(now)
                empty = not body.get("messages") if chat else not body.get("prompt")
                with fake._lock:
                    if empty and alive == timedelta(0):
                        fake.loaded.pop(model.name, None)
                        reason = "unload"
                    else:
                        fake.load(model, alive, now)
                        reason = "load"
                if empty:
                    if chat:
                        reply = {**EXAMPLES["chat_load"], "done_reason": reason}
                    else:
                        reply = dict(EXAMPLES[reason])
                    self.send(200, {**reply, "model": name, "created_at": created})
                    return
                if chat and body.get("tools"):
                    reply = copy.deepcopy(EXAMPLES["chat_tool_calls"])
                    call = reply["message"]["tool_calls"][0]["function"]
                    call["name"] = body["tools"][0]["function"]["name"]
                    call["arguments"] = dict(fake.tool_arguments)
                else:
                    reply = copy.deepcopy(EXAMPLES["chat" if chat else "generate"])
                reply.update(model=name, created_at=created)
                if body.get("stream") is False:
                    self.send(200, reply)
                    return
                # streamed: the text first (done false, no metrics), then the final object
                key = "message" if chat else "response"
                first = {"model": name, "created_at": created, key: reply[key], "done": False}
                last = {**reply, key: {"role": "assistant", "content": ""} if chat else ""}
                self.stream(iter([first, last]))

            def log_message(self, *a: object) -> None:
                pass

        return self.serve((self.host, self.port), Handler)


def serve(env_host: str) -> None:
    """``ollama serve``: listen on ``OLLAMA_HOST`` (``host:port``) until killed."""
    host, _, port = env_host.rpartition(":")
    fake = FakeOllama(host=host.strip("[]") or "127.0.0.1", port=int(port or 11434)).start()
    print(f'level=INFO source=routes.go msg="Listening on {env_host} (version {VERSION})"')
    sys.stdout.flush()
    threading.Event().wait()
    fake.stop()


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        sys.exit(f"usage: {sys.argv[0]} serve")
    serve(os.environ.get("OLLAMA_HOST", "127.0.0.1:11434"))
