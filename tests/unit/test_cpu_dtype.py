"""The CPU reading and the dtype rule: ``auto`` on the cpu runtime follows native bfloat16.

The cpuinfo files under tests/fixtures/cpuinfo are the first processor blocks of real
machines' ``/proc/cpuinfo`` (epyc-avx2 is this project's machine); the rule is checked on each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from naptha_tui.backends.checks.preset_check import check_file
from naptha_tui.backends.checks.preset_report import exit_code
from naptha_tui.backends.checks.vllm_surface import Surfaces
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import PresetCatalog, load_preset_file
from naptha_tui.backends.runtimes.models import hf_dir
from naptha_tui.backends.servers.model_shape import ModelShape
from naptha_tui.backends.servers.planner import KV_SPACE_ENV, default_cpu_kv_space_gib, plan_cpu
from naptha_tui.backends.servers.verdict import GiB
from naptha_tui.backends.servers.vllm import (
    KEEP_ALIVE_ENV,
    dtype_choice,
    instance_cores,
    plan_launch,
)
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.telemetry.cpu import (
    CPUINFO_ENV,
    cpu_dtype,
    parse_cpuinfo,
    read_cpu,
    runtime_torch,
    this_cpu,
)
from tests.conftest import write_preset
from tests.unit.model_configs import CONFIGS, config
from tests.unit.test_vllm_args import ready_managed_runtime

CPUINFO = Path(__file__).parent.parent / "fixtures" / "cpuinfo"

# file -> (isa, native bf16): AVX2 only, AVX-512 without BF16 (Skylake-SP, Ice Lake),
# AVX512_BF16 (Cooper Lake, Zen 4), AMX (Sapphire Rapids), Arm with and without BF16
MACHINES = {
    "epyc-avx2": ("AVX2", False),
    "skylake-sp": ("AVX512", False),
    "icelake-sp": ("AVX512", False),
    "cooper-lake": ("AVX512_BF16", True),
    "zen4": ("AVX512_BF16", True),
    "sapphire-rapids": ("AMX", True),
    "graviton2": ("NEON", False),
    "graviton3": ("NEON_BF16", True),
}


def cpu_of(name: str):  # type: ignore[no-untyped-def]
    return read_cpu(CPUINFO / f"{name}.txt")


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_auto_is_bfloat16_only_where_it_is_native(name: str) -> None:
    isa, native = MACHINES[name]
    cpu = cpu_of(name)
    assert (cpu.isa, cpu.native_bf16) == (isa, native)
    choice = cpu_dtype("auto", cpu)
    assert choice.value == ("bfloat16" if native else "float32")
    assert choice.warning is None
    assert choice.reason.startswith("auto: ")
    if not native:
        assert "emulated" in choice.reason and isa in choice.reason
    # no dtype at all is vLLM's auto, which would take the checkpoint's bfloat16: same rule
    assert cpu_dtype(None, cpu) == choice


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_an_explicit_bfloat16_is_kept_and_warned_of_where_emulated(name: str) -> None:
    _, native = MACHINES[name]
    choice = cpu_dtype("bfloat16", cpu_of(name))
    assert choice.value == "bfloat16"
    assert (choice.warning is None) == native
    if not native:
        assert choice.warning is not None and "emulated" in choice.warning
        assert "float32" in choice.warning and "auto" in choice.warning


def test_float32_is_never_warned_of_and_float16_is_where_emulated() -> None:
    for name in MACHINES:
        assert cpu_dtype("float32", cpu_of(name)).warning is None
    assert cpu_dtype("float16", cpu_of("epyc-avx2")).warning is not None
    assert cpu_dtype("float16", cpu_of("sapphire-rapids")).warning is None  # avx512_fp16


def test_cpuinfo_parsing_takes_the_first_processor() -> None:
    model, flags = parse_cpuinfo((CPUINFO / "zen4.txt").read_text())
    assert model == "AMD EPYC 9R14 96-Core Processor"
    assert {"avx2", "avx512f", "avx512_bf16"} <= flags
    model, flags = parse_cpuinfo((CPUINFO / "graviton3.txt").read_text())
    assert model == "" and "bf16" in flags and "asimd" in flags
    assert read_cpu(CPUINFO / "graviton3.txt").model == "unknown CPU"
    missing = read_cpu(CPUINFO / "no-such-file")
    assert missing.flags == frozenset() and missing.isa == "baseline" and not missing.native_bf16


def test_the_machine_is_read_once_and_can_be_pointed_at_a_recording(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "sapphire-rapids.txt"))
    assert this_cpu() is this_cpu()
    assert this_cpu().isa == "AMX" and this_cpu().cores >= 1 and this_cpu().ram_bytes > 0
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "epyc-avx2.txt"))
    assert this_cpu().isa == "AVX2"
    doc = this_cpu().to_json()
    assert doc["native_bf16"] is False and doc["flags"] == ["avx2"]


def test_only_the_cpu_runtime_resolves_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "epyc-avx2.txt"))
    cuda = PresetCatalog(None).get("qwen2.5-7b")
    choice = dtype_choice(cuda)
    assert choice.value == cuda.dtype and choice.warning is None
    cpu = PresetCatalog(None).get("smollm2-cpu")
    assert cpu.dtype == "auto"
    assert dtype_choice(cpu).value == "float32"
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "zen4.txt"))
    assert dtype_choice(cpu).value == "bfloat16"


def prepared_smollm(paths: Paths) -> None:
    """The embedded model's real config.json, with a stand-in for its weights."""
    folder = hf_dir(paths, "smollm2-135m")
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config("smollm2-135m")))
    (folder / "model.bin").write_bytes(b"x" * 10)  # not safetensors: the shape reads config
    marker = {"weights": [{"file": "model.bin", "size": 10, "sha256": "unused"}]}
    (folder.parent / "prepared.json").write_text(json.dumps(marker))


