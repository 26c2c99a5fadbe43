"""What the memory planner needs of a model: its shape, from ``config.json`` and safetensors.

Layers, KV heads, head dim and dtype come from the model's ``config.json`` (older and non-Llama
key spellings included, a multimodal config's ``text_config`` when the top level has none); the
weights' size in memory from the tensor shapes in its safetensors headers (the tensors are never
read), else from a parameter count estimated from the config. Every error is a
:class:`PlanProblem` naming the file and the key. Line references are to vLLM 0.32, as in
``planner.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from naptha_tui.backends.errors import NapthaError

GPU_BLOCK_SIZE = 16
"""KV block size on GPUs (``CacheConfig.DEFAULT_BLOCK_SIZE``, ``config/cache.py:72``)."""

_PRESET_DTYPE_BYTES = {"half": 2, "float16": 2, "bfloat16": 2, "float": 4, "float32": 4}
# safetensors dtypes that vLLM casts to the model dtype; the others (int4 packs, fp8) keep their
# stored size
_FLOAT_TENSOR_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})
_MAX_HEADER_BYTES = 100 * 1024 * 1024

# first name is the one messages use; the others are older or non-Llama spellings
_KEYS: dict[str, tuple[str, ...]] = {
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head"),
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "intermediate_size": ("intermediate_size", "n_inner", "ffn_dim"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "max_seq_len"),
}


class PlanProblem(NapthaError):
    """A model's config.json (or weights) cannot be read; the message names file and key."""


