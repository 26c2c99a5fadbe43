"""The embedded preset as shipped (``dtype: auto``) against the same preset forced to bfloat16.

One server at a time on the same machine, in one run: each variant of ``smollm2-cpu`` is
started with ``naptha-tui up`` (its start time measured to ready), loaded with ``naptha-tui
bench --server`` straight at the server (100 prompts, 64 words in, 16 tokens out, concurrency
8, ``--ignore-eos``), then stopped. The last line is one JSON object with ``isa``,
``dtype_default`` (what ``auto`` resolved to here), ``req_s_default``, ``req_s_bf16``,
``speedup``, ``ttft_p50_default_ms``, ``ttft_p50_bf16_ms`` and the goal (where bfloat16 is not
native: speedup >= 3.0 and the TTFT p50 at most a quarter of bfloat16's).

``--matrix`` measures the thread binding and start mode instead (issue 18 item 3), each in
float32 with the proxy up beside it as in a real node: ``VLLM_CPU_OMP_THREADS_BIND`` auto
with 0 or 1 reserved CPU, explicit cores, ``nobind``, and compiled mode (no
``--enforce-eager``); each row gives the start time and the same load's figures.

    .venv/bin/python benchmarks/cpu_default.py [--quick] [--matrix] [--prompts N]

``--quick`` runs 24 prompts. A temporary state dir is used (proxy port 4197, servers from
18970); the runtimes and the embedded model come from the usual data dir.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from naptha_tui.backends.presets import PresetCatalog
from naptha_tui.backends.telemetry.cpu import cpu_dtype, this_cpu

NT = str(Path(sys.executable).with_name("naptha-tui"))
SHIPPED = "smollm2-cpu"


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def variant(name: str, config_dir: Path, **changes: Any) -> str:
    """Write the shipped preset, changed, as a user preset called ``name``."""
    source = PresetCatalog(None).files()[SHIPPED]
    doc = yaml.safe_load(source.read_text())
    env = {**doc.get("env", {}), **changes.pop("env", {})}
    doc |= changes
    doc["env"] = {k: v for k, v in env.items() if v is not None}
    for key in [k for k, v in doc.items() if v is None]:
        del doc[key]
    folder = config_dir / "presets"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return name


def cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NT, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def measure(env: dict[str, str], name: str, prompts: int) -> dict[str, Any]:
    """Start ``name``, load it, stop it; its figures."""
    # the server's own start: until `up` says it is ready (the proxy's start comes after)
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [NT, "up", name, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None and proc.stdout is not None
    start_s, said = 0.0, []
    for line in proc.stderr:
        said.append(line)
        if line.startswith(f"{name}: ready") and not start_s:
            start_s = time.monotonic() - t0
    out = proc.stdout.read()
    if proc.wait() != 0 or not start_s:
        cli(env, "down", name)
        raise SystemExit(f"{name} did not start:\n{''.join(said)[-2000:]}")
    server = next(s for s in json.loads(out)["servers"] if s["name"] == name)
    say(f"{name}: ready in {start_s:.0f} s (dtype {server['dtype']})")
    bench = cli(
        env,
        "bench",
        "--server",
        name,
        "--num-prompts",
        str(prompts),
        "--random-input-len",
        "64",
        "--random-output-len",
        "16",
        "--max-concurrency",
        "8",
        "--ignore-eos",
        "--no-save",
        "--json",
    )
    cli(env, "down", name)
    if bench.returncode != 0:
        raise SystemExit(f"bench on {name} failed:\n{bench.stderr[-2000:]}")
    doc = json.loads(bench.stdout.strip().splitlines()[-1])
    row = {
        "name": name,
        "dtype": server["dtype"],
        "start_s": round(start_s, 1),
        "completed": doc["completed"],
        "failed": doc["failed"],
        "req_s": round(doc["request_throughput"], 3),
        "out_tok_s": round(doc["output_throughput"], 1),
        "ttft_p50_ms": round(doc["median_ttft_ms"], 1),
        "tpot_p50_ms": round(doc["median_tpot_ms"], 1),
        "e2el_p50_ms": round(doc["median_e2el_ms"], 1),
    }
    say(
        f"{name}: {row['req_s']} req/s, TTFT p50 {row['ttft_p50_ms']:.0f} ms, "
        f"TPOT p50 {row['tpot_p50_ms']:.0f} ms, E2EL p50 {row['e2el_p50_ms']:.0f} ms"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="24 prompts instead of 100")
    parser.add_argument("--prompts", type=int, help="prompts per variant")
    parser.add_argument("--matrix", action="store_true", help="threads and start mode instead")
    args = parser.parse_args()
    prompts = args.prompts or (24 if args.quick else 100)
    root = Path(tempfile.mkdtemp(prefix="cpu-default-"))
    env = {
        **os.environ,
        "NAPTHA_TUI_STATE_DIR": str(root / "state"),
        "NAPTHA_TUI_CONFIG_DIR": str(root / "config"),
        "NAPTHA_TUI_PROXY__PORT": "4197",
        "NAPTHA_TUI_PORT_BASE": "18970",
    }
    config = root / "config"
    cpu = this_cpu()
    say(f"cpu: {cpu.model}, {cpu.isa}, {cpu.cores} cores, native bf16: {cpu.native_bf16}")
    try:
        if args.matrix:
            rows = [
                measure(env, variant(name, config, dtype="float32", **changes), prompts)
                for name, changes in (
                    ("bind-auto", {}),
                    ("bind-auto-reserve1", {"env": {"VLLM_CPU_NUM_OF_RESERVED_CPU": "1"}}),
                    ("bind-0-1", {"env": {"VLLM_CPU_OMP_THREADS_BIND": "0-1"}}),
                    ("bind-1", {"env": {"VLLM_CPU_OMP_THREADS_BIND": "1"}}),
                    ("nobind", {"env": {"VLLM_CPU_OMP_THREADS_BIND": "nobind"}}),
                    ("compiled", {"enforce_eager": False}),
                )
            ]
            print(json.dumps({"bench": "cpu_default_matrix", "isa": cpu.isa, "rows": rows}))
            return
        shipped = measure(env, variant("as-shipped", config), prompts)
        bf16 = measure(env, variant("forced-bf16", config, dtype="bfloat16"), prompts)
    finally:
        cli(env, "down")
    speedup = shipped["req_s"] / bf16["req_s"] if bf16["req_s"] else None
    ttft_ratio = shipped["ttft_p50_ms"] / bf16["ttft_p50_ms"] if bf16["ttft_p50_ms"] else None
    native = cpu.native_bf16
    out = {
        "bench": "cpu_default",
        "isa": cpu.isa,
        "native_bf16": native,
        "dtype_default": cpu_dtype("auto", cpu).value,
        "prompts": prompts,
        "req_s_default": shipped["req_s"],
        "req_s_bf16": bf16["req_s"],
        "speedup": round(speedup, 2) if speedup else None,
        "ttft_p50_default_ms": shipped["ttft_p50_ms"],
        "ttft_p50_bf16_ms": bf16["ttft_p50_ms"],
        "ttft_ratio": round(ttft_ratio, 3) if ttft_ratio else None,
        "start_s_default": shipped["start_s"],
        "start_s_bf16": bf16["start_s"],
        "goal": "native: n/a" if native else "speedup >= 3.0 and ttft_ratio <= 0.25",
        "goal_met": None
        if native
        else bool(speedup and speedup >= 3.0 and ttft_ratio and ttft_ratio <= 0.25),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