@pytest.mark.parametrize(("machine", "dtype"), [("epyc-avx2", "float32"), ("zen4", "bfloat16")])
def test_the_launch_renders_the_resolved_dtype_and_always_sets_the_kv_space(
    paths: Paths, monkeypatch: pytest.MonkeyPatch, machine: str, dtype: str
) -> None:
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / f"{machine}.txt"))
    monkeypatch.delenv(KV_SPACE_ENV, raising=False)
    prepared_smollm(paths)
    runtime = ready_managed_runtime(paths)
    shipped = PresetCatalog(None).get("smollm2-cpu")
    plan = plan_launch(shipped, runtime, paths, "s", 8123)
    assert plan.argv[plan.argv.index("--dtype") + 1] == dtype
    assert plan.dtype.value == dtype and plan.dtype.reason.startswith("auto")
    assert plan.env[KV_SPACE_ENV] == "2"  # the preset's own value wins
    # a cpu preset that sets no KV space still gets one: vLLM would take most of the RAM
    folder = paths.user_presets_dir
    bare = load_preset_file(
        write_preset(folder, "bare", "model: smollm2-135m\nruntime: cpu\nmax_model_len: 2048\n")
    )
    plan = plan_launch(bare, runtime, paths, "bare", 8124)
    space = int(plan.env[KV_SPACE_ENV])
    assert 1 <= space <= max(1, this_cpu().ram_bytes // 4 // GiB)
    assert plan.argv[plan.argv.index("--dtype") + 1] == dtype  # unset dtype: the same rule


def test_the_operator_environment_kv_space_is_kept(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KV_SPACE_ENV, "3")
    prepared_smollm(paths)
    bare = load_preset_file(
        write_preset(paths.user_presets_dir, "bare", "model: smollm2-135m\nruntime: cpu\n")
    )
    plan = plan_launch(bare, ready_managed_runtime(paths), paths, "bare", 8124)
    assert plan.env[KV_SPACE_ENV] == "3"


def test_default_kv_space_follows_the_model_and_the_ram() -> None:
    small = ModelShape.from_config(config("smollm2-135m"), dtype="float32")
    assert default_cpu_kv_space_gib(small, 2048, 24 * GiB) == 1
    big = ModelShape.from_config(config("qwen2.5-7b-instruct"), dtype="float32")
    # 8 sequences of 32k tokens: far beyond a quarter of 24 GiB, so capped there
    assert default_cpu_kv_space_gib(big, 32768, 24 * GiB) == 6
    assert default_cpu_kv_space_gib(big, 4096, 24 * GiB) == 4  # 8 x 4096 x 112 KiB = 3.5 GiB
    assert default_cpu_kv_space_gib(None, None, 24 * GiB) == 4
    assert default_cpu_kv_space_gib(None, None, 2 * GiB) == 1


def test_float32_doubles_the_planned_weights_and_kv_cache() -> None:
    half = ModelShape.from_config(
        config("smollm2-135m"), weights_bytes=269_060_544, dtype="bfloat16"
    )
    full = ModelShape.from_config(
        config("smollm2-135m"), weights_bytes=2 * 269_060_544, dtype="float32"
    )
    assert full.kv_bytes_per_token() == 2 * half.kv_bytes_per_token()
    a = plan_cpu(half, kv_space_gib=None, max_model_len=2048, available=16 * GiB)
    b = plan_cpu(full, kv_space_gib=None, max_model_len=2048, available=16 * GiB)
    assert a.need is not None and b.need is not None
    assert b.need.weights == 2 * a.need.weights and b.need.kv == 2 * a.need.kv


def test_presets_check_warns_of_emulated_bfloat16_naming_file_line_and_key(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "epyc-avx2.txt"))
    path = write_preset(
        paths.user_presets_dir,
        "slow",
        "model: smollm2-135m\nruntime: cpu\nmax_model_len: 2048\ndtype: bfloat16\n",
    )
    surfaces = Surfaces(paths, Settings(), static_only=True)
    report = check_file(path, surfaces)
    assert [(p.kind, p.key, p.line) for p in report.problems] == [("dtype", "dtype", 4)]
    problem = report.problems[0]
    assert problem.warning and str(problem).startswith(f"warning: {path}:4: dtype: ")
    assert "emulated" in problem.message and "AVX2" in problem.message
    assert problem.to_json()["severity"] == "warning"
    assert report.ok and exit_code([report]) == 0  # it runs: a warning, not a refusal
    monkeypatch.setenv(CPUINFO_ENV, str(CPUINFO / "cooper-lake.txt"))
    assert check_file(path, surfaces).problems == ()


