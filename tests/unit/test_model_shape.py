"""Model shapes from three real configs (tests/fixtures/model_configs): KV per token, weights."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from naptha_tui.backends.servers.model_shape import (
    ModelShape,
    PlanProblem,
    estimate_parameters,
    load_shape,
    safetensors_weight_bytes,
)
from tests.conftest import REAL_DATA_DIR
from tests.unit.model_configs import CONFIGS, config, shape

PUBLISHED = json.loads((CONFIGS / "weights_bytes.json").read_text())
SMOLLM2_FOLDER = REAL_DATA_DIR / "models" / "smollm2-135m" / "hf"


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


# --- bad configs ------------------------------------------------------------------------------


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
