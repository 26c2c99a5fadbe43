"""Swap one running server for another preset as one action, without breaking the endpoint.

A swap plans B against A's memory counted as freed (refused with A left running when B would
not fit even then), takes A out of the proxy, stops it, or puts it to sleep when its preset has
``sleep_mode: true``, waits until its memory is really back (the process tree gone and RAM
returned, or the GPU memory its pids held released), plans B again against what is now free,
starts or wakes B, and puts it into the proxy. Every other model keeps serving: the proxy's
reload is graceful. If B cannot start, A is brought back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
import psutil

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset
from naptha_tui.backends.runtimes.models import EMBEDDED, is_prepared
from naptha_tui.backends.runtimes.runtime import get_runtime
from naptha_tui.backends.servers.status import ServerStatus
from naptha_tui.backends.servers.supervisor import StartFailed
from naptha_tui.backends.servers.verdict import Verdict, WontFit
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord
from naptha_tui.backends.telemetry.gpu import GpuReport, GpuUnavailable, attribute
from naptha_tui.proxy.node.memory import on_cpu, verdict
from naptha_tui.proxy.node.observe import Observation

if TYPE_CHECKING:
    from naptha_tui.proxy.node.core import Node, Progress

ANSWER_TIMEOUT_S = 60.0
"""How long a swap's new model has to answer its first one-token request through the proxy."""

FREED_TIMEOUT_S = 120.0
"""How long a swap waits for the old server's memory to come back."""
RAM_RETURNED = 0.5
"""On the CPU runtime, memory counts as returned once available RAM has grown by this share of
the old server's RSS (other processes move RAM too; its pages are gone once the tree is)."""
RAM_NOISE = 256 * 2**20
"""Below this RSS the RAM check is skipped: other processes move available RAM by more."""
GPU_RETURNED = 0.9
"""On a GPU, the share of the old server's attributed memory that must be released."""


class SwapFailed(NapthaError):
    """B did not become ready; A was brought back (or the message says why not)."""