def test_runtime_torch_is_asked_once_per_install(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    calls = tmp_path / "calls"
    fake.write_text(
        "#!/bin/sh\necho x >> " + str(calls) + "\n"
        'echo \'{"torch": "2.13.0+cpu", "capability": "AVX2", "threads": 2}\'\n'
    )
    fake.chmod(0o755)
    cache = tmp_path / "cpu.json"
    first = runtime_torch(fake, cache, "install-1")
    assert first == {"torch": "2.13.0+cpu", "capability": "AVX2", "threads": 2}
    assert runtime_torch(fake, cache, "install-1") == first
    assert calls.read_text().count("x") == 1
    runtime_torch(fake, cache, "install-2")  # a new install asks again
    assert calls.read_text().count("x") == 2
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\necho 'Traceback: no torch' >&2\nexit 1\n")
    broken.chmod(0o755)
    assert runtime_torch(broken, tmp_path / "other.json", "x") is None


def test_configs_fixture_is_there() -> None:
    assert (CONFIGS / "smollm2-135m.json").is_file()


def test_a_stall_limit_the_startup_timeout_cuts_short_is_a_problem(paths: Paths) -> None:
    surfaces = Surfaces(paths, Settings(), static_only=True)
    path = write_preset(
        paths.user_presets_dir,
        "short",
        "model: smollm2-135m\nruntime: cpu\ndtype: auto\nstartup_timeout: 200\n"
        "startup_stall_timeout: 300\n",
    )
    report = check_file(path, surfaces)
    assert [(p.key, p.line, p.kind) for p in report.problems] == [
        ("startup_stall_timeout", 5, "option")
    ]
    assert "unhealthy before it would be restarted" in report.problems[0].message
    assert exit_code([report]) == 1
    path.write_text(path.read_text().replace("300", "120"))
    assert check_file(path, surfaces).problems == ()


@pytest.mark.parametrize(
    ("instances", "cpus", "expected"),
    [
        (2, (0, 1), ["0", "1"]),
        # a share of two or more leaves its last CPU to the instance's API server
        (2, tuple(range(8)), ["0-2", "4-6"]),
        (3, tuple(range(8)), ["0", "2", "4"]),
        (2, tuple(range(12)), ["0-4", "6-10"]),
        (4, (0, 1), ["0", "1", "0", "1"]),  # more instances than CPUs: round-robin
        (2, (0, 2, 4, 6, 8, 10), ["0,2", "6,8"]),  # an affinity with holes is listed
    ],
)
def test_instances_get_their_own_cores(
    instances: int, cpus: tuple[int, ...], expected: list[str]
) -> None:
    assert [instance_cores(i, instances, cpus) for i in range(instances)] == expected


def test_a_multi_instance_cpu_preset_without_a_binding_gets_one_per_instance(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    prepared_smollm(paths)
    runtime = ready_managed_runtime(paths)
    text = "model: smollm2-135m\nruntime: cpu\ninstances: 2\n"
    two = load_preset_file(write_preset(paths.user_presets_dir, "two", text))
    binds = [
        plan_launch(two, runtime, paths, f"two-{i}", 8200 + i, i).env["VLLM_CPU_OMP_THREADS_BIND"]
        for i in range(2)
    ]
    cpus = this_cpu().cpu_ids
    assert binds == [instance_cores(i, 2, cpus) for i in range(2)]
    assert len(cpus) < 2 or binds[0] != binds[1]
    # the shipped two-instance preset says it itself; one instance is left to vLLM's auto
    shipped = PresetCatalog(None).get("smollm2-cpu-x2")
    plan = plan_launch(shipped, runtime, paths, "x-1", 8210, 1)
    assert plan.env["VLLM_CPU_OMP_THREADS_BIND"] == "1"
    one = load_preset_file(write_preset(paths.user_presets_dir, "one", text.replace("2", "1")))
    assert "VLLM_CPU_OMP_THREADS_BIND" not in plan_launch(one, runtime, paths, "one", 8220).env


def test_servers_keep_idle_connections_longer_than_the_proxy_does(
    paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VLLM_HTTP_TIMEOUT_KEEP_ALIVE", raising=False)
    prepared_smollm(paths)
    runtime = ready_managed_runtime(paths)
    shipped = PresetCatalog(None).get("smollm2-cpu")
    # longer than LiteLLM's aiohttp keep-alive (15 s), so the proxy never reuses a closing one
    assert int(plan_launch(shipped, runtime, paths, "s", 8123).env[KEEP_ALIVE_ENV]) > 15
    monkeypatch.setenv("VLLM_HTTP_TIMEOUT_KEEP_ALIVE", "120")  # the operator's value wins
    assert plan_launch(shipped, runtime, paths, "s", 8123).env[KEEP_ALIVE_ENV] == "120"
