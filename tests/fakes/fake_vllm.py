#!/usr/bin/env python3
"""A stand-in for `vllm serve` with vLLM's /health and /v1/models, for fast supervisor tests.

Usage mirrors vLLM: ``fake_vllm.py serve MODEL --host H --port P --served-model-name N ...``.
FAKE_VLLM_MODE=port-in-use prints vLLM's real bind failure and exits 1 (recorded from vLLM 0.32);
FAKE_VLLM_MODE=mute listens and accepts every connection but never answers (a hung server);
FAKE_VLLM_WORKER=1 starts a child named ``VLLM::Worker`` pinned to the CPUs of
VLLM_CPU_OMP_THREADS_BIND, as a vLLM-CPU worker pins its OpenMP threads;
FAKE_VLLM_DELAY delays listening (the "starting" phase); a SIGTERM-ignoring child is spawned when
FAKE_VLLM_STUBBORN_CHILD=1 (like an engine core that will not die). FAKE_VLLM_HANG_ONCE=FILE: the
first start (while FILE does not exist) creates FILE and then hangs silently, as vLLM-CPU's engine
was seen to hang in torch's start-up; with FAKE_VLLM_HANG_WAITING=SECONDS it prints, that often,
the line vLLM's engine prints every 60 s while the worker it waits on hangs (shm_broadcast.py).

POST /v1/chat/completions answers ``max_tokens`` words (default 4), streamed or not, in vLLM's
shape: with ``stream_options.include_usage`` the usage rides on a last chunk whose ``choices`` is
empty. FAKE_VLLM_TOKEN_DELAY sleeps between tokens (seconds). A ``tool_choice`` naming a
function is answered (streamed) with a call of it, ``{"query": "ok"}``, as vLLM streams one.

GET /metrics answers vLLM 0.32's names, labels and TTFT/ITL/E2E bucket bounds (copied from
tests/fixtures/vllm_metrics/after_16.prom, captured from the real vLLM-CPU server), with counters
and histograms that move with the requests it served.

Sleep mode as vLLM 0.32 serves it (``vllm/entrypoints/serve/dev/sleep/api_router.py``): with
``--enable-sleep-mode`` and VLLM_SERVER_DEV_MODE=1, POST /sleep?level=N, POST /wake_up[?tags=..],
GET /is_sleeping, POST /collective_rpc and POST /reset_prefix_cache; otherwise they are 404 like
the real server's. Each dev call is printed to the log (``fake-vllm dev: ...``) so tests can read
the order. A sleeping server answers chat requests with 503.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# vLLM 0.32's default bucket bounds, as the real server lists them (after_16.prom)
TTFT_BOUNDS = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
E2E_BOUNDS = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)


class Stats:
    """What the fake served, for its /metrics."""

    def __init__(self) -> None:
        self.requests = self.prompt = self.generated = 0
        self.ttft: list[float] = []
        self.e2e: list[float] = []


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
    if os.environ.get("FAKE_VLLM_WORKER") == "1":
        cores = os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "0")
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import ctypes, os, time; "
                "ctypes.CDLL(None).prctl(15, b'VLLM::Worker', 0, 0, 0); "
                f"os.sched_setaffinity(0, {{int(c) for c in {cores!r}.split(',')}}); "
                "time.sleep(600)",
            ]
        )
    if os.environ.get("FAKE_VLLM_MODE") == "mute":
        mute = socket.create_server((args.host, args.port), backlog=64)
        held = []
        while True:
            held.append(mute.accept()[0])  # kept open, never read or answered
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
    hang_mark = os.environ.get("FAKE_VLLM_HANG_ONCE")
    if hang_mark and not os.path.exists(hang_mark):  # hung for good, the first start only
        open(hang_mark, "w").close()
        every = float(os.environ.get("FAKE_VLLM_HANG_WAITING", "0"))
        if not every:
            time.sleep(600)
        for _ in range(int(600 / every) if every else 0):
            time.sleep(every)
            print(
                f"(EngineCore_DP0 pid={os.getpid()}) INFO 12-01 17:52:16 [shm_broadcast.py:871] "
                "No available shared memory broadcast block found in 60 seconds. This typically "
                "happens when some processes are hanging or doing some time-consuming work (e.g. "
                "compilation, weight/kv cache quantization).",
                flush=True,
            )

    # as vLLM 0.32's AuthenticationMiddleware: with VLLM_API_KEY set, paths under /v1 need
    # `Authorization: Bearer KEY` and answer 401 {"error": "Unauthorized"} otherwise
    api_key = os.environ.get("VLLM_API_KEY")
    dev = "--enable-sleep-mode" in sys.argv and os.environ.get("VLLM_SERVER_DEV_MODE") == "1"
    asleep: set[str] = set()  # the sleeping tags: weights, kv_cache
    stats = Stats()

    def metrics_text() -> str:
        labels = f'engine="0",model_name="{served}"'
        out = [
            "# TYPE vllm:num_requests_running gauge",
            f"vllm:num_requests_running{{{labels}}} 0.0",
            "# TYPE vllm:num_requests_waiting gauge",
            f"vllm:num_requests_waiting{{{labels}}} 0.0",
            "# TYPE vllm:kv_cache_usage_perc gauge",
            f"vllm:kv_cache_usage_perc{{{labels}}} 0.0",
            "# TYPE vllm:prompt_tokens_total counter",
            f"vllm:prompt_tokens_total{{{labels}}} {float(stats.prompt)}",
            "# TYPE vllm:generation_tokens_total counter",
            f"vllm:generation_tokens_total{{{labels}}} {float(stats.generated)}",
            "# TYPE vllm:request_success_total counter",
            f'vllm:request_success_total{{{labels},finished_reason="length"}} '
            f"{float(stats.requests)}",
        ]
        for name, key, bounds in (
            ("vllm:time_to_first_token_seconds", "ttft", TTFT_BOUNDS),
            ("vllm:e2e_request_latency_seconds", "e2e", E2E_BOUNDS),
        ):
            seen: list[float] = getattr(stats, key)
            out.append(f"# TYPE {name} histogram")
            for b in bounds:
                n = sum(1 for v in seen if v <= b)
                out.append(f'{name}_bucket{{{labels},le="{b}"}} {float(n)}')
            out.append(f'{name}_bucket{{{labels},le="+Inf"}} {float(len(seen))}')
            out.append(f"{name}_count{{{labels}}} {float(len(seen))}")
            out.append(f"{name}_sum{{{labels}}} {float(sum(seen))}")
        return "\n".join(out) + "\n"

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

        def answer(self, status: int, doc: object | None) -> None:
            body = json.dumps(doc).encode() if doc is not None else b""
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def dev_route(self) -> bool:
            path, _, query = self.path.partition("?")
            routes = (
                "/sleep",
                "/wake_up",
                "/is_sleeping",
                "/collective_rpc",
                "/reset_prefix_cache",
            )
            if path not in routes:
                return False
            if not dev:
                self.answer(404, {"detail": "Not Found"})
                return True
            params = [kv.split("=", 1) for kv in query.split("&") if "=" in kv]
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            print(f"fake-vllm dev: {self.command} {self.path} {json.dumps(body)}", flush=True)
            if path == "/is_sleeping":
                self.answer(200, {"is_sleeping": bool(asleep)})
            elif path == "/sleep":
                level = int(dict(params).get("level", "1"))
                asleep.update({"weights", "kv_cache"})
                self.answer(200, {"status": "sleeping", "level": level})
            elif path == "/wake_up":
                tags = [v for k, v in params if k == "tags"] or None
                asleep.difference_update(tags or {"weights", "kv_cache"})
                self.answer(200, {"status": "sleeping" if asleep else "awake", "tags": tags})
            else:
                self.answer(200, None)
            return True

        def do_GET(self) -> None:
            if self.refused() or self.dev_route():
                return
            if self.path == "/metrics":
                text = metrics_text().encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain; version=0.0.4")
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
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
                self.answer(404, {"detail": "Not Found"})
                return
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            if self.refused() or self.dev_route():
                return
            if self.path != "/v1/chat/completions":
                self.answer(404, {"detail": "Not Found"})
                return
            request = json.loads(self.rfile.read(int(self.headers["content-length"])))
            if asleep:
                self.answer(503, {"error": "the engine is sleeping"})
                return
            n = int(request.get("max_tokens") or 4)
            choice = request.get("tool_choice")
            forced = (
                (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
            )
            if forced:
                n = 3  # the name chunk and two argument chunks
            t0 = time.monotonic()
            stats.requests += 1
            stats.prompt += 7
            stats.generated += n
            stats.ttft.append(float(os.environ.get("FAKE_VLLM_TOKEN_DELAY", "0")))
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
                stats.e2e.append(time.monotonic() - t0)
                return
            include_usage = (request.get("stream_options") or {}).get("include_usage")
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")  # no length: the stream ends with it
            self.close_connection = True
            self.end_headers()

            def send(choices: list[dict[str, object]], **extra: object) -> None:
                chunk = {**base, "object": "chat.completion.chunk", "choices": choices, **extra}
                if include_usage and "usage" not in extra:
                    chunk["usage"] = None
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()

            send([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
            if forced:  # vLLM streams a named tool call as a name delta, then the arguments
                call = {"index": 0, "id": f"chatcmpl-tool-{rid}", "type": "function"}
                name_delta = {**call, "function": {"name": forced, "arguments": ""}}
                send([{"index": 0, "delta": {"tool_calls": [name_delta]}}])
                for piece in ('{"query": ', '"ok"}'):
                    time.sleep(delay)
                    arg_delta = {"index": 0, "function": {"arguments": piece}}
                    send([{"index": 0, "delta": {"tool_calls": [arg_delta]}}])
                send([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
                n = 0
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
            stats.e2e.append(time.monotonic() - t0)

        def log_message(self, *a: object) -> None:
            pass

    if os.environ.get("FAKE_VLLM_KEEP_ALIVE") == "1":
        # as vLLM's uvicorn: a client's connection is kept for its next request (else each
        # request of the panel's polls opens a new one, which a real server never makes it do)
        Handler.protocol_version = "HTTP/1.1"
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 256  # a load test opens many connections at once
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
