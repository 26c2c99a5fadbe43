"""Model servers: start from presets, watch, stop, re-attach after the panel restarts.

Each server is a :class:`~naptha_tui.backends.servers.managed.ManagedProcess` (own session, log
file, recorded in the state file) with its own API key. Status comes from process liveness
(pid + start time) plus /health and /v1/models; a dead server's reason is read from its log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

import httpx

from naptha_tui.backends.commandlog import from_file
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset, PresetCatalog
from naptha_tui.backends.runtimes.runtime import get_runtime
from naptha_tui.backends.servers.affinity import bound_cpus, busy_cpus, start_cpus
from naptha_tui.backends.servers.health import ModelLists, Probe, probe
from naptha_tui.backends.servers.keys import ServerKeys, key_env
from naptha_tui.backends.servers.managed import (
    ManagedProcess,
    Status,
    state_file,
)
from naptha_tui.backends.servers.ports import allocate, check_free
from naptha_tui.backends.servers.sleep import SleepMode
from naptha_tui.backends.servers.status import ServerStatus, StallWatch, probe_client, said_status
from naptha_tui.backends.servers.vllm import (
    LaunchPlan,
    PresetProblem,
    check_host,
    install_guard,
    plan_launch,
)
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord, StateFile

__all__ = ["ServerAlreadyRunning", "StartFailed", "Supervisor"]


class ServerAlreadyRunning(NapthaError):
    """``up`` was asked for a server that is already running."""


class StartFailed(NapthaError):
    """Servers did not become ready; the start stopped every one it had launched."""


class Supervisor(SleepMode):
    """Starts and watches vLLM servers; every call re-reads the state file."""

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        state: StateFile | None = None,
    ) -> None:
        """A supervisor for the node at ``paths``.

        Args:
            paths: the node's folders.
            settings: the panel's settings.
            client: the HTTP client for probes (the Node's); one is made if not given.
            state: the state file (shared with the proxy's manager).
        """
        self.paths = paths
        self.settings = settings
        self.state = state or state_file(paths)
        self.catalog = PresetCatalog(paths.user_presets_dir)
        self.keys = ServerKeys(paths)
        self._client = client
        self._own_client: httpx.AsyncClient | None = None
        self.lists = ModelLists()
        """Model lists (and health, with ``rehealth_s``) reused between statuses."""

    def client(self) -> httpx.AsyncClient:
        """The HTTP client probes use (the Node's, or one of its own when used alone)."""
        if self._client is None:
            self._client = self._own_client = probe_client()
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client if this supervisor made it (a Node closes its own)."""
        if self._own_client is not None:
            await self._own_client.aclose()
            self._client = self._own_client = None

    # -- planning: everything is checked before anything starts ---------------------------
    def plan(self, presets: Sequence[Preset], reserved: Sequence[int] = ()) -> list[LaunchPlan]:
        """Launch plans for ``presets``: runtimes ready, models present, ports free.

        Raises:
            PresetProblem, RuntimeProblem, PortInUse, ServerAlreadyRunning: nothing was started.
        """
        state = self.state.load()
        live = {n: r for n, r in state.servers.items() if self._alive(r)}
        taken = {r.port for r in live.values()} | set(reserved)
        if state.proxy is not None:
            taken.add(state.proxy.port)
        plans: list[LaunchPlan] = []
        key_names = {key_env(n): n for n in state.servers}
        for preset in presets:
            check_host(preset)
            runtime = get_runtime(preset.runtime, self.paths, self.settings)
            for i, name in enumerate(preset.instance_names()):
                other = key_names.setdefault(key_env(name), name)
                if other != name:
                    raise PresetProblem(
                        preset,
                        "name",
                        f"server {name} would share its key variable {key_env(name)} with "
                        f"server {other}; rename one of the presets",
                    )
                if name in live:
                    raise ServerAlreadyRunning(
                        f"server {name} is already running (pid {live[name].pid}, "
                        f"port {live[name].port})"
                    )
                if preset.port == "auto":
                    port = allocate(self.settings.port_base, preset.host, taken)[0]
                else:
                    port = preset.port + i
                    check_free(port, preset.host, f"preset {preset.name}, key port")
                taken.add(port)
                timeout = self.settings.startup_timeout
                plans.append(plan_launch(preset, runtime, self.paths, name, port, i, timeout))
        return plans

    # -- lifecycle ------------------------------------------------------------------------
    def launch(self, plan: LaunchPlan) -> ProcessRecord:
        """Start one planned server, with its key, and record it."""
        key = self.keys.lookup(plan.api_key_env) or self.keys.key(plan.name)
        source = self.keys.source(plan.api_key_env) or from_file(self.keys.file(plan.name))
        install_guard(self.paths)
        cpus = None
        if bound_cpus(plan.env) is not None:  # else nothing to narrow: no process scan
            others = [r.pid for n, r in self.state.load().servers.items() if n != plan.name]
            cpus = start_cpus(plan.env, busy_cpus(others))
        spawn = replace(
            plan,
            env={**plan.env, "VLLM_API_KEY": key},
            secrets_from={"VLLM_API_KEY": source},
            cwd=self.paths.ensure(plan.cwd),
            cpus=frozenset(cpus) if cpus else None,
            fields={
                "preset": plan.preset.name,
                "model": plan.model,
                "served_model_name": plan.served_model_name,
                "runtime": plan.preset.runtime,
                "default_params": plan.preset.default_params,
                "api_key_env": plan.api_key_env,
                "sleep_mode": plan.preset.sleep_mode,
                "dtype": plan.dtype.value,
                "dtype_reason": plan.dtype.reason,
                "startup_stall_timeout": (
                    self.settings.startup_stall_timeout
                    if plan.preset.startup_stall_timeout is None
                    else plan.preset.startup_stall_timeout
                ),
            },
        )
        server = ManagedProcess.start(self.paths, spawn)
        with self.state.update() as state:
            state.servers[plan.name] = server.record
        return server.record

    async def stop(self, name: str, keep: bool = False) -> bool:
        """Stop server ``name`` (SIGTERM, then SIGKILL after the grace period).

        Args:
            name: the server.
            keep: keep its row as ``stopped`` (the panel) instead of forgetting it (`down`).

        Returns:
            False if no such server was recorded.
        """
        record = self.state.load().servers.get(name)
        if record is None:
            return False
        await ManagedProcess(record).stop(self.settings.stop_grace_seconds, self.paths)
        with self.state.update() as state:
            if keep and name in state.servers:
                state.servers[name] = state.servers[name].model_copy(update={"desired": "stopped"})
            else:
                state.servers.pop(name, None)
        return True

    async def start_all(
        self,
        plans: Sequence[LaunchPlan],
        progress: Callable[[str], None],
        before_each: Callable[[LaunchPlan, Sequence[LaunchPlan]], Awaitable[None]] | None = None,
    ) -> list[ServerStatus]:
        """Launch ``plans`` in order, then wait until every one is ready: the one start path.

        ``before_each(plan, launched_so_far)`` runs before each launch (the node waits there
        for GPU neighbours to load). Whatever goes wrong, a server that does not become ready,
        a launch that raises or a cancellation, every server this call launched is stopped.

        Raises:
            StartFailed: naming each server that is not ready, its status and reason.
        """
        launched: list[LaunchPlan] = []
        try:
            for plan in plans:
                if before_each is not None:
                    await before_each(plan, launched)
                record = self.launch(plan)
                launched.append(plan)
                progress(
                    f"{record.name}: starting {plan.model} on port {record.port} "
                    f"(pid {record.pid}, log {record.log_path})"
                )
            if not launched:
                return []
            statuses = await self.wait_ready(
                [p.name for p in launched],
                max(p.startup_timeout for p in launched),
                on_status=lambda s: progress(said_status(s)),
                on_note=progress,
            )
            bad = [s for s in statuses if s.status != "ready"]
            if bad:
                raise StartFailed("; ".join(f"{s.name} {s.status}: {s.reason}" for s in bad))
            return statuses
        except BaseException:
            for plan in launched:
                await self.stop(plan.name)
            raise

    async def restart(self, name: str) -> ProcessRecord:
        """Stop ``name`` if running and start it again from its preset (same port if free)."""
        record = self.state.load().servers.get(name)
        if record is None or record.preset is None:
            raise NapthaError(f"no server named {name!r}")
        await self.stop(name, keep=True)
        preset = self.catalog.get(record.preset)
        names = preset.instance_names()
        instance = names.index(name) if name in names else 0
        runtime = get_runtime(preset.runtime, self.paths, self.settings)
        check_free(record.port, record.host, f"server {name}")
        return self.launch(plan_launch(preset, runtime, self.paths, name, record.port, instance))

    # -- observation ----------------------------------------------------------------------
    def _alive(self, record: ProcessRecord) -> bool:
        return ManagedProcess(record).alive

    async def status_of(self, record: ProcessRecord) -> ServerStatus:
        """Probe one recorded server (with its key: vLLM guards /v1/models with it)."""
        server = ManagedProcess(record)
        alive = server.alive
        seen = None
        if alive and record.kind == "ollama":  # the daemon: no /health, no one served model
            seen = await probe(self.client(), record.root_url, "/api/version")
        elif alive:
            key = self.keys.lookup(record.api_key_env)
            identity = (record.pid, record.create_time, record.served_model_name)
            url = record.root_url
            seen = await self.lists.probe(self.client(), url, identity, key=key)
            if seen.healthy and record.served_model_name not in seen.models:
                seen = Probe(
                    False,
                    seen.models,
                    f"/v1/models lists {list(seen.models)}, not {record.served_model_name!r}",
                )
        now = time.time()
        status, reason = server.judge(
            alive, seen.healthy if seen else None, seen.error if seen else None, now
        )
        if status == "ready" and record.sleep_mode and await self.is_sleeping(record):
            status, reason = "sleeping", f"asleep (level {record.sleeping or '?'})"
        if status == "ready" and record.ready_at is None:
            with self.state.update() as state:
                if record.name in state.servers:
                    state.servers[record.name].ready_at = now
        return ServerStatus(
            name=record.name,
            status=status,
            preset=record.preset,
            model=record.model,
            runtime=record.runtime,
            served_model_name=record.served_model_name,
            host=record.host,
            port=record.port,
            pid=record.pid if alive else None,
            uptime_s=now - record.started_at if alive else None,
            reason=reason,
            log_path=record.log_path,
            dtype=record.dtype,
            dtype_reason=record.dtype_reason,
        )

    async def statuses(self) -> list[ServerStatus]:
        """Every recorded server, probed concurrently, in name order."""
        records = sorted(self.state.load().servers.values(), key=lambda r: r.name)
        return list(await asyncio.gather(*(self.status_of(r) for r in records)))

    async def wait_ready(
        self,
        names: Sequence[str],
        timeout: float,
        on_status: Callable[[ServerStatus], None] | None = None,
        poll_s: float = 1.0,
        on_note: Callable[[str], None] | None = None,
    ) -> list[ServerStatus]:
        """Poll until every server in ``names`` is ready, or one crashed, or ``timeout``.

        A server still starting whose log has not grown for its ``startup_stall_timeout`` is
        restarted, once, and given ``timeout`` again; ``on_note`` is told why.
        """
        seen: dict[str, Status] = {}
        stall = StallWatch()
        deadline = time.monotonic() + timeout
        while True:
            current = [s for s in await self.statuses() if s.name in names]
            current.sort(key=lambda s: list(names).index(s.name))
            for s in current:
                if s.status == "starting" and s.name not in stall.restarted:
                    silent = stall.silent_s(s)
                    limit = self.state.load().servers[s.name].startup_stall_timeout
                    if limit and silent is not None and silent > limit:
                        stall.restarted.add(s.name)
                        await self.restart(s.name)
                        deadline = max(deadline, time.monotonic() + timeout)
                        if on_note is not None:
                            on_note(
                                f"{s.name}: no output for {silent:.0f} s while starting; restarted"
                            )
                if on_status is not None and seen.get(s.name) != s.status:
                    on_status(s)
                seen[s.name] = s.status
            ready = all(s.status == "ready" for s in current)
            if ready or any(s.status in ("crashed", "stopped") for s in current):
                return current
            if time.monotonic() > deadline:
                return current
            await asyncio.sleep(poll_s)
