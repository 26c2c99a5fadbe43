"""A LiteLLM proxy and the vLLM server behind it, in one in-process HTTP server, for the playground.

Serves on 127.0.0.1 (a free port) what the playground speaks to:

- ``GET /v1/models`` (the proxy's model list) and ``POST /v1/chat/completions``, plain or SSE
  streamed in vLLM's shape, with ``logprobs`` whose tokens are the reply's tokens, or
  ``token_id:N`` when the request asks ``return_tokens_as_token_ids`` (as vLLM does);
- the server's ``POST /tokenize`` (``count`` and ``max_model_len``; a count of one token per
  four characters of the messages and tools as JSON) and ``POST /detokenize`` (ids back to the
  text through the same vocabulary the logprobs used).

``/v1`` paths need ``Bearer PROXY_KEY``, the server paths (and a chat completion for one of
``server_models``) ``Bearer SERVER_KEY`` (401 otherwise).
Every request is recorded (path, headers, JSON body); :attr:`FakeProxy.chat` counts chat
completions. What a chat completion answers is a :class:`Reply` (or a function of the request
body that returns one).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.http_thread import HttpThread

PROXY_KEY = "sk-proxy-test"
SERVER_KEY = "sk-server-test"


@dataclass(frozen=True)
class Reply:
    """One chat completion: the generated tokens, and what the parsers made of them."""

    tokens: tuple[str, ...] = ("Paris", " is", " sunny", ".", "<|im_end|>")
    content: str | None = "Paris is sunny."
    tool_calls: tuple[dict[str, Any], ...] = ()
    finish_reason: str = "stop"
    completion_tokens: int | None = None
    """``usage.completion_tokens``; the number of tokens when None."""
    stream_dropped: frozenset[int] = frozenset()
    """Token indexes whose logprobs a stream leaves out (vLLM's tool parser holding them back)."""
    status: int = 200
    error: str = "bad request"
    delay_s: float = 0.0
    verbatim: str | None = None
    """Answer 200 with this text as the body instead (a broken proxy)."""
    stream_error: str | None = None
    """End a stream after its first token with ``data: {"error": {"message": ...}}``, as vLLM
    and LiteLLM report an error that happens mid-stream."""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeProxy(HttpThread):
    models: list[str] = field(default_factory=lambda: ["m"])
    max_model_len: int = 2048
    reply: Reply | Callable[[dict[str, Any]], Reply] = field(default_factory=Reply)
    rendered: str | None = None
    """What ``/tokenize`` renders a chat into (one token, so ``/detokenize`` gives it back);
    None: no tokens."""
    server_models: tuple[str, ...] = ()
    """Served names of the server behind the proxy: a chat completion for one of them is a
    request straight to the server (``SERVER_KEY``), as ``--explain`` sends."""
    seen: list[Seen] = field(default_factory=list)
    _vocab: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    def requests(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    @property
    def chat(self) -> list[Seen]:
        return self.requests("/v1/chat/completions")

    def token_id(self, token: str) -> int:
        with self._lock:
            return self._vocab.setdefault(token, len(self._vocab) + 1)

    def token_text(self, ids: list[int]) -> str:
        with self._lock:
            back = {i: t for t, i in self._vocab.items()}
        return "".join(back[i] for i in ids)

    @staticmethod
    def count(body: dict[str, Any]) -> int:
        """What /tokenize answers for ``body``: a token per four characters of its JSON."""
        text = json.dumps(body.get("messages", []))
        if body.get("tools"):
            text += json.dumps(body["tools"])
        return len(text) // 4

    def start(self) -> FakeProxy:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def send_json(self, status: int, doc: Any) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def record(self, body: Any) -> bool:
                with fake._lock:
                    fake.seen.append(Seen(self.command, self.path, dict(self.headers), body))
                direct = isinstance(body, dict) and body.get("model") in fake.server_models
                key = PROXY_KEY if self.path.startswith("/v1/") and not direct else SERVER_KEY
                if self.headers.get("Authorization") != f"Bearer {key}":
                    self.send_json(401, {"error": {"message": "Unauthorized"}})
                    return False
                return True

            def do_GET(self) -> None:
                if not self.record(None):
                    return
                if self.path != "/v1/models":
                    self.send_json(404, {"detail": "Not Found"})
                    return
                data = [{"id": m, "object": "model", "owned_by": "openai"} for m in fake.models]
                self.send_json(200, {"object": "list", "data": data})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                if not self.record(body):
                    return
                if self.path == "/tokenize":
                    self.send_json(
                        200,
                        {
                            "count": fake.count(body),
                            "max_model_len": fake.max_model_len,
                            "tokens": [fake.token_id(fake.rendered)] if fake.rendered else [],
                        },
                    )
                elif self.path == "/detokenize":
                    self.send_json(200, {"prompt": fake.token_text(body["tokens"])})
                elif self.path == "/v1/chat/completions":
                    self.chat(body)
                else:
                    self.send_json(404, {"detail": "Not Found"})

            def chat(self, body: dict[str, Any]) -> None:
                reply = fake.reply(body) if callable(fake.reply) else fake.reply
                time.sleep(reply.delay_s)
                if reply.status != 200:
                    self.send_json(
                        reply.status,
                        {
                            "error": {
                                "message": reply.error,
                                "type": "BadRequestError",
                                "code": "400",
                            }
                        },
                    )
                    return
                if reply.verbatim is not None:
                    data = reply.verbatim.encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                as_ids = bool(body.get("return_tokens_as_token_ids"))
                logprobs = [
                    {
                        "token": f"token_id:{fake.token_id(t)}" if as_ids else t,
                        "logprob": -0.25,
                        "bytes": list(t.encode()),
                        "top_logprobs": [],
                    }
                    for t in reply.tokens
                ]
                n = (
                    len(reply.tokens)
                    if reply.completion_tokens is None
                    else reply.completion_tokens
                )
                usage = {"prompt_tokens": 11, "completion_tokens": n, "total_tokens": 11 + n}
                base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body["model"]}
                if not body.get("stream"):
                    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
                    if reply.tool_calls:
                        message["tool_calls"] = list(reply.tool_calls)
                    choice = {
                        "index": 0,
                        "message": message,
                        "finish_reason": reply.finish_reason,
                        "logprobs": {"content": logprobs} if body.get("logprobs") else None,
                    }
                    self.send_json(
                        200,
                        {**base, "object": "chat.completion", "choices": [choice], "usage": usage},
                    )
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                for i, (delta, lp, finish) in enumerate(self.deltas(reply, logprobs)):
                    if reply.stream_error is not None and i == 2:
                        error = {"message": reply.stream_error, "type": "InternalServerError"}
                        self.event({"error": error | {"code": 500}})
                        self.wfile.write(b"data: [DONE]\n\n")
                        self.wfile.flush()
                        return
                    choice = {"index": 0, "delta": delta, "finish_reason": finish}
                    if body.get("logprobs"):
                        choice["logprobs"] = {"content": lp}
                    self.event({**base, "object": "chat.completion.chunk", "choices": [choice]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    self.event(
                        {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
                    )
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def deltas(
                self, reply: Reply, logprobs: list[dict[str, Any]]
            ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], str | None]]:
                """The stream: the role, one chunk per token (the content spread over them,
                then each tool call in pieces), the finish reason on the last."""
                kept = [lp for i, lp in enumerate(logprobs) if i not in reply.stream_dropped]
                pieces: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
                text = reply.content or ""
                step = max(1, len(text) // max(1, len(reply.tokens)))
                pieces += [{"content": text[i : i + step]} for i in range(0, len(text), step)]
                for index, call in enumerate(reply.tool_calls):
                    fn = call["function"]
                    half = len(fn["arguments"]) // 2
                    pieces.append(
                        {
                            "tool_calls": [
                                {
                                    "index": index,
                                    "id": call.get("id"),
                                    "type": "function",
                                    "function": {"name": fn["name"], "arguments": ""},
                                }
                            ]
                        }
                    )
                    for part in (fn["arguments"][:half], fn["arguments"][half:]):
                        pieces.append(
                            {"tool_calls": [{"index": index, "function": {"arguments": part}}]}
                        )
                for i, delta in enumerate(pieces):
                    lp = kept[i : i + 1] if i < len(pieces) - 1 else kept[i:]
                    yield delta, lp, reply.finish_reason if i == len(pieces) - 1 else None

            def event(self, chunk: dict[str, Any]) -> None:
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            def log_message(self, *a: object) -> None:
                pass

        return self.serve(("127.0.0.1", 0), Handler)