@dataclass
class SwapReport:
    """What a swap did, for ``swap --json`` and the panel's activity log."""

    old: str
    new: list[str]
    old_action: Literal["stopped", "slept"]
    new_action: Literal["started", "woke"]
    verdict: dict[str, Any] | None
    freed_s: float
    total_s: float
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The line that ends a swap, in the panel's activity log and ``swap``'s output."""
        return (
            f"swapped: {self.old} {self.old_action} (memory returned in {self.freed_s:.1f} s), "
            f"{', '.join(self.new)} {self.new_action} in {self.total_s:.1f} s"
        )

    def to_json(self) -> dict[str, Any]:
        """The ``swap --json`` document."""
        return {
            "old": self.old,
            "new": self.new,
            "old_action": self.old_action,
            "new_action": self.new_action,
            "verdict": self.verdict,
            "freed_s": round(self.freed_s, 2),
            "total_s": round(self.total_s, 2),
            "messages": self.messages,
        }


def _alive(pids: Collection[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            continue
    return out


async def wait_freed(
    node: Node,
    before: Observation,
    name: str,
    stopped: bool,
    timeout: float = FREED_TIMEOUT_S,
    poll_s: float = 0.25,
) -> str | None:
    """Wait until the memory ``name`` held is back; a message when it is not by ``timeout``.

    Stopped: its process tree is gone, and RAM (CPU runtime) or the GPU memory its pids held
    is returned. Put to sleep: the GPU memory its pids hold has dropped (nothing to wait for
    without a GPU).
    """
    pids = before.trees.get(name, ())
    old = next((s for s in before.servers if s.name == name), None)
    rss = (old.rss_bytes or 0) if old else 0
    gpu_before = (old.gpu_memory or {}) if old else {}
    deadline = time.monotonic() + timeout
    while stopped and _alive(pids):
        if time.monotonic() > deadline:
            return f"{name}: processes {', '.join(map(str, _alive(pids)))} still alive"
        await asyncio.sleep(poll_s)
    on_gpu = not isinstance(before.gpus, GpuUnavailable) and sum(gpu_before.values()) > 0
    while True:
        if on_gpu:
            report = await node.observer.gpu_read()
            left = sum(attribute(report, {name: pids}).get(name, {}).values())
            held = sum(gpu_before.values())
            if left <= held * (1 - GPU_RETURNED):
                return None
            what = f"{left / 2**30:.2f} GiB of GPU memory still held by its processes"
        elif stopped and rss >= RAM_NOISE:
            now = await asyncio.to_thread(node.observer.read_host)
            if now.memory_available - before.host.memory_available >= rss * RAM_RETURNED:
                return None
            back = max(0, now.memory_available - before.host.memory_available)
            what = f"only {back / 2**30:.2f} of {rss / 2**30:.2f} GiB of RAM came back"
        else:
            return None
        if time.monotonic() > deadline:
            return f"{name}: memory not returned after {timeout:.0f} s ({what})"
        await asyncio.sleep(poll_s)


@dataclass(frozen=True)
class SwapChoice:
    """A preset the swap offers in place of a server, and why it cannot start here, if so."""

    preset: Preset
    blocked: str | None = None
    """None when it can start on this node (the planner's verdict then says whether it fits)."""


def why_not_here(preset: Preset, paths: Paths, settings: Settings, gpus: GpuReport) -> str | None:
    """Why ``preset`` cannot start on this node: its runtime, its device, its model; else None."""
    try:
        runtime = get_runtime(preset.runtime, paths, settings)
    except NapthaError as exc:
        return str(exc)
    info = runtime.info()
    if not info.ready:
        fix = "" if info.kind == "external" else f": naptha-tui runtime install {runtime.name}"
        return f"runtime {runtime.name} {info.detail or 'is not ready'}{fix}"
    if not on_cpu(preset) and isinstance(gpus, GpuUnavailable):
        return f"needs a GPU; none can be read here ({gpus.reason})"
    if preset.model in EMBEDDED and not is_prepared(paths, preset.model):
        return f"model {preset.model} is not prepared: naptha-tui model prepare {preset.model}"
    return None


def arrange_choices(
    presets: Sequence[Preset], own: str | None, blocked: Mapping[str, str]
) -> list[SwapChoice]:
    """The vLLM presets other than ``own``, those that can start here first.

    The others follow with their reason; each group by name.
    """
    offered = sorted((p for p in presets if p.kind == "vllm" and p.name != own), key=_name)
    return [SwapChoice(p) for p in offered if p.name not in blocked] + [
        SwapChoice(p, blocked[p.name]) for p in offered if p.name in blocked
    ]


def _name(preset: Preset) -> str:
    return preset.name


def _check(v: Verdict, preset: Preset) -> None:
    if v.fits is False:
        raise WontFit(v.message(preset.name), v)


async def swap(
    node: Node,
    running: str,
    preset_name: str,
    progress: Progress,
    timeout: float = FREED_TIMEOUT_S,
) -> SwapReport:
    """Replace server ``running`` with preset ``preset_name`` (or wake its sleeping server).

    Raises:
        NapthaError: an unknown server or preset, or B already awake; nothing changed.
        WontFit: B would not fit even with A's memory freed (A keeps running), or does not fit
            in what was really freed (A is brought back).
        SwapFailed: B did not become ready; A was brought back.
    """
    t0 = time.monotonic()
    state = node.state.load()
    record = state.servers.get(running)
    if record is None:
        known = ", ".join(sorted(state.servers)) or "none"
        raise NapthaError(f"no local server named {running!r} (running: {known})")
    preset = node.catalog.get(preset_name)
    if preset.kind != "vllm":
        raise NapthaError(f"preset {preset_name} is kind {preset.kind}: nothing to start")
    names = preset.instance_names()
    if running in names:
        raise NapthaError(f"server {running} already belongs to preset {preset_name}")
    mine = [state.servers[n] for n in names if n in state.servers]
    waking = bool(mine) and all(r.sleeping is not None for r in mine) and len(mine) == len(names)
    awake = [r.name for r in mine if r.sleeping is None and r.desired == "running"]
    if awake and not waking:
        raise NapthaError(f"preset {preset_name} already runs as {', '.join(awake)}")
    before = await node.observe()
    old = next(s for s in before.servers if s.name == running)
    if old.status not in ("ready", "starting", "unhealthy"):
        raise NapthaError(f"server {running} is {old.status}, not running: use `up` instead")
    sleeps = record.sleep_mode and not on_cpu(preset)
    plans = [] if waking else node.supervisor.plan([preset], reserved=[node.settings.proxy.port])
    first = None if waking else verdict(preset, node.paths, before, freed=[running])
    if first is not None:
        progress(f"plan: {preset_name} {_summary(first)} once {running} is freed")
        _check(first, preset)

    await node.sync_proxy(exclude=[running])
    if sleeps:
        level = _sleep_level(node, record)
        progress(f"{running}: going to sleep (level {level})")
        await node.supervisor.sleep(running, level)
    else:
        progress(f"{running}: stopping")
        await node.supervisor.stop(running, keep=True)
    node.observer.watch.forget(running)
    t_freed = time.monotonic()
    late = await wait_freed(node, before, running, stopped=not sleeps, timeout=timeout)
    messages = [late] if late else []
    if late:
        progress(f"warning: {late}")
    else:
        took = time.monotonic() - t_freed
        progress(f"{running}: memory returned in {took:.1f} s{_held(old, sleeps)}")
    freed_s = time.monotonic() - t_freed

    try:
        after = await node.observe()
        if waking:
            for r in mine:
                progress(f"{r.name}: waking up")
                await node.supervisor.wake(r.name)
            final = None
        else:
            final = verdict(preset, node.paths, after)
            progress(f"plan: {preset_name} {_summary(final)}")
            _check(final, preset)
            try:
                await node.supervisor.start_all(plans, progress)
            except StartFailed as exc:
                raise SwapFailed(str(exc)) from exc
    except BaseException:
        await _bring_back(node, record, sleeps, progress)
        raise
    if not sleeps:
        with node.state.update() as current:
            current.servers.pop(running, None)
    await node.sync_proxy(progress=progress)
    if node.proxy.live()[1]:  # done once the new model answers where agents reach it
        served = mine[0].served_model_name if waking else plans[0].served_model_name
        try:
            took = await first_answer(node, served or names[0])
            progress(f"{served}: answered a one-token request through the proxy in {took:.2f} s")
        except NapthaError as exc:
            messages.append(str(exc))
            progress(f"warning: {exc}")
    return SwapReport(
        old=running,
        new=names,
        old_action="slept" if sleeps else "stopped",
        new_action="woke" if waking else "started",
        verdict=used.to_json() if (used := final or first) is not None else None,
        freed_s=freed_s,
        total_s=time.monotonic() - t0,
        messages=messages,
    )


async def first_answer(node: Node, model: str, timeout: float = ANSWER_TIMEOUT_S) -> float:
    """Send ``model`` a one-token chat request through the proxy; the seconds it took.

    Retried once a second while the proxy's new workers still load a new config.

    Raises:
        NapthaError: no 200 within ``timeout``, with the last answer or error.
    """
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    key = node.proxy.client_key()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    deadline = time.monotonic() + timeout
    while True:
        began = time.monotonic()
        try:
            got = await node.client.post(
                f"{node.proxy.url}/v1/chat/completions",
                json=body,
                headers=headers,
                timeout=max(1.0, deadline - began),
            )
            if got.status_code == 200:
                return time.monotonic() - began
            last = f"HTTP {got.status_code}: {got.text[:200]}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise NapthaError(
                f"{model}: no answer through the proxy within {timeout:.0f} s ({last})"
            )
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _held(old: ServerStatus, slept: bool) -> str:
    """What the old server held, as the swap's freed line says it: `` (1.52 GiB of RAM)``."""
    gpu = sum((old.gpu_memory or {}).values())
    if gpu:
        return f" ({gpu / 2**30:.2f} GiB of GPU memory)"
    if not slept and old.rss_bytes:
        return f" ({old.rss_bytes / 2**30:.2f} GiB of RAM)"
    return ""


