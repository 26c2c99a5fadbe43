"""Will it fit? The planner's verdict for a preset on this node, from what is running now.

Glue between the pure planner (``backends/servers/planner.py``: arithmetic only) and what the
node observes: available RAM and each server's process-tree RSS on the CPU runtime, free memory
of the target GPUs and each server's attributed GPU memory elsewhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset
from naptha_tui.backends.servers.model_shape import ModelShape, PlanProblem, load_shape
from naptha_tui.backends.servers.planner import (
    cpu_kv_space_gib,
    default_cpu_kv_space_gib,
    plan_cpu,
    plan_gpu,
)
from naptha_tui.backends.servers.verdict import GpuFree, Holder, Verdict, WontFit
from naptha_tui.backends.servers.vllm import LaunchPlan, dtype_choice, resolve_model
from naptha_tui.backends.telemetry.gpu import GpuUnavailable, others
from naptha_tui.proxy.node.observe import Observation

OTHERS = "other processes"


def on_cpu(preset: Preset) -> bool:
    """Whether the preset's server lives in RAM (the CPU runtime) rather than on GPUs."""
    return preset.on_cpu


def target_gpus(preset: Preset, env: Mapping[str, str] | None = None) -> list[int]:
    """The GPU indices its server will use.

    ``CUDA_VISIBLE_DEVICES`` in its launch environment (``env``; the preset's own when not
    given), else the first tensor-parallel times pipeline-parallel ones (vLLM's own choice).
    """
    visible = (preset.env if env is None else env).get("CUDA_VISIBLE_DEVICES")
    if visible:
        with contextlib.suppress(ValueError):
            return [int(v) for v in visible.split(",") if v.strip()]
    return list(range((preset.tensor_parallel_size or 1) * (preset.pipeline_parallel_size or 1)))


def shape_of(preset: Preset, paths: Paths) -> ModelShape | None:
    """The model's shape from its local folder; None for a hub id not on this machine.

    Raises:
        PlanProblem: the folder's config.json is broken (names the file and key).
    """
    try:
        model = resolve_model(preset, paths)
    except NapthaError:
        return None  # `up` reports the missing model itself, with its own message
    return load_shape(Path(model.arg), dtype_choice(preset).value) if model.local else None


def verdict(
    preset: Preset,
    paths: Paths,
    seen: Observation,
    freed: Collection[str] = (),
    reserved_ram: int = 0,
    reserved_gpu: Mapping[int, int] | None = None,
    env: Mapping[str, str] | None = None,
) -> Verdict:
    """The planner's verdict for starting ``preset`` now.

    Args:
        preset: what would start.
        paths: where prepared models live.
        seen: the node as just observed.
        freed: servers counted as gone (a swap plans B against A's memory as freed).
        reserved_ram: RAM promised to servers planned before this one in the same call.
        reserved_gpu: GPU memory promised likewise, per GPU index.
        env: the server's launch environment (its ``CUDA_VISIBLE_DEVICES``).
    """
    shape = shape_of(preset, paths)
    ours = {s.name: s for s in seen.servers if s.name in seen.trees}
    if on_cpu(preset):
        held = [
            Holder(n, s.rss_bytes or 0) for n, s in ours.items() if n not in freed and s.rss_bytes
        ]
        back = sum(ours[n].rss_bytes or 0 for n in freed if n in ours)
        used_by_ours = sum(h.bytes for h in held)
        other = seen.host.memory_used - used_by_ours - back
        if other > 0:
            held.append(Holder(OTHERS, other))
        try:
            kv = cpu_kv_space_gib(preset.env if env is None else env)
        except PlanProblem as exc:
            raise PlanProblem(f"{preset.source or 'preset ' + preset.name}: {exc}") from None
        if kv is None:  # what plan_launch will set (never left to vLLM's whole-RAM default)
            kv = default_cpu_kv_space_gib(shape, preset.max_model_len, seen.host.memory_total)
        return plan_cpu(
            shape,
            kv_space_gib=kv,
            max_model_len=preset.max_model_len,
            available=seen.host.memory_available + back - reserved_ram,
            held_by=held,
            total=seen.host.memory_total,
            gpu_memory_utilization=preset.gpu_memory_utilization,
        )
    report = seen.gpus
    if isinstance(report, GpuUnavailable):
        return plan_gpu(
            None,
            gpus=[],
            gpu_memory_utilization=preset.gpu_memory_utilization,
            tensor_parallel_size=preset.tensor_parallel_size or 1,
            max_model_len=preset.max_model_len,
        )
    wanted = target_gpus(preset, env)
    by_index = {g.index: g for g in report}
    per_server = {s.name: s.gpu_memory or {} for s in ours.values()}
    gpus, held = [], []
    for i in wanted:
        g = by_index.get(i)
        if g is None or g.memory_total is None or g.memory_free is None:
            continue
        back = sum(per_server.get(n, {}).get(i, 0) for n in freed)
        gpus.append(
            GpuFree(i, g.memory_total, g.memory_free + back - (reserved_gpu or {}).get(i, 0))
        )
        for name, per_gpu in per_server.items():
            if name not in freed and per_gpu.get(i):
                held.append(Holder(f"{name} (GPU {i})", per_gpu[i]))
        rest = others(g, per_server)
        if rest:
            held.append(Holder(f"{OTHERS} (GPU {i})", rest))
    return plan_gpu(
        shape if gpus else None,
        gpus=gpus,
        gpu_memory_utilization=preset.gpu_memory_utilization,
        tensor_parallel_size=preset.tensor_parallel_size or 1,
        max_model_len=preset.max_model_len,
        held_by=held,
    )


def check_plans(
    plans: Sequence[LaunchPlan], paths: Paths, seen: Observation, progress: Callable[[str], None]
) -> None:
    """Refuse plans that will not fit, before anything starts; each fit is reported.

    Plans of one call are counted together: each is planned against what the earlier ones
    will take (RAM on the CPU runtime; on a GPU the gpu_memory_utilization share it claims).

    Raises:
        WontFit: with the needed and free memory and who holds it, in GiB.
    """
    ram, gpu = 0, dict[int, int]()
    for plan in plans:
        v = verdict(plan.preset, paths, seen, reserved_ram=ram, reserved_gpu=gpu, env=plan.env)
        if v.fits is False:
            raise WontFit(v.message(plan.preset.name), v)
        if v.fits and v.need is not None:
            progress(
                f"{plan.name}: fits in {v.device} (needs {v.need.total / 2**30:.2f} GiB, "
                f"{(v.free or 0) / 2**30:.2f} GiB free)"
            )
            if on_cpu(plan.preset):
                ram += v.need.total
            else:
                for i in target_gpus(plan.preset, plan.env):
                    gpu[i] = gpu.get(i, 0) + (v.budget or v.need.total)


def gpu_neighbours(plan: LaunchPlan, earlier: Sequence[LaunchPlan]) -> list[str]:
    """The earlier planned servers that share a GPU with ``plan`` (none on the CPU runtime).

    Two vLLM servers loading at once on one GPU each count the other's memory as their own
    (vLLM #55827): ``up`` starts the next only once these are ready.
    """
    if on_cpu(plan.preset):
        return []
    mine = set(target_gpus(plan.preset, plan.env))
    return [
        p.name for p in earlier if not on_cpu(p.preset) and mine & set(target_gpus(p.preset, p.env))
    ]
