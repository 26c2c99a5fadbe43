#!/usr/bin/env python3
"""A stand-in for `vllm serve` with vLLM's /health and /v1/models, for fast supervisor tests.

Usage mirrors vLLM: ``fake_vllm.py serve MODEL --host H --port P --served-model-name N ...``.
FAKE_VLLM_MODE=port-in-use prints vLLM's real bind failure and exits 1 (recorded from vLLM 0.32);
FAKE_VLLM_DELAY delays listening (the "starting" phase); a SIGTERM-ignoring child is spawned when
FAKE_VLLM_STUBBORN_CHILD=1 (like an engine core that will not die).

POST /v1/chat/completions answers ``max_tokens`` words (default 4), streamed or not, in vLLM's
shape: with ``stream_options.include_usage`` the usage rides on a last chunk whose ``choices`` is
empty. FAKE_VLLM_TOKEN_DELAY sleeps between tokens (seconds).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--served-model-name", default=None)
    args, _unknown = parser.parse_known_args()
    served = args.served_model_name or args.model
    print(f"(APIServer pid={os.getpid()}) INFO fake vLLM serving {served}", flush=True)
    if os.environ.get("FAKE_VLLM_MODE") == "port-in-use":
        print("Traceback (most recent call last):", flush=True)
        print(
            f"(APIServer pid={os.getpid()}) OSError: [Errno 98] error while attempting to bind "
            f"on address ('{args.host}', {args.port}): address already in use",
            flush=True,
        )
        sys.exit(1)
    if os.environ.get("FAKE_VLLM_STUBBORN_CHILD") == "1":
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "time.sleep(600)",
            ]
        )
    time.sleep(float(os.environ.get("FAKE_VLLM_DELAY", "0")))

    # as vLLM 0.32's AuthenticationMiddleware: with VLLM_API_KEY set, paths under /v1 need
    # `Authorization: Bearer KEY` and answer 401 {"error": "Unauthorized"} otherwise
    api_key = os.environ.get("VLLM_API_KEY")

    class Handler(BaseHTTPRequestHandler):
        def refused(self) -> bool:
            if not api_key or not self.path.startswith("/v1"):
                return False
            if self.headers.get("Authorization", "") == f"Bearer {api_key}":
                return False
            body = b'{"error": "Unauthorized"}'
            self.send_response(401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return True

        def do_GET(self) -> None:
            if self.refused():
                return
            if self.path == "/health":
                body = b""
            elif self.path == "/v1/models":
                body = json.dumps(
                    {
                        "object": "list",
                        "data": [
                            {
                                "id": served,
                                "object": "model",
                                "owned_by": "vllm",
                                "root": args.model,
                            }
                        ],
                    }
                ).encode()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            if self.refused():
                return
            if self.path != "/v1/chat/completions":
                self.send_response(404)
                self.end_headers()
                return
            request = json.loads(self.rfile.read(int(self.headers["content-length"])))
            n = int(request.get("max_tokens") or 4)
            delay = float(os.environ.get("FAKE_VLLM_TOKEN_DELAY", "0"))
            rid = f"chatcmpl-{time.time_ns()}"
            created = int(time.time())
            usage = {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": 7 + n}
            base = {"id": rid, "created": created, "model": served}
            if not request.get("stream"):
                time.sleep(delay * n)
                body = json.dumps(
                    {
                        **base,
                        "object": "chat.completion",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": " ".join(["ok"] * n)},
                                "finish_reason": "length",
                            }
                        ],
                        "usage": usage,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            include_usage = (request.get("stream_options") or {}).get("include_usage")
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()

            def send(choices: list[dict[str, object]], **extra: object) -> None:
                chunk = {**base, "object": "chat.completion.chunk", "choices": choices, **extra}
                if include_usage and "usage" not in extra:
                    chunk["usage"] = None
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
            for i in range(n):
                time.sleep(delay)
                last = i == n - 1
                send(
                    [
                        {
                            "index": 0,
                            "delta": {"content": ("ok" if i == 0 else " ok")},
                            "finish_reason": "length" if last else None,
                        }
                    ]
                )
            if include_usage:
                send([], usage=usage)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def log_message(self, *a: object) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
