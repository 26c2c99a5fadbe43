"""Memory planner: will a preset fit, before anything is started?

Pure arithmetic over a model's shape (``model_shape.py`` reads it from ``config.json`` and the
sizes in its safetensors headers) and the free memory the caller measured: this module imports
neither pynvml nor psutil, so every number in a verdict can be set by a test. It models what
vLLM 0.32 does at start-up (paths below are inside the installed ``vllm`` package of the ``cpu``
runtime):

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

import math
from collections.abc import Mapping, Sequence

from naptha_tui.backends.servers.model_shape import ModelShape, PlanProblem
from naptha_tui.backends.servers.verdict import GiB, GpuFree, Holder, Need, Verdict, gib

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

CPU_BLOCK_SIZE = 128
"""KV block size on the CPU backend when none is given (``platforms/cpu.py:293``)."""

KV_SPACE_ENV = "VLLM_CPU_KVCACHE_SPACE"

CPU_KV_SEQUENCES = 8
"""Full ``max_model_len`` sequences the default CPU KV space holds (a load test's usual
concurrency on a small CPU node; vLLM queues the rest)."""
CPU_KV_UNKNOWN_GIB = 4
"""The default CPU KV space for a model whose size cannot be read."""


def default_cpu_kv_space_gib(
    shape: ModelShape | None, max_model_len: int | None, ram_bytes: int
) -> int:
    """``VLLM_CPU_KVCACHE_SPACE`` when neither the preset nor the environment sets it.

    Left unset, vLLM 0.32 reserves ``gpu_memory_utilization`` (0.92) of the RAM of each NUMA
    node for one server, so a second one cannot start. Instead: room for ``CPU_KV_SEQUENCES``
    full sequences in whole GiB, at least 1, at most a quarter of the RAM.
    """
    cap = max(1, ram_bytes // 4 // GiB)
    if shape is None:
        return min(CPU_KV_UNKNOWN_GIB, cap)
    seq = _sequence(shape, max_model_len) or 2048
    need = shape.kv_bytes_for(seq, block_size=CPU_BLOCK_SIZE) * CPU_KV_SEQUENCES
    return max(1, min(cap, math.ceil(need / GiB)))


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
                f"tokens, less than one max_model_len {seq} sequence ({gib(seq_kv)} GiB); "
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
                f"{gib(total)} GiB total RAM = {gib(reserve)} GiB"
            )
            if reserve > available:
                reserve_refused = True
                reasons.append(
                    f"{KV_SPACE_ENV} is unset, so vLLM reserves gpu_memory_utilization "
                    f"{util:.2f} of the TOTAL RAM ({gib(total)} GiB) = {gib(reserve)} GiB, but "
                    f"only {gib(available)} GiB is available; set {KV_SPACE_ENV} (GiB) or lower "
                    "gpu_memory_utilization."
                )
            if seq and kv < seq_kv:
                reasons.append(
                    f"After weights {gib(weights)} GiB and overhead {gib(overhead)} GiB the "
                    f"{gib(reserve)} GiB reservation leaves {gib(kv)} GiB of KV cache, less "
                    f"than one max_model_len {seq} sequence ({gib(seq_kv)} GiB)."
                )
    need = Need(weights, kv, overhead)
    if need.total > available and not reserve_refused:
        reasons.append(
            f"The server needs {gib(need.total)} GiB of RAM (weights {gib(weights)} + KV cache "
            f"{gib(kv)} + overhead {gib(overhead)}) but {gib(available)} GiB is available"
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
                f"GPU {gpu.index}: weights {gib(need.weights)} GiB{split} + KV cache for one "
                f"max_model_len {seq} sequence {gib(need.kv)} GiB + overhead "
                f"{gib(need.overhead)} GiB = {gib(need.total)} GiB, more than "
                f"gpu_memory_utilization {util:.2f} x {gib(gpu.total)} GiB = "
                f"{gib(gpu_budget)} GiB; lower max_model_len, raise gpu_memory_utilization or "
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
        f"memory ({gib(gpu.total)} GiB), not of its free memory, so vLLM asks for "
        f"{gib(budget)} GiB at start, but only {gib(gpu.free)} GiB is free "
        f"({gib(gpu.total - gpu.free)} GiB held by others; vLLM #10533, #14376)"
    )
    most = math.floor(gpu.free / gpu.total * 100) / 100 if gpu.total else 0.0
    if need is None:
        return f"{text}; use gpu_memory_utilization {most:.2f} or less, or free the GPU."
    least = math.ceil(need.total / gpu.total * 100) / 100 if gpu.total else 1.0
    if least <= most:
        return f"{text}; set gpu_memory_utilization between {least:.2f} and {most:.2f}."
    return (
        f"{text}; this preset needs {gib(need.total)} GiB there, so free the GPU or lower "
        "max_model_len."
    )
