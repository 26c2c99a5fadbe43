"""Memory planner: will a preset fit, before anything is started?

Pure arithmetic over a model's ``config.json`` (and the sizes in its safetensors headers) and the
free memory the caller measured: this module reads files but imports neither pynvml nor psutil,
so every number in a verdict can be set by a test. It models what vLLM 0.32 does at start-up
(paths below are inside the installed ``vllm`` package of the ``cpu`` runtime):

GPU
    ``v1/worker/utils.py:716`` ``request_memory`` asks for ``ceil(total x gpu_memory_utilization)``
    of each GPU it uses, TOTAL memory, not free memory, and raises at ``:761`` when the GPU's free
    memory is below that. So two instances at 0.9 cannot share one GPU (the second asks for 90 %
    of the card while the first holds 90 %; vLLM #10533, #14376), while two at 0.45 can. Default
    utilization: 0.92 (``config/cache.py:102``). Inside that budget
    (``v1/worker/gpu_worker.py:740``) the weights (split over ``tensor_parallel_size``), the
    activation peak and CUDA graphs come first, and what is left must hold the KV cache of at
    least one ``max_model_len`` sequence (``v1/core/kv_cache_utils.py:1003``), else vLLM stops
    with "To serve at least one request with the model's max seq len ...".
CPU
    ``VLLM_CPU_KVCACHE_SPACE`` (whole GiB) is read by ``platforms/cpu.py:323-327`` into
    ``kv_cache_memory_bytes``; it is allocated in full (``v1/worker/cpu_worker.py:204-226``:
    refused when above the available memory). "0" is taken literally: a KV cache of 0 bytes, which
    fails with "No available memory for the cache blocks" (``kv_cache_utils.py:1009``). Unset (or
    ""), the worker reserves ``gpu_memory_utilization x total RAM`` of its NUMA node and refuses
    to start when less is available (``cpu_worker.py:73-94``); the KV cache is that reservation
    minus the process's RSS (``cpu_worker.py:235``). The comment in ``envs.py:886`` ("will be set
    as 4 GB") is stale.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from naptha_tui.backends.errors import NapthaError

GiB = 1 << 30

DEFAULT_GPU_MEMORY_UTILIZATION = 0.92
"""vLLM 0.32's default ``--gpu-memory-utilization`` (``config/cache.py:102``)."""

GPU_OVERHEAD_BYTES = 2 * GiB
"""Per GPU, inside the utilization budget, besides weights and KV cache: what
``v1/worker/gpu_worker.py`` ``determine_available_memory`` subtracts before sizing the KV cache
(the profile run's activation peak, non-torch allocations such as NCCL and cuBLAS workspaces, and
the CUDA-graph estimate). NOT measured: this project has had no GPU to measure it on; 2 GiB is a
round allowance for 7-8B models at the default ``max_num_batched_tokens``, to be replaced by the
figures a real start-up logs ("Available KV cache memory", ``gpu_worker.py:760``)."""

CPU_OVERHEAD_BYTES = 3 * GiB // 2
"""Per server on the CPU runtime, besides weights and the KV space: measured here (2026-12) on
the embedded server (SmolLM2-135M bf16, 270 MB weights, ``VLLM_CPU_KVCACHE_SPACE=2``,
``--max-model-len 2048``, eager): RSS ≈ 1.4 GB over its process tree right after start (API
server ~0.7 GB + EngineCore ~0.67 GB, the KV pages mostly untouched), i.e. ~1.1 GB beyond the
weights; 1.5 GiB leaves room for the first requests' activations."""

GPU_BLOCK_SIZE = 16
"""KV block size on GPUs (``CacheConfig.DEFAULT_BLOCK_SIZE``, ``config/cache.py:72``)."""

CPU_BLOCK_SIZE = 128
"""KV block size on the CPU backend when none is given (``platforms/cpu.py:293``)."""

KV_SPACE_ENV = "VLLM_CPU_KVCACHE_SPACE"

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


