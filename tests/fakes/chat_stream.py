"""An in-process OpenAI-style server for load-test tests: it records every body it received.

``GET /v1/models`` lists ``models``; ``POST /v1/chat/completions`` and ``/v1/completions``
stream ``max_tokens`` chunks in vLLM's shape (a role chunk first on chat, the usage on a last
chunk with empty ``choices``), ``delay`` seconds apart; a named ``tool_choice`` gets a call of
that tool. ``fail_every`` N answers every Nth request with HTTP 500.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Self

from tests.fakes.http_thread import HttpThread


class ChatStream(HttpThread):
    def __init__(
        self, models: tuple[str, ...] = ("m",), delay: float = 0.0, fail_every: int = 0
    ) -> None:
        self.models = models
        self.delay = delay
        self.fail_every = fail_every
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def _json(self, code: int, doc: Any) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/v1/models":
                    self._json(200, {"data": [{"id": m} for m in fake.models]})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with fake.lock:
                    fake.bodies.append(body)
                    n_seen = len(fake.bodies)
                if fake.fail_every and n_seen % fake.fail_every == 0:
                    self._json(500, {"error": {"message": "engine dead"}})
                    return
                chat = self.path == "/v1/chat/completions"
                n = int(body.get("max_tokens") or 4)
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()

                def send(doc: dict[str, Any]) -> None:
                    self.wfile.write(f"data: {json.dumps(doc)}\n\n".encode())
                    self.wfile.flush()

                choice = body.get("tool_choice")
                forced = choice["function"]["name"] if isinstance(choice, dict) else None
                if chat:
                    send({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
                if forced:
                    call = {"index": 0, "id": f"call-{n_seen}", "type": "function"}
                    fn = {"name": forced, "arguments": '{"query": "x"}'}
                    send(
                        {
                            "choices": [
                                {"index": 0, "delta": {"tool_calls": [call | {"function": fn}]}}
                            ]
                        }
                    )
                    n = 1
                else:
                    for _ in range(n - (1 if chat else 0)):
                        time.sleep(fake.delay)
                        part = {"delta": {"content": " ok"}} if chat else {"text": " ok"}
                        send({"choices": [{"index": 0, **part}]})
                usage = {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n}
                send({"choices": [], "usage": usage})
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

        return self.serve(("127.0.0.1", 0), Handler)
