"""Does vLLM-CPU's engine hang at start while another server keeps a core busy? (issue 18, item 5)

The loop that reproduces the swap test's situation: server ``hang-busy`` (the embedded model,
OpenMP bound to core ``--busy-core``) answers a closed loop of requests the whole time, while
server ``hang-try`` (the same model, bound to ``--try-core``) is started and stopped ``--starts``
times. The silent-start restart is off for ``hang-try`` (``startup_stall_timeout: 0``), so a
hang shows as a start that stays silent: each start records the seconds from launch to its
first EngineCore line and to ready; a start silent for ``--hung-after`` seconds is counted as
hung, and ``py-spy dump --native`` of its processes goes to stderr (when py-spy is on PATH).

    .venv/bin/python benchmarks/start_hang.py [--starts N] [--busy-core C] [--try-core C]

``--try-core`` equal to ``--busy-core`` puts both servers' threads on the same core; ``auto``
leaves the binding to vLLM. Ports 4197 and 18960+, a temporary state dir. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

PRESET = """model: smollm2-135m
runtime: cpu
served_model_name: {served}
max_model_len: 2048
dtype: auto
enforce_eager: true
startup_timeout: 600
startup_stall_timeout: 0
extra_args: ["--disable-uvicorn-access-log"]
env:
  VLLM_CPU_KVCACHE_SPACE: "1"
  VLLM_CPU_OMP_THREADS_BIND: "{core}"
"""
CLI = [sys.executable, "-m", "naptha_tui.tui"]


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def record(env: dict[str, str], name: str) -> dict[str, Any]:
    doc = json.loads(cli(env, "status", "--json", "--window", "0").stdout)
    return next(s for s in doc["servers"] if s["name"] == name)


def load(env: dict[str, str], url: str, key: str, stop: threading.Event, done: list[int]) -> None:
    body = {"model": "m-busy", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 16}
    with httpx.Client(timeout=120) as http:
        while not stop.is_set():
            try:
                got = http.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
                done.append(got.status_code)
            except httpx.HTTPError:
                done.append(0)


def engine_started(log: Path) -> bool:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    return "EngineCore" in text


def _in_session(proc: psutil.Process, session: int) -> bool:
    try:
        return os.getsid(proc.pid) == session
    except OSError:
        return False


def dump(pid: int) -> None:
    spy = shutil.which("py-spy")
    if spy is None:
        say("  (py-spy not on PATH: no stacks)")
        return
    session = os.getsid(pid)  # the server's whole session: a worker that left its parent too
    for proc in [p for p in psutil.process_iter() if _in_session(p, session)]:
        got = subprocess.run(
            [spy, "dump", "--native", "--pid", str(proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        say(f"--- py-spy {proc.pid} {proc.name()}\n{got.stdout[-4000:]}{got.stderr[-500:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--busy-core", default="1")
    parser.add_argument("--try-core", default="0")
    parser.add_argument("--hung-after", type=float, default=90.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="start-hang-"))
    env = os.environ | {
        "NAPTHA_TUI_STATE_DIR": str(root / "state"),
        "NAPTHA_TUI_CONFIG_DIR": str(root / "config"),
        "NAPTHA_TUI_PROXY__PORT": "4197",
        "NAPTHA_TUI_PORT_BASE": "18960",
    }
    presets = root / "config" / "presets"
    presets.mkdir(parents=True)
    for name, served, core in (
        ("hang-busy", "m-busy", args.busy_core),
        ("hang-try", "m-try", args.try_core),
    ):
        (presets / f"{name}.yaml").write_text(PRESET.format(served=served, core=core))
    say(f"starting hang-busy on core {args.busy_core} ...")
    up = cli(env, "up", "hang-busy")
    if up.returncode != 0:
        raise SystemExit(up.stderr[-2000:])
    busy = record(env, "hang-busy")
    key = (root / "state" / "keys" / "hang-busy.key").read_text().strip()
    stop, done = threading.Event(), list[int]()
    url = f"{busy['base_url']}/chat/completions"
    worker = threading.Thread(target=load, args=(env, url, key, stop, done), daemon=True)
    worker.start()
    starts: list[dict[str, Any]] = []
    try:
        for i in range(args.starts):
            log = root / "state" / "logs" / "hang-try.log"
            log.unlink(missing_ok=True)  # the last start's lines are not this start's
            began = time.monotonic()
            proc = subprocess.Popen(
                [*CLI, "up", "hang-try"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            first = None
            while proc.poll() is None:
                waited = time.monotonic() - began
                if first is None and engine_started(log):
                    first = waited
                if first is None and waited > args.hung_after:
                    say(f"start {i + 1}: no EngineCore line after {waited:.0f} s: hung")
                    dump(record(env, "hang-try")["pid"])
                    kept = root / f"hung-{i + 1}.log"
                    shutil.copyfile(log, kept)
                    say(f"  its log, kept as {kept}:\n{log.read_text(errors='replace')[-3000:]}")
                    proc.kill()
                    break
                time.sleep(0.5)
            ready = time.monotonic() - began if proc.returncode == 0 else None
            starts.append({"engine_line_s": first, "ready_s": ready, "hung": first is None})
            say(f"start {i + 1}: engine line {first} s, ready {ready} s")
            cli(env, "down", "hang-try")
    finally:
        stop.set()
        worker.join(timeout=150)
        cli(env, "down")
    hung = sum(s["hung"] for s in starts)
    print(
        json.dumps(
            {
                "bench": "start_hang",
                "busy_core": args.busy_core,
                "try_core": args.try_core,
                "starts": len(starts),
                "hung": hung,
                "busy_requests": len(done),
                "busy_failed": sum(c != 200 for c in done),
                "runs": starts,
            }
        )
    )


if __name__ == "__main__":
    main()
