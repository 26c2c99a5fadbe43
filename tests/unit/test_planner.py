"""The memory planner against three real configs (tests/fixtures/model_configs) and made-up GPUs."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.servers.planner import (
    CPU_OVERHEAD_BYTES,
    GPU_OVERHEAD_BYTES,
    GiB,
    GpuFree,
    Holder,
    ModelShape,
    PlanProblem,
    Verdict,
    WontFit,
    cpu_kv_space_gib,
    estimate_parameters,
    load_shape,
    plan_cpu,
    plan_gpu,
    safetensors_weight_bytes,
)
from tests.conftest import REAL_DATA_DIR

CONFIGS = Path(__file__).parent.parent / "fixtures" / "model_configs"
PUBLISHED = json.loads((CONFIGS / "weights_bytes.json").read_text())
SMOLLM2_FOLDER = REAL_DATA_DIR / "models" / "smollm2-135m" / "hf"


def config(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFIGS / f"{name}.json").read_text())
    return data


def shape(name: str, **kwargs: Any) -> ModelShape:
    return ModelShape.from_config(config(name), **kwargs)


def by_hand(cfg: dict[str, Any], dtype_bytes: int = 2) -> int:
    """layers x KV heads x head dim x 2 (K and V) x dtype bytes, from the config's own numbers."""
    head_dim = int(cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"])
    return (
        int(cfg["num_hidden_layers"]) * int(cfg["num_key_value_heads"]) * head_dim * 2 * dtype_bytes
    )


# --- KV cache per token ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("smollm2-135m", 30 * 3 * 64 * 2 * 2),
        ("qwen2.5-7b-instruct", 28 * 4 * 128 * 2 * 2),
        ("llama-3.1-8b-instruct", 32 * 8 * 128 * 2 * 2),
    ],
)
def test_kv_bytes_per_token_of_real_configs(name: str, expected: int) -> None:
    cfg = config(name)
    assert by_hand(cfg) == expected  # the fixture really has these numbers
    assert shape(name).kv_bytes_per_token() == expected


@pytest.mark.parametrize("name", ["qwen2.5-7b-instruct", "llama-3.1-8b-instruct"])
def test_tensor_parallel_halves_kv_per_gpu(name: str) -> None:
    s = shape(name)
    assert s.kv_bytes_per_token(tp=2) * 2 == s.kv_bytes_per_token()


def test_kv_heads_never_drop_below_one_per_gpu() -> None:
    s = shape("qwen2.5-7b-instruct")  # 4 KV heads
    assert s.kv_bytes_per_token(tp=8) == s.kv_bytes_per_token() // 4  # replicated: 1 per GPU


def test_head_dim_and_kv_heads_defaults() -> None:
    cfg = {"num_hidden_layers": 2, "num_attention_heads": 8, "hidden_size": 512}
    s = ModelShape.from_config(cfg, weights_bytes=1)
    assert (s.kv_heads, s.head_dim) == (8, 64)  # KV heads = attention heads, 512 / 8
    assert s.kv_bytes_per_token() == 2 * 8 * 64 * 2 * 2
    explicit = ModelShape.from_config({**cfg, "head_dim": 128, "num_key_value_heads": 2}, 1)
    assert (explicit.kv_heads, explicit.head_dim) == (2, 128)


def test_dtype_preset_wins_over_config() -> None:
    half = shape("llama-3.1-8b-instruct")
    full = shape("llama-3.1-8b-instruct", dtype="float32")
    assert (half.dtype_bytes, full.dtype_bytes) == (2, 4)
    assert full.kv_bytes_per_token() == 2 * half.kv_bytes_per_token()
    assert full.weights_bytes == 2 * half.weights_bytes
    assert shape("llama-3.1-8b-instruct", dtype="auto").dtype_bytes == 2
    # vLLM's "auto" downcasts a float32 checkpoint to 16 bits
    fp32 = {**config("smollm2-135m"), "dtype": "float32"}
    assert ModelShape.from_config(fp32).dtype_bytes == 2
    with pytest.raises(PlanProblem, match="fp8"):
        shape("llama-3.1-8b-instruct", dtype="fp8")


# --- weights ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "repo"),
    [
        ("qwen2.5-7b-instruct", "Qwen/Qwen2.5-7B-Instruct"),
        ("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct"),
    ],
)
def test_weights_estimate_within_5_percent_of_published(name: str, repo: str) -> None:
    s = shape(name)
    published = PUBLISHED[repo]
    assert s.weights_source == "estimate"
    assert abs(s.weights_bytes - published) / published < 0.05
    assert s.weights_bytes == estimate_parameters(config(name)) * 2