@dataclass(frozen=True)
class ModelShape:
    """What the planner needs of a model: from its config.json and its folder's safetensors."""

    layers: int
    kv_heads: int
    head_dim: int
    dtype_bytes: int
    """Bytes per weight and per KV element (the KV cache takes the model dtype)."""
    max_position: int | None
    """``max_position_embeddings``: vLLM's ``max_model_len`` when a preset sets none."""
    weights_bytes: int
    weights_source: str
    """``safetensors`` (from the files) or ``estimate`` (parameters from config.json)."""

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        weights_bytes: int | None = None,
        dtype: str | None = None,
        *,
        source: str = "config.json",
    ) -> ModelShape:
        """Read a shape from a parsed config.json.

        Args:
            config: the parsed config.json (a multimodal config's ``text_config`` is used when
                the top level has no layer count).
            weights_bytes: the weights' size in memory when known (from safetensors); else it
                is estimated from the config's parameter count.
            dtype: the preset's ``dtype`` (``auto``/None: the config's ``torch_dtype``).
            source: how messages name the config (a path).

        Returns:
            The shape.

        Raises:
            PlanProblem: a key is missing or not a positive integer, or the dtype is unknown.
        """
        text = _text_config(config)
        dtype_bytes = _dtype_bytes(config, dtype, source)
        layers = _int(text, "num_hidden_layers", source)
        heads = _int(text, "num_attention_heads", source)
        kv_heads = _int(text, "num_key_value_heads", source, default=heads)
        head_dim = _opt_int(text, "head_dim", source)
        if head_dim is None:
            hidden = _int(text, "hidden_size", source)
            if hidden % heads:
                raise PlanProblem(
                    f"{source}: hidden_size {hidden} is not a multiple of num_attention_heads "
                    f"{heads}, and there is no head_dim"
                )
            head_dim = hidden // heads
        max_position = _opt_int(text, "max_position_embeddings", source)
        if weights_bytes is not None:
            return cls(
                layers, kv_heads, head_dim, dtype_bytes, max_position, weights_bytes, "safetensors"
            )
        params = estimate_parameters(config, source=source)
        return cls(
            layers,
            kv_heads,
            head_dim,
            dtype_bytes,
            max_position,
            params * dtype_bytes,
            "estimate",
        )

    @classmethod
    def from_folder(cls, folder: Path, dtype: str | None = None) -> ModelShape:
        """Read a local model folder: its config.json, and its safetensors for the weights.

        Args:
            folder: a Hugging Face style folder (``config.json`` beside ``*.safetensors``).
            dtype: the preset's ``dtype``.

        Returns:
            The shape; weights from the safetensors headers when there are any, else estimated.

        Raises:
            PlanProblem: config.json is missing, unreadable, not JSON or lacks a key.
        """
        path = folder / "config.json"
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PlanProblem(f"{path}: no config.json in the model folder") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanProblem(f"{path}: cannot be read ({exc})") from None
        try:
            config = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PlanProblem(
                f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
        if not isinstance(config, dict):
            raise PlanProblem(f"{path}: not a JSON object")
        probe = cls.from_config(config, weights_bytes=0, dtype=dtype, source=str(path))
        weights = safetensors_weight_bytes(folder, probe.dtype_bytes)
        return cls.from_config(config, weights_bytes=weights, dtype=dtype, source=str(path))

    def kv_bytes_per_token(self, tp: int = 1) -> int:
        """KV cache bytes per token on each GPU: layers x KV heads x head dim x 2 (K, V) x dtype.

        KV heads are split over ``tp`` GPUs, at least one per GPU (vLLM replicates them when
        there are fewer heads than GPUs; ``config/model.py:1670``).
        """
        heads = max(1, self.kv_heads // max(1, tp))
        return self.layers * heads * self.head_dim * 2 * self.dtype_bytes

    def kv_bytes_for(self, tokens: int, *, tp: int = 1, block_size: int = GPU_BLOCK_SIZE) -> int:
        """KV bytes on each GPU for one sequence of ``tokens`` (rounded up to whole blocks)."""
        blocks = -(-tokens // block_size)
        return blocks * block_size * self.kv_bytes_per_token(tp)


def _text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    text = config.get("text_config")
    if "num_hidden_layers" not in config and isinstance(text, Mapping):
        return text
    return config


def _lookup(config: Mapping[str, Any], key: str) -> tuple[str, Any] | None:
    for name in _KEYS.get(key, (key,)):
        if name in config and config[name] is not None:
            return name, config[name]
    return None


def _opt_int(config: Mapping[str, Any], key: str, source: str) -> int | None:
    found = _lookup(config, key)
    if found is None:
        return None
    name, value = found
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PlanProblem(f"{source}: {name} must be a positive integer, not {value!r}")
    return value


def _int(config: Mapping[str, Any], key: str, source: str, default: int | None = None) -> int:
    value = _opt_int(config, key, source)
    if value is not None:
        return value
    if default is not None:
        return default
    raise PlanProblem(f"{source}: no {key} (needed to size the model in memory)")


def _dtype_bytes(config: Mapping[str, Any], dtype: str | None, source: str) -> int:
    if dtype is not None and dtype.lower() != "auto":
        try:
            return _PRESET_DTYPE_BYTES[dtype.lower()]
        except KeyError:
            raise PlanProblem(
                f"dtype {dtype!r}: not one of {', '.join(['auto', *_PRESET_DTYPE_BYTES])}"
            ) from None
    # "auto" takes the config's dtype, and vLLM downcasts float32 checkpoints to 16 bits
    # (config/model.py:2422 _resolve_auto_dtype); a config without one is float32 to HF: 2 bytes
    named = config.get("torch_dtype") or config.get("dtype")
    if named is not None and not isinstance(named, str):
        raise PlanProblem(f"{source}: torch_dtype must be a string, not {named!r}")
    return 2


def estimate_parameters(config: Mapping[str, Any], *, source: str = "config.json") -> int:
    """Parameter count of a decoder-only transformer from its config.json.

    Embeddings (vocab x hidden, twice when the output head is not tied), then per layer the
    attention projections (q and o over all heads, k and v over the KV heads, plus Qwen2-style
    q/k/v biases), the gated MLP (3 x hidden x intermediate, or every expert's for MoE configs)
    and two norms, then the final norm.

    Raises:
        PlanProblem: a key the estimate needs is missing or not a positive integer.
    """
    text = _text_config(config)
    hidden = _int(text, "hidden_size", source)
    layers = _int(text, "num_hidden_layers", source)
    heads = _int(text, "num_attention_heads", source)
    kv_heads = _int(text, "num_key_value_heads", source, default=heads)
    head_dim = _opt_int(text, "head_dim", source) or hidden // heads
    vocab = _int(text, "vocab_size", source)
    # untied unless the config says so: an over-estimate is the safe side of a memory check
    tied = bool(text.get("tie_word_embeddings", config.get("tie_word_embeddings", False)))
    embeddings = vocab * hidden * (1 if tied else 2)

    q_width, kv_width = heads * head_dim, kv_heads * head_dim
    attention = hidden * q_width + 2 * hidden * kv_width + q_width * hidden
    model_type = str(text.get("model_type") or config.get("model_type") or "")
    if text.get("attention_bias") or model_type.startswith("qwen2"):
        attention += q_width + 2 * kv_width

    experts = _opt_int(text, "num_local_experts", source) or _opt_int(text, "num_experts", source)
    if experts:
        expert_width = _opt_int(text, "moe_intermediate_size", source) or _int(
            text, "intermediate_size", source
        )
        mlp = experts * 3 * hidden * expert_width + experts * hidden  # experts + router
        shared = _opt_int(text, "shared_expert_intermediate_size", source)
        if shared:
            mlp += 3 * hidden * shared + hidden
    else:
        mlp = 3 * hidden * _int(text, "intermediate_size", source)
    per_layer = attention + mlp + 2 * hidden
    return embeddings + layers * per_layer + hidden


def safetensors_weight_bytes(folder: Path, dtype_bytes: int) -> int | None:
    """Bytes the folder's safetensors take in memory at ``dtype_bytes``, or None without any.

    Reads each file's header (8 bytes little-endian length, then JSON): float tensors count at
    the model dtype (vLLM casts them), others (quantized packs, fp8) at their stored size. With
    a ``model.safetensors.index.json`` only the files it maps count (a repo may also carry a
    ``consolidated.safetensors`` copy). A header that cannot be parsed counts as the file size.

    Raises:
        PlanProblem: a listed file cannot be read at all.
    """
    files = sorted(folder.glob("*.safetensors"))
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            mapped = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            files = [f for f in files if f.name in mapped] or files
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    if not files:
        return None
    total = 0
    for path in files:
        try:
            total += _tensor_bytes(path, dtype_bytes)
        except (ValueError, KeyError, TypeError, IndexError):
            try:
                total += path.stat().st_size
            except OSError as exc:
                raise PlanProblem(f"{path}: cannot be read ({exc})") from None
        except OSError as exc:
            raise PlanProblem(f"{path}: cannot be read ({exc})") from None
    return total


def _tensor_bytes(path: Path, dtype_bytes: int) -> int:
    with path.open("rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        if not 0 < length <= _MAX_HEADER_BYTES:
            raise ValueError(f"header length {length}")
        header = json.loads(handle.read(length))
    if not isinstance(header, dict):
        raise ValueError("header is not an object")
    total = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        if info["dtype"] in _FLOAT_TENSOR_DTYPES:
            total += math.prod(int(d) for d in info["shape"]) * dtype_bytes
        else:
            total += int(end) - int(start)
    return total


def load_shape(folder: Path | None, dtype: str | None = None) -> ModelShape | None:
    """The shape of a local model folder, or None when there is none to read.

    None (a remote Hugging Face id not downloaded here, or a folder that does not exist) means
    the planner cannot check; a folder that exists but has a broken config.json raises.

    Raises:
        PlanProblem: see :meth:`ModelShape.from_folder`.
    """
    if folder is None or not folder.is_dir():
        return None
    return ModelShape.from_folder(folder, dtype)