class WontFit(NapthaError):
    """A preset refused by the planner; the message is :meth:`Verdict.message`."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


def _gib(n: int | float, digits: int = 2) -> str:
    return f"{n / GiB:.{digits}f}"


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


def cpu_kv_space_gib(env: Mapping[str, str]) -> float | None:
    """``VLLM_CPU_KVCACHE_SPACE`` as vLLM 0.32 reads it: None when unset or empty, else GiB.

    Raises:
        PlanProblem: the value is not a whole number (vLLM's ``int()`` would fail at start).
    """
    value = env.get(KV_SPACE_ENV)
    if value is None or value == "":
        return None
    try:
        return float(int(value))
    except ValueError:
        raise PlanProblem(
            f"env {KV_SPACE_ENV}: {value!r} is not a whole number of GiB "
            "(vLLM reads it with int(), platforms/cpu.py)"
        ) from None


@dataclass(frozen=True)
class Holder:
    """Who holds memory now: ``smollm2-cpu`` (ours), ``pid 1234``, ``other processes``."""

    name: str
    bytes: int


@dataclass(frozen=True)
class GpuFree:
    """One GPU's memory as measured by the caller (NVML), in bytes."""

    index: int
    total: int
    free: int


@dataclass(frozen=True)
class Need:
    """What one server needs, per GPU on GPUs (weights already split over tensor parallelism)."""

    weights: int
    kv: int
    overhead: int

    @property
    def total(self) -> int:
        """Weights + KV cache + overhead."""
        return self.weights + self.kv + self.overhead


@dataclass(frozen=True)
class Verdict:
    """The planner's answer for one server, with the numbers behind it."""

    fits: bool | None
    """None: unknown (no local config.json); the planner never refuses then."""
    device: str
    """``RAM``, ``GPU 0`` or ``GPUs 0,1``."""
    need: Need | None
    budget: int | None
    """GPU: gpu_memory_utilization x total memory, per GPU (the tightest); CPU: need.total."""
    free: int | None
    """GPU: free memory of the tightest target GPU; CPU: available RAM."""
    held_by: tuple[Holder, ...] = ()
    reasons: tuple[str, ...] = ()
    """Each refusal reason, a sentence with its numbers in GiB."""
    notes: tuple[str, ...] = ()
    """Context that is not a refusal (why the check was skipped, what was assumed)."""

    def message(self, preset: str) -> str:
        """One line for the operator, e.g. ``preset X will not fit in RAM: needs ...``."""
        where = "in RAM" if self.device == "RAM" else f"on {self.device}"
        if self.fits is None:
            text = f"preset {preset}: memory not checked {where}"
            return "; ".join([text, *self.notes]) if self.notes else text
        head = f"preset {preset} {'fits' if self.fits else 'will not fit'} {where}"
        parts = []
        if self.need is not None:
            need = self.need
            parts.append(
                f"needs {_gib(need.total)} GiB (weights {_gib(need.weights)} + KV cache "
                f"{_gib(need.kv)} + overhead {_gib(need.overhead)})"
            )
            if self.device != "RAM" and self.budget is not None:
                parts[-1] += f" within a budget of {_gib(self.budget)} GiB"
        if self.free is not None:
            parts.append(f"{_gib(self.free, 1)} GiB free")
        text = f"{head}: {', '.join(parts)}" if parts else head
        if self.held_by:
            held = ", ".join(f"{h.name} {_gib(h.bytes, 1)} GiB" for h in self.held_by)
            text += f"; held by {held}"
        if not self.fits and self.reasons:
            text += ". " + " ".join(self.reasons)
        return text

    def check(self, preset: str) -> None:
        """Raise :class:`WontFit` when the verdict is a refusal (unknown passes).

        Raises:
            WontFit: ``fits`` is False.
        """
        if self.fits is False:
            raise WontFit(self.message(preset), self)

    def to_json(self) -> dict[str, Any]:
        """Plain data (bytes as integers) for ``--json`` output."""
        need = self.need
        return {
            "fits": self.fits,
            "device": self.device,
            "need": None
            if need is None
            else {
                "weights": need.weights,
                "kv": need.kv,
                "overhead": need.overhead,
                "total": need.total,
            },
            "budget": self.budget,
            "free": self.free,
            "held_by": [{"name": h.name, "bytes": h.bytes} for h in self.held_by],
            "reasons": list(self.reasons),
            "notes": list(self.notes),
        }


def _sequence(shape: ModelShape, max_model_len: int | None) -> int | None:
    return max_model_len if max_model_len is not None else shape.max_position


def plan_cpu(
    shape: ModelShape | None,
    *,
    kv_space_gib: float | None,
    max_model_len: int | None,
    available: int,
    held_by: Sequence[Holder] = (),
    total: int | None = None,
    gpu_memory_utilization: float | None = None,
) -> Verdict:
    """Plan one server on the CPU runtime against the RAM available now.

    Args:
        shape: the model's shape, or None when it has no local config (then: unknown).
        kv_space_gib: ``VLLM_CPU_KVCACHE_SPACE`` (see :func:`cpu_kv_space_gib`); None when unset.
        max_model_len: the preset's; None means the model's ``max_position_embeddings``.
        available: RAM available now (psutil's ``available``), in bytes.
        held_by: who holds RAM now, for the message.
        total: total RAM; with the KV space unset vLLM reserves a fraction of it.
        gpu_memory_utilization: the preset's (default 0.92); only used with the KV space unset.

    Returns:
        The verdict; ``budget`` equals ``need.total``.
    """
    holders = tuple(held_by)
    if shape is None:
        return Verdict(
            None,
            "RAM",
            None,
            None,
            available,
            holders,
            notes=("no local config.json for the model, so its size is unknown",),
        )
    reasons: list[str] = []
    notes: list[str] = []
    reserve_refused = False
    weights, overhead = shape.weights_bytes, CPU_OVERHEAD_BYTES
    seq = _sequence(shape, max_model_len)
    seq_kv = shape.kv_bytes_for(seq, block_size=CPU_BLOCK_SIZE) if seq else 0
    if kv_space_gib is not None:
        kv = int(kv_space_gib * GiB)
        if kv <= 0:
            reasons.append(
                f"{KV_SPACE_ENV}={kv_space_gib:g} gives vLLM a KV cache of 0 bytes and it stops "
                "with 'No available memory for the cache blocks'; set it to the GiB to reserve, "
                "or unset it."
            )
        elif seq and kv < seq_kv:
            reasons.append(
                f"{KV_SPACE_ENV}={kv_space_gib:g} GiB holds {kv // shape.kv_bytes_per_token():,} "
                f"tokens, less than one max_model_len {seq} sequence ({_gib(seq_kv)} GiB); "
                "raise it or lower max_model_len."
            )
    else:
        util = gpu_memory_utilization or DEFAULT_GPU_MEMORY_UTILIZATION
        if total is None:
            kv = seq_kv
            notes.append(
                f"{KV_SPACE_ENV} is unset: vLLM reserves gpu_memory_utilization {util:.2f} of "
                "the total RAM, which was not given; planned with one max_model_len sequence"
            )
        else:
            reserve = math.ceil(total * util)
            kv = max(0, reserve - weights - overhead)
            notes.append(
                f"{KV_SPACE_ENV} is unset: vLLM reserves gpu_memory_utilization {util:.2f} x "
                f"{_gib(total)} GiB total RAM = {_gib(reserve)} GiB"
            )
            if reserve > available:
                reserve_refused = True
                reasons.append(
                    f"{KV_SPACE_ENV} is unset, so vLLM reserves gpu_memory_utilization "
                    f"{util:.2f} of the TOTAL RAM ({_gib(total)} GiB) = {_gib(reserve)} GiB, but "
                    f"only {_gib(available)} GiB is available; set {KV_SPACE_ENV} (GiB) or lower "
                    "gpu_memory_utilization."
                )
            if seq and kv < seq_kv:
                reasons.append(
                    f"After weights {_gib(weights)} GiB and overhead {_gib(overhead)} GiB the "
                    f"{_gib(reserve)} GiB reservation leaves {_gib(kv)} GiB of KV cache, less "
                    f"than one max_model_len {seq} sequence ({_gib(seq_kv)} GiB)."
                )
    need = Need(weights, kv, overhead)
    if need.total > available and not reserve_refused:
        reasons.append(
            f"The server needs {_gib(need.total)} GiB of RAM (weights {_gib(weights)} + KV cache "
            f"{_gib(kv)} + overhead {_gib(overhead)}) but {_gib(available)} GiB is available"
        )
    return Verdict(
        not reasons, "RAM", need, need.total, available, holders, tuple(reasons), tuple(notes)
    )


def plan_gpu(
    shape: ModelShape | None,
    *,
    gpus: Sequence[GpuFree],
    gpu_memory_utilization: float | None,
    tensor_parallel_size: int = 1,
    max_model_len: int | None,
    held_by: Sequence[Holder] = (),
) -> Verdict:
    """Plan one vLLM server on GPUs against their free memory now.

    Args:
        shape: the model's shape, or None when it has no local config (then: unknown).
        gpus: the GPUs the server will use, in order; the first ``tensor_parallel_size`` count.
        gpu_memory_utilization: the preset's; None means vLLM's default (0.92).
        tensor_parallel_size: GPUs the weights and KV heads are split over.
        max_model_len: the preset's; None means the model's ``max_position_embeddings``.
        held_by: who holds memory on those GPUs now, for the message.

    Returns:
        The verdict; ``budget`` and ``free`` are those of the tightest target GPU.
    """
    tp = max(1, tensor_parallel_size)
    util = gpu_memory_utilization or DEFAULT_GPU_MEMORY_UTILIZATION
    targets = list(gpus)[:tp]
    holders = tuple(held_by)
    names = ",".join(str(g.index) for g in targets)
    device = f"GPU {names}" if len(targets) == 1 else f"GPUs {names}" if targets else "GPU"
    reasons: list[str] = []
    notes: list[str] = []
    if len(targets) < tp:
        reasons.append(f"tensor_parallel_size {tp} needs {tp} GPUs, but {len(targets)} were given.")
    budgets = {g.index: math.ceil(g.total * util) for g in targets}
    budget = min(budgets.values()) if budgets else None
    free = min(g.free for g in targets) if targets else None

    need: Need | None = None
    seq: int | None = None
    if shape is None:
        notes.append("no local config.json for the model, so its size is unknown")
    else:
        seq = _sequence(shape, max_model_len)
        kv = shape.kv_bytes_for(seq, tp=tp) if seq else 0
        if not seq:
            notes.append("no max_model_len and no max_position_embeddings: KV cache not counted")
        need = Need(-(-shape.weights_bytes // tp), kv, GPU_OVERHEAD_BYTES)

    for gpu in targets:
        gpu_budget = budgets[gpu.index]
        if gpu.free < gpu_budget:
            reasons.append(_trap_reason(gpu, util, gpu_budget, need))
        if need is not None and need.total > gpu_budget:
            split = f" (split over {tp} GPUs)" if tp > 1 else ""
            reasons.append(
                f"GPU {gpu.index}: weights {_gib(need.weights)} GiB{split} + KV cache for one "
                f"max_model_len {seq} sequence {_gib(need.kv)} GiB + overhead "
                f"{_gib(need.overhead)} GiB = {_gib(need.total)} GiB, more than "
                f"gpu_memory_utilization {util:.2f} x {_gib(gpu.total)} GiB = "
                f"{_gib(gpu_budget)} GiB; lower max_model_len, raise gpu_memory_utilization or "
                "add GPUs (tensor_parallel_size)."
            )
    if shape is None:
        # unknown never refuses; what is already certain (the utilization trap) is noted
        return Verdict(None, device, None, budget, free, holders, notes=(*notes, *reasons))
    return Verdict(not reasons, device, need, budget, free, holders, tuple(reasons), tuple(notes))


def _trap_reason(gpu: GpuFree, util: float, budget: int, need: Need | None) -> str:
    """Why vLLM's start-up check fails on ``gpu``, with the utilization that would pass."""
    text = (
        f"GPU {gpu.index}: gpu_memory_utilization {util:.2f} is a fraction of the GPU's TOTAL "
        f"memory ({_gib(gpu.total)} GiB), not of its free memory, so vLLM asks for "
        f"{_gib(budget)} GiB at start, but only {_gib(gpu.free)} GiB is free "
        f"({_gib(gpu.total - gpu.free)} GiB held by others; vLLM #10533, #14376)"
    )
    most = math.floor(gpu.free / gpu.total * 100) / 100 if gpu.total else 0.0
    if need is None:
        return f"{text}; use gpu_memory_utilization {most:.2f} or less, or free the GPU."
    least = math.ceil(need.total / gpu.total * 100) / 100 if gpu.total else 1.0
    if least <= most:
        return f"{text}; set gpu_memory_utilization between {least:.2f} and {most:.2f}."
    return (
        f"{text}; this preset needs {_gib(need.total)} GiB there, so free the GPU or lower "
        "max_model_len."
    )
