#!/usr/bin/env python3
"""An Ollama daemon stand-in: an in-process HTTP server speaking Ollama's REST API, field by field.

No Ollama binary runs on these machines, so the client is tested against this replay of the
documented wire format. Every body it sends is built from :data:`EXAMPLES` (one place), each
example copied from the section of ``ollama:docs/api.md`` named next to it, with the fields the
docs leave out taken from the Go structs (``ollama:api/types.go``) and the statuses and error
texts from the handlers (``ollama:server/routes.go``, ``server/images.go``,
``server/download.go``), read at ollama/ollama fb30760 (2026-08-21).

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
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "0.13.5"
DOC_ZONE = timezone(timedelta(hours=-7))
"""The docs' timestamps carry the daemon's local zone (``-07:00``); Go marshals it as is."""
FOREVER = timedelta(microseconds=(2**63 - 1) // 1000)
"""``keep_alive: -1`` becomes ``time.Duration(math.MaxInt64)`` (api/types.go Duration), so the
expiry lands ~292 years ahead; ``ollama ps`` shows "Forever" past 20 years."""
DEFAULT_KEEP_ALIVE = timedelta(minutes=5)


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


EXAMPLES: dict[str, Any] = {
    # docs/api.md "Version" (routes.go: gin.H{"version": version.Version})
    "version": {"version": VERSION},
    # docs/api.md "List Local Models": one entry of models[] (api/types.go ListModelResponse)
    "tags_model": {
        "name": "llama3.2:latest",
        "model": "llama3.2:latest",
        "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
    },
    # docs/api.md "List Running Models": one entry of models[]; context_length from
    # api/types.go ProcessModelResponse (set by PsHandler), not in the docs' example
    "ps_model": {
        "name": "mistral:latest",
        "model": "mistral:latest",
        "size": 5137025024,
        "digest": "2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "7.2B",
            "quantization_level": "Q4_0",
        },
        "expires_at": "2024-06-04T14:38:31.83753-07:00",
        "size_vram": 5137025024,
        "context_length": 4096,
    },
    # docs/api.md "Pull a Model", in the order server/images.go PullModel sends them; a layer's
    # status is "pulling " + digest[7:19] (server/download.go), "completed" is omitted until the
    # first byte (omitempty); "removing unused layers" only when an older copy left layers
    "pull_manifest": {"status": "pulling manifest"},
    "pull_layer": {
        "status": "pulling digestname",
        "digest": "digestname",
        "total": 2142590208,
        "completed": 241970,
    },
    "pull_tail": [
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ],
    # server/images.go PullModel: fmt.Errorf("pull model manifest: %s", err) for a name the
    # registry lacks (cmd/cloud_suggest.go quotes it); streamResponse has already written the
    # manifest line, so it arrives as a last NDJSON line with HTTP 200
    "pull_unknown_error": {"error": "pull model manifest: file does not exist"},
    # docs/api.md "Generate a completion" > "Load a model"; done_reason "load" from routes.go
    # GenerateHandler (api.GenerateResponse: response has no omitempty, done_reason has)
    "load": {
        "model": "llama3.2",
        "created_at": "2023-12-18T19:52:07.071755Z",
        "response": "",
        "done": True,
        "done_reason": "load",
    },
    # docs/api.md "Generate a completion" > "Unload a model"
    "unload": {
        "model": "llama3.2",
        "created_at": "2024-09-12T03:54:03.516566Z",
        "response": "",
        "done": True,
        "done_reason": "unload",
    },
    # docs/api.md "Generate a completion" > "Request (No streaming)", metrics shortened
    "generate": {
        "model": "llama3.2",
        "created_at": "2023-08-04T19:22:45.499127Z",
        "response": "The sky is blue because it is the color of the sky.",
        "done": True,
        "done_reason": "stop",
        "total_duration": 5043500667,
        "load_duration": 5025959,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 325953000,
        "eval_count": 290,
        "eval_duration": 4709213000,
    },
    # docs/api.md "Generate a chat completion" > "Chat request (No streaming)"
    "chat": {
        "model": "llama3.2",
        "created_at": "2023-12-12T14:13:43.416799Z",
        "message": {"role": "assistant", "content": "Hello! How are you today?"},
        "done": True,
        "done_reason": "stop",
        "total_duration": 5191566416,
        "load_duration": 2154458,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 383809000,
        "eval_count": 298,
        "eval_duration": 4799921000,
    },
    # docs/api.md "Chat request (No streaming, with tools)"; the call's "id" and
    # function.index from api/types.go ToolCall / ToolCallFunction (routes.go toolCallId)
    "chat_tool_calls": {
        "model": "llama3.2",
        "created_at": "2025-07-07T20:32:53.844124Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_k3h7q2x9",
                    "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}},
                }
            ],
        },
        "done_reason": "stop",
        "done": True,
        "total_duration": 3244883583,
        "load_duration": 2969184542,
        "prompt_eval_count": 169,
        "prompt_eval_duration": 141656333,
        "eval_count": 18,
        "eval_duration": 133293625,
    },
    # docs/api.md "Chat request" > "Load a model" / "Unload a model" (messages: [])
    "chat_load": {
        "model": "llama3.2",
        "created_at": "2024-09-12T21:17:29.110811Z",
        "message": {"role": "assistant", "content": ""},
        "done_reason": "load",
        "done": True,
    },
    # routes.go GenerateHandler / ChatHandler: http.StatusNotFound,
    # gin.H{"error": fmt.Sprintf("model '%s' not found", req.Model)}
    "not_found": {"error": "model '%s' not found"},
}
"""Every body the fake sends, shaped after the section cited above it."""


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

    def tags_entry(self, modified_at: str) -> dict[str, Any]:
        entry: dict[str, Any] = copy.deepcopy(EXAMPLES["tags_model"])
        entry.update(name=self.name, model=self.name, modified_at=modified_at, size=self.size)
        entry["digest"] = self.digest
        entry["details"].update(
            family=self.family,
            families=[self.family],
            parameter_size=self.parameter_size,
            quantization_level=self.quantization_level,
        )
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


def full_name(name: str) -> str:
    """``model`` -> ``model:latest`` (docs/api.md "Model names": the tag defaults to latest)."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def go_time(t: datetime) -> str:
    """RFC 3339 with nanoseconds, as Go marshals a time.Time."""
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{t.microsecond:06d}123".rstrip("0")
    offset = t.strftime("%z")
    zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return f"{base}.{frac}{zone}" if frac else f"{base}{zone}"


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def keep_alive(value: Any) -> timedelta | None:
    """api/types.go Duration.UnmarshalJSON: seconds or a Go duration; negative: forever.

    Returns None for "forever"; raises ValueError with Go's message for a bad string.
    """
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, int | float):
        return None if value < 0 else timedelta(seconds=value)
    text = str(value)
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text)
    parts = _GO_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        hint = "missing unit in duration" if re.fullmatch(r"\d+", body) else "invalid duration"
        raise ValueError(f'time: {hint} "{text}"')
    seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    return None if sign < 0 else timedelta(seconds=seconds)


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
class FakeOllama:
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
        entry: dict[str, Any] = copy.deepcopy(EXAMPLES["ps_model"])
        entry.update(
            name=m.name,
            model=m.name,
            size=size,
            digest=m.digest,
            size_vram=int(size * m.gpu_share),
            context_length=m.context_length,
            expires_at=go_time((item.expires_at or now + FOREVER).astimezone(DOC_ZONE)),
        )
        entry["details"].update(
            family=m.family,
            families=[m.family],
            parameter_size=m.parameter_size,
            quantization_level=m.quantization_level,
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

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
