"""The memory planner's verdicts for real configs (tests/fixtures/model_configs) on made-up GPUs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.servers.model_shape import ModelShape, PlanProblem, load_shape
from naptha_tui.backends.servers.planner import (
    CPU_OVERHEAD_BYTES,
    GPU_OVERHEAD_BYTES,
    cpu_kv_space_gib,
    plan_cpu,
    plan_gpu,
)
from naptha_tui.backends.servers.verdict import GiB, GpuFree, Holder, Verdict, WontFit
from tests.unit.model_configs import shape

# --- CPU runtime ------------------------------------------------------------------------------


def smollm2() -> ModelShape:
    return shape("smollm2-135m", weights_bytes=269_030_016)


HOLDERS = [Holder("smollm2-cpu", int(1.4 * GiB)), Holder("other processes", int(3.1 * GiB))]


def test_cpu_embedded_preset_fits_in_24_gib() -> None:
    verdict = plan_cpu(
        smollm2(),
        kv_space_gib=cpu_kv_space_gib({"VLLM_CPU_KVCACHE_SPACE": "2"}),
        max_model_len=2048,
        available=24 * GiB - 2 * GiB,
        held_by=HOLDERS,
    )
    assert verdict.fits is True and verdict.reasons == ()
    assert verdict.device == "RAM"
    assert verdict.need is not None
    assert verdict.need.kv == 2 * GiB  # the KV space is budgeted in full
    assert verdict.need.overhead == CPU_OVERHEAD_BYTES
    assert verdict.budget == verdict.need.total == 269_030_016 + 2 * GiB + CPU_OVERHEAD_BYTES
    verdict.check("smollm2-cpu")  # does not raise
    assert "preset smollm2-cpu fits in RAM: needs 3.75 GiB" in verdict.message("smollm2-cpu")


def test_cpu_huge_kv_space_is_refused_with_numbers_and_holders() -> None:
    verdict = plan_cpu(
        smollm2(),
        kv_space_gib=cpu_kv_space_gib({"VLLM_CPU_KVCACHE_SPACE": "1000"}),
        max_model_len=2048,
        available=int(21.3 * GiB),
        held_by=HOLDERS,
    )
    assert verdict.fits is False
    message = verdict.message("smollm2-cpu")
    assert message.startswith(
        "preset smollm2-cpu will not fit in RAM: needs 1001.75 GiB "
        "(weights 0.25 + KV cache 1000.00 + overhead 1.50), 21.3 GiB free; "
        "held by smollm2-cpu 1.4 GiB, other processes 3.1 GiB"
    )
    assert "1001.75 GiB" in verdict.reasons[0] and "21.30 GiB" in verdict.reasons[0]
    with pytest.raises(WontFit) as info:
        verdict.check("smollm2-cpu")
    assert info.value.verdict is verdict
    assert str(info.value) == message
    assert isinstance(info.value, NapthaError)


def test_cpu_kv_space_too_small_for_one_sequence() -> None:
    verdict = plan_cpu(
        shape("llama-3.1-8b-instruct"),
        kv_space_gib=1,
        max_model_len=None,  # the model's 131072 tokens need 16 GiB
        available=200 * GiB,
    )
    assert verdict.fits is False
    assert "max_model_len 131072" in verdict.reasons[0]
    assert "16.00 GiB" in verdict.reasons[0]


def test_cpu_kv_space_zero_is_refused() -> None:
    verdict = plan_cpu(
        smollm2(),
        kv_space_gib=cpu_kv_space_gib({"VLLM_CPU_KVCACHE_SPACE": "0"}),
        max_model_len=2048,
        available=20 * GiB,
    )
    assert verdict.fits is False
    assert "No available memory for the cache blocks" in verdict.reasons[0]


def test_cpu_kv_space_unset_reserves_a_fraction_of_total_ram() -> None:
    common: dict[str, Any] = {"kv_space_gib": None, "max_model_len": 2048, "total": 24 * GiB}
    tight = plan_cpu(smollm2(), available=18 * GiB, **common)
    assert tight.fits is False
    assert "TOTAL RAM" in tight.reasons[0] and "22.08 GiB" in tight.reasons[0]  # 0.92 x 24
    roomy = plan_cpu(smollm2(), available=23 * GiB, **common)
    assert roomy.fits is True
    assert roomy.need is not None and roomy.need.total == math.ceil(24 * GiB * 0.92)
    half = plan_cpu(smollm2(), available=18 * GiB, gpu_memory_utilization=0.5, **common)
    assert half.fits is True
    assert half.budget == 12 * GiB


def test_cpu_kv_space_env_parsing() -> None:
    assert cpu_kv_space_gib({}) is None
    assert cpu_kv_space_gib({"VLLM_CPU_KVCACHE_SPACE": ""}) is None
    assert cpu_kv_space_gib({"VLLM_CPU_KVCACHE_SPACE": "4"}) == 4.0
    with pytest.raises(PlanProblem, match=r"VLLM_CPU_KVCACHE_SPACE: '2\.5'"):
        cpu_kv_space_gib({"VLLM_CPU_KVCACHE_SPACE": "2.5"})


# --- GPUs -------------------------------------------------------------------------------------


def llama() -> ModelShape:
    return shape("llama-3.1-8b-instruct")


def gpu(total_gib: float, free_gib: float, index: int = 0) -> GpuFree:
    return GpuFree(index, int(total_gib * GiB), int(free_gib * GiB))


def test_gpu_llama_fits_on_an_empty_80_gib_gpu() -> None:
    verdict = plan_gpu(llama(), gpus=[gpu(80, 80)], gpu_memory_utilization=0.9, max_model_len=None)
    assert verdict.fits is True, verdict.reasons
    assert verdict.device == "GPU 0"
    assert verdict.budget == 72 * GiB
    assert verdict.need is not None
    assert verdict.need.kv == 131072 * 131072  # one full-length sequence: 16 GiB
    assert verdict.need.overhead == GPU_OVERHEAD_BYTES


def test_gpu_two_instances_at_09_cannot_share_a_gpu() -> None:
    first = plan_gpu(llama(), gpus=[gpu(80, 80)], gpu_memory_utilization=0.9, max_model_len=8192)
    assert first.fits is True
    # the first now holds its whole budget: 72 GiB
    second = plan_gpu(
        llama(),
        gpus=[gpu(80, 8)],
        gpu_memory_utilization=0.9,
        max_model_len=8192,
        held_by=[Holder("llama-0", 72 * GiB)],
    )
    assert second.fits is False
    assert second.free == 8 * GiB and second.budget == 72 * GiB
    (reason,) = second.reasons
    assert "gpu_memory_utilization 0.90 is a fraction of the GPU's TOTAL memory" in reason
    assert "72.00 GiB" in reason and "8.00 GiB is free" in reason
    message = second.message("llama")
    assert message.startswith("preset llama will not fit on GPU 0: needs ")
    assert "held by llama-0 72.0 GiB" in message and reason in message


def test_gpu_two_instances_at_045_both_fit() -> None:
    first = plan_gpu(llama(), gpus=[gpu(80, 80)], gpu_memory_utilization=0.45, max_model_len=8192)
    second = plan_gpu(
        llama(), gpus=[gpu(80, 80 - 36)], gpu_memory_utilization=0.45, max_model_len=8192
    )
    assert first.fits is True and second.fits is True, second.reasons
    # and the trap's hint names a utilization that would have worked
    trapped = plan_gpu(
        llama(), gpus=[gpu(80, 80 - 36)], gpu_memory_utilization=0.9, max_model_len=8192
    )
    assert trapped.fits is False
    assert "between 0.23 and 0.55" in trapped.reasons[0]


def test_gpu_full_context_does_not_fit_in_a_24_gib_gpu() -> None:
    verdict = plan_gpu(
        llama(), gpus=[gpu(24, 24)], gpu_memory_utilization=0.9, max_model_len=131072
    )
    assert verdict.fits is False
    (reason,) = verdict.reasons
    assert "max_model_len 131072" in reason
    assert "16.00 GiB" in reason and "21.60 GiB" in reason
    assert verdict.need is not None and verdict.need.total > verdict.budget  # type: ignore[operator]
    smaller = plan_gpu(llama(), gpus=[gpu(24, 24)], gpu_memory_utilization=0.9, max_model_len=8192)
    assert smaller.fits is True


def test_gpu_tensor_parallel_splits_weights_and_kv() -> None:
    one = plan_gpu(llama(), gpus=[gpu(24, 24)], gpu_memory_utilization=0.9, max_model_len=131072)
    two = plan_gpu(
        llama(),
        gpus=[gpu(24, 24, 0), gpu(24, 23, 1)],
        gpu_memory_utilization=0.9,
        tensor_parallel_size=2,
        max_model_len=131072,
    )
    assert one.need is not None and two.need is not None
    assert two.need.weights == -(-llama().weights_bytes // 2)
    assert two.need.kv * 2 == one.need.kv
    assert two.fits is True, two.reasons
    assert two.device == "GPUs 0,1"
    assert two.free == 23 * GiB  # the tightest GPU


def test_gpu_too_few_gpus_for_tensor_parallel() -> None:
    verdict = plan_gpu(
        llama(),
        gpus=[gpu(80, 80)],
        gpu_memory_utilization=0.9,
        tensor_parallel_size=2,
        max_model_len=8192,
    )
    assert verdict.fits is False
    assert "tensor_parallel_size 2 needs 2 GPUs" in verdict.reasons[0]


def test_gpu_default_utilization_is_vllms() -> None:
    verdict = plan_gpu(llama(), gpus=[gpu(80, 80)], gpu_memory_utilization=None, max_model_len=1)
    assert verdict.budget == math.ceil(80 * GiB * 0.92)  # as vLLM rounds it


# --- unknown shapes and JSON ------------------------------------------------------------------


def test_unknown_shape_is_never_refused(tmp_path: Path) -> None:
    assert load_shape(None) is None
    assert load_shape(tmp_path / "Qwen--not-downloaded") is None
    on_gpu = plan_gpu(None, gpus=[gpu(80, 8)], gpu_memory_utilization=0.9, max_model_len=None)
    on_cpu = plan_cpu(None, kv_space_gib=1000, max_model_len=None, available=1)
    for verdict in (on_gpu, on_cpu):
        assert verdict.fits is None
        assert verdict.need is None and verdict.reasons == ()
        verdict.check("remote")  # does not raise
        assert "not checked" in verdict.message("remote")
    # what is certain without a config is still said
    assert any("TOTAL memory" in note for note in on_gpu.notes)


def test_verdict_to_json_is_plain_data() -> None:
    verdict = plan_gpu(
        llama(),
        gpus=[gpu(80, 8)],
        gpu_memory_utilization=0.9,
        max_model_len=8192,
        held_by=[Holder("pid 1234", 72 * GiB)],
    )
    data = verdict.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["fits"] is False and data["device"] == "GPU 0"
    assert data["need"]["total"] == verdict.need.total  # type: ignore[union-attr]
    assert data["held_by"] == [{"name": "pid 1234", "bytes": 72 * GiB}]
    assert data["reasons"] == list(verdict.reasons)
    assert isinstance(Verdict(None, "RAM", None, None, None).to_json()["notes"], list)