def _sleep_level(node: Node, record: ProcessRecord) -> int:
    try:
        return node.catalog.get(record.preset).sleep_level if record.preset else 1
    except NapthaError:
        return 1


def _summary(v: Verdict) -> str:
    if v.fits is None:
        return "cannot be checked (" + ("; ".join(v.reasons) or "no local config.json") + ")"
    need = v.need.total / 2**30 if v.need else 0.0
    free = (v.free or 0) / 2**30
    word = "fits" if v.fits else "does NOT fit"
    return f"{word} in {v.device}: needs {need:.2f} GiB, {free:.2f} GiB free"


async def _bring_back(node: Node, record: ProcessRecord, slept: bool, progress: Progress) -> None:
    """Put A back as it was after a failed swap (best effort: a failure is reported, not raised)."""
    try:
        if slept:
            progress(f"{record.name}: waking up again")
            await node.supervisor.wake(record.name)
        else:
            progress(f"{record.name}: starting again")
            again = await node.supervisor.restart(record.name)
            await node.supervisor.wait_ready(
                [again.name],
                again.startup_timeout,
                on_status=lambda s: progress(f"{s.name}: {s.status}"),
                on_note=progress,
            )
        await node.sync_proxy(progress=progress)
    except (NapthaError, OSError) as exc:
        progress(f"error: could not bring {record.name} back: {exc}")
