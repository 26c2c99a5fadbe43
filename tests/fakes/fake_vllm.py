#!/usr/bin/env python3
"""A stand-in for `vllm serve` with vLLM's /health and /v1/models, for fast supervisor tests.

Usage mirrors vLLM: ``fake_vllm.py serve MODEL --host H --port P --served-model-name N ...``.
FAKE_VLLM_MODE=port-in-use prints vLLM's real bind failure and exits 1 (recorded from vLLM 0.32);
FAKE_VLLM_DELAY delays listening (the "starting" phase); a SIGTERM-ignoring child is spawned when
FAKE_VLLM_STUBBORN_CHILD=1 (like an engine core that will not die).
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

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
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

        def log_message(self, *a: object) -> None:
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