def test_tied_embeddings_count_once() -> None:
    cfg = config("smollm2-135m")  # tie_word_embeddings: true
    untied = estimate_parameters({**cfg, "tie_word_embeddings": False})
    assert untied - estimate_parameters(cfg) == cfg["vocab_size"] * cfg["hidden_size"]


@pytest.mark.skipif(
    not (SMOLLM2_FOLDER / "config.json").is_file(),
    reason=f"the embedded model is not prepared here ({SMOLLM2_FOLDER})",
)
def test_real_smollm2_folder_uses_its_safetensors() -> None:
    s = ModelShape.from_folder(SMOLLM2_FOLDER)
    assert s.weights_source == "safetensors"
    file_bytes = sum(p.stat().st_size for p in SMOLLM2_FOLDER.glob("*.safetensors"))
    # the tensors, without the header: a little below the file size
    assert file_bytes - 1024 * 1024 < s.weights_bytes < file_bytes
    assert s.kv_bytes_per_token() == 23040
    assert json.loads((SMOLLM2_FOLDER / "config.json").read_text()) == config("smollm2-135m")


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int], int]]) -> int:
    """A valid-looking safetensors file (zeros); returns the tensor bytes it declares."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape_, itemsize) in tensors.items():
        size = itemsize
        for d in shape_:
            size *= d
        header[name] = {"dtype": dtype, "shape": shape_, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"\0" * offset)
    return offset


def test_safetensors_headers_sized_at_the_model_dtype(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config("smollm2-135m")))
    declared = write_safetensors(
        tmp_path / "model-00001-of-00002.safetensors",
        {"a": ("BF16", [1000, 10], 2), "packed": ("I32", [100], 4)},
    )
    declared += write_safetensors(
        tmp_path / "model-00002-of-00002.safetensors", {"b": ("F32", [500], 4)}
    )
    # a stray copy the index does not map must not count twice
    write_safetensors(tmp_path / "consolidated.safetensors", {"a": ("BF16", [1000, 10], 2)})
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps(
            {
                "weight_map": {
                    "a": "model-00001-of-00002.safetensors",
                    "b": "model-00002-of-00002.safetensors",
                }
            }
        )
    )
    bf16 = ModelShape.from_folder(tmp_path)
    assert bf16.weights_source == "safetensors"
    # floats at 2 bytes (the F32 tensor is cast down), the int pack as stored
    assert bf16.weights_bytes == 10_000 * 2 + 400 + 500 * 2
    assert declared == 20_000 + 400 + 2_000
    fp32 = ModelShape.from_folder(tmp_path, dtype="float32")
    assert fp32.weights_bytes == 10_000 * 4 + 400 + 500 * 4


def test_unparsable_safetensors_counts_its_file_size(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\xff" * 4096)
    assert safetensors_weight_bytes(tmp_path, 2) == 4096
    assert safetensors_weight_bytes(tmp_path / "missing", 2) is None


def test_folder_without_safetensors_is_estimated(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config("qwen2.5-7b-instruct")))
    s = ModelShape.from_folder(tmp_path)
    assert s.weights_source == "estimate"
    assert s.weights_bytes == shape("qwen2.5-7b-instruct").weights_bytes


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


# --- unknown shapes and bad configs -----------------------------------------------------------


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


def test_missing_config_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(PlanProblem) as info:
        ModelShape.from_folder(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value)
    with pytest.raises(PlanProblem):
        load_shape(tmp_path)  # an existing folder without a config is a problem, not unknown


def test_garbage_config_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"num_hidden_layers": 30,,}')
    with pytest.raises(PlanProblem) as info:
        ModelShape.from_folder(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value)
    assert "not valid JSON" in str(info.value)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(PlanProblem, match="not a JSON object"):
        ModelShape.from_folder(tmp_path)


@pytest.mark.parametrize("key", ["num_hidden_layers", "num_attention_heads", "vocab_size"])
def test_config_missing_a_key_names_file_and_key(tmp_path: Path, key: str) -> None:
    cfg = config("llama-3.1-8b-instruct")
    del cfg[key]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(PlanProblem) as info:
        ModelShape.from_folder(tmp_path)
    assert str(tmp_path / "config.json") in str(info.value)
    assert key in str(info.value)


def test_config_with_a_bad_value_names_the_key() -> None:
    cfg = {**config("llama-3.1-8b-instruct"), "num_key_value_heads": "eight"}
    with pytest.raises(PlanProblem, match=r"config\.json: num_key_value_heads must be a positive"):
        ModelShape.from_config(cfg)


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
