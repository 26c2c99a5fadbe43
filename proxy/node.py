"""The node: model servers plus the one proxy in front of them (what `up`/`down` drive)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.playground.run import ModelInfo, ServerAccess, Target
from naptha_tui.backends.presets import Preset
from naptha_tui.backends.runtimes.runtime import get_runtime
from naptha_tui.backends.servers.managed import state_file
from naptha_tui.backends.servers.ports import check_free
from naptha_tui.backends.servers.remote import metric_totals, probe_remote
from naptha_tui.backends.servers.supervisor import ServerStatus, Supervisor, probe_client
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord, RemoteRecord
from naptha_tui.proxy.config import Deployment
from naptha_tui.proxy.process import ProxyManager, ProxyStatus

Progress = Callable[[str], None]


class UpFailed(NapthaError):
    """Servers or the proxy did not become ready; what this call started was stopped again."""


@dataclass(frozen=True)
class NodeStatus:
    """Servers and proxy in one snapshot."""

    servers: list[ServerStatus]
    proxy: ProxyStatus
    warnings: tuple[str, ...] = ()
    """Things the operator must hear about (an unreadable state file, re-adopted servers)."""

    def to_json(self) -> dict[str, Any]:
        """The `status --json` document."""
        return {
            "warnings": list(self.warnings),
            "proxy": {
                **asdict(self.proxy),
                "key_file": str(self.proxy.key_file),
                "log_path": str(self.proxy.log_path) if self.proxy.log_path else None,
                "models": list(self.proxy.models),
            },
            "servers": [
                {
                    **asdict(s),
                    "log_path": str(s.log_path) if s.log_path else None,
                    "base_url": s.base_url,
                }
                for s in self.servers
            ],
        }


def remote_deployments(
    name: str,
    models: Sequence[str],
    base_url: str,
    api_key_env: str | None,
    params: dict[str, Any],
) -> list[Deployment]:
    """One deployment per model a remote node serves (id ``NAME`` or ``NAME/MODEL``)."""
    return [
        Deployment(
            name if len(models) == 1 else f"{name}/{model}",
            model,
            base_url,
            api_key_env=api_key_env,
            params=params,
        )
        for model in models
    ]


class Node:
    """Start, stop and observe everything this node runs; ``async with Node(...) as node``."""

    def __init__(self, paths: Paths, settings: Settings) -> None:
        self.paths = paths
        self.settings = settings
        self.client = probe_client()
        """The node's one HTTP client (probes, metrics); closed by :meth:`aclose`."""
        self.state = state_file(paths)
        self.supervisor = Supervisor(paths, settings, self.client, self.state)
        self.proxy = ProxyManager(paths, settings, self.state)
        self.catalog = self.supervisor.catalog

    async def aclose(self) -> None:
        """Release the HTTP client."""
        await self.client.aclose()

    async def __aenter__(self) -> Node:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _server_deployment(self, record: ProcessRecord) -> Deployment:
        return Deployment(
            record.name,
            record.served_model_name or record.name,
            f"http://{record.host}:{record.port}/v1",
            api_key_env=record.api_key_env,
            params=record.default_params,
        )

    def deployments(
        self, statuses: Sequence[ServerStatus], also: Collection[str] = ()
    ) -> list[Deployment]:
        """The proxy's model list: every ready local server, and every remote node's models.

        Args:
            statuses: the servers as last probed.
            also: names of servers to include while not ready yet (``proxy render`` shows
                the servers `up` is starting).

        Remote nodes stay in the list while down: LiteLLM's retries and cooldown route around
        them, and they come back without a reload.
        """
        state = self.state.load()
        out = [
            self._server_deployment(state.servers[s.name])
            for s in statuses
            if s.name in state.servers and (s.status == "ready" or s.name in also)
        ]
        for r in state.remotes.values():
            out += remote_deployments(r.name, r.models, r.base_url, r.api_key_env, r.default_params)
        return out

    async def _todo(self, presets: Sequence[Preset]) -> tuple[list[Preset], list[ServerStatus]]:
        """The local presets with an instance not running yet, and the servers as probed."""
        statuses = await self.supervisor.statuses()
        running = {s.name for s in statuses if s.status in ("starting", "ready")}
        local = [p for p in presets if p.kind != "remote"]
        return [p for p in local if not set(p.instance_names()) <= running], statuses

    async def planned_deployments(self, presets: Sequence[Preset]) -> list[Deployment]:
        """The deployments `up presets` would give the proxy, without starting anything.

        Raises:
            PresetProblem, RuntimeProblem, PortInUse: as `up` would, before starting.
        """
        todo, statuses = await self._todo(presets)
        starting = {s.name for s in statuses if s.status == "starting"}
        out = self.deployments(statuses, also=starting)  # ready by the time `up` renders
        for plan in self.supervisor.plan(todo, reserved=[self.settings.proxy.port]):
            out.append(
                Deployment(
                    plan.name,
                    plan.served_model_name,
                    f"http://{plan.host}:{plan.port}/v1",
                    api_key_env=plan.api_key_env,
                    params=plan.preset.default_params,
                )
            )
        for p in presets:
            if p.kind == "remote" and p.name not in {d.id.split("/")[0] for d in out}:
                out += remote_deployments(
                    p.name, p.models, p.base_url or "", p.api_key_env, p.default_params
                )
        return out

    async def remote_status(self, record: RemoteRecord) -> ServerStatus:
        """Probe a remote node (its /models, and /metrics when it is vLLM)."""
        key = self.supervisor.keys.lookup(record.api_key_env)
        seen = await probe_remote(self.client, record.base_url, record.api_key_env, key)
        missing = [m for m in record.models if m not in seen.models]
        reason = seen.error or (f"does not list {', '.join(missing)}" if missing else None)
        return ServerStatus(
            name=record.name,
            status="ready" if seen.healthy and not missing else "down",
            preset=record.preset,
            model=", ".join(record.models),
            runtime="remote",
            served_model_name=", ".join(record.models),
            host="",
            port=0,
            pid=None,
            uptime_s=time.time() - record.added_at,
            reason=reason,
            log_path=None,
            url=record.base_url,
            metrics=seen.metrics,
        )

    async def status(self) -> NodeStatus:
        """Probe every server, remote node and the proxy."""
        remotes = sorted(self.state.load().remotes.values(), key=lambda r: r.name)
        servers, remote, proxy = await asyncio.gather(
            self.supervisor.statuses(),
            asyncio.gather(*(self.remote_status(r) for r in remotes)),
            self.proxy.status(self.client),
        )
        return NodeStatus([*servers, *remote], proxy, tuple(self.state.warnings))

    def add_remotes(self, presets: Sequence[Preset], progress: Progress) -> None:
        """Record ``kind: remote`` presets (nothing starts; the proxy picks them up)."""
        with self.state.update() as state:
            for p in presets:
                if p.name in state.servers:
                    raise NapthaError(f"remote preset {p.name}: a local server has that name")
                record = RemoteRecord(
                    name=p.name,
                    preset=p.name,
                    base_url=p.base_url or "",
                    models=list(p.models),
                    api_key_env=p.api_key_env,
                    default_params=p.default_params,
                    added_at=time.time(),
                )
                old = state.remotes.get(p.name)
                if old is not None and old.model_copy(update={"added_at": 0}) == (
                    record.model_copy(update={"added_at": 0})
                ):
                    progress(f"{p.name}: already added")
                    continue
                state.remotes[p.name] = record
                progress(f"{p.name}: remote {p.base_url} ({', '.join(p.models)})")

    async def up(self, presets: Sequence[Preset], progress: Progress) -> NodeStatus:
        """Start ``presets`` (skipping servers already running), then the proxy; wait for both.

        Everything is checked first (presets, runtimes, models, ports, the proxy's runtime and
        port), so bad input starts nothing. If a server or the proxy then fails to become ready,
        what this call started is stopped and UpFailed names the reason.
        """
        remotes = [p for p in presets if p.kind == "remote"]
        todo, _ = await self._todo(presets)
        for p in presets:
            if p.kind != "remote" and p not in todo:
                progress(f"{p.name}: already running")
        plans = self.supervisor.plan(todo, reserved=[self.settings.proxy.port])
        get_runtime(self.settings.proxy.runtime, self.paths, self.settings).require_ready()
        self.proxy.check_bind()
        if not self.proxy.live()[1]:
            check_free(self.settings.proxy.port, self.settings.proxy.host, "settings proxy.port")
        self.add_remotes(remotes, progress)
        started: list[str] = []
        try:
            for plan in plans:
                record = self.supervisor.launch(plan)
                started.append(record.name)
                progress(
                    f"{record.name}: starting {plan.model} on port {record.port} "
                    f"(pid {record.pid}, log {record.log_path})"
                )
            if started:
                statuses = await self.supervisor.wait_ready(
                    started,
                    max(p.preset.startup_timeout or self.settings.startup_timeout for p in plans),
                    on_status=lambda s: progress(
                        f"{s.name}: {s.status}"
                        + (
                            f" ({s.reason})"
                            if s.reason and s.status in ("crashed", "unhealthy")
                            else ""
                        )
                    ),
                )
                bad = [s for s in statuses if s.status != "ready"]
                if bad:
                    raise UpFailed("; ".join(f"{s.name} {s.status}: {s.reason}" for s in bad))
            deployments = await self.sync_proxy(start=True, progress=progress)
            proxy = await self.proxy.wait_ready(self.client, [d.model_name for d in deployments])
            if proxy.status != "ready":
                await self.proxy.stop()
                raise UpFailed(f"proxy {proxy.status}: {proxy.reason}")
            progress(f"proxy: ready at {proxy.url}/v1 (key in {proxy.key_file})")
        except BaseException:
            for name in started:
                await self.supervisor.stop(name)
            raise
        return await self.status()

    async def down(self, names: Sequence[str] = ()) -> list[str]:
        """Stop the named servers, or everything (servers and proxy) when none are named.

        After a partial stop the proxy is re-rendered without the stopped servers.
        Returns the names stopped.
        """
        state = self.state.load()
        known = sorted({*state.servers, *state.remotes})
        targets = list(names) or known
        unknown = [n for n in targets if n not in known]
        if unknown:
            raise NapthaError(
                f"no server named {', '.join(unknown)} (running: {', '.join(known) or 'none'})"
            )
        for name in targets:
            if name in state.remotes:
                with self.state.update() as current:
                    current.remotes.pop(name, None)
            else:
                await self.supervisor.stop(name)
        if not names:
            if await self.proxy.stop():
                targets.append("proxy")
        else:
            await self.sync_proxy()
        return targets

    async def sync_proxy(
        self, start: bool = False, progress: Progress | None = None
    ) -> list[Deployment]:
        """Re-render the proxy's config from the ready servers and reload it if it changed.

        Args:
            start: start the proxy if it is not running (`up`); otherwise only a running
                proxy is touched.
            progress: told when the proxy was started or reloaded.

        Returns:
            The deployments the proxy now has.
        """
        deployments = self.deployments(await self.supervisor.statuses())
        if start or self.proxy.live()[1]:
            _, outcome = await self.proxy.start(deployments)
            if progress is not None and outcome != "unchanged":
                progress(f"proxy: {outcome} on {self.proxy.url}, {len(deployments)} deployment(s)")
        return deployments

    @property
    def feed_file(self) -> Path:
        """The proxy's routing feed (JSON lines; see ``proxy/routes.py``)."""
        return self.proxy.feed_file

    async def proxy_metrics(self) -> dict[str, float] | None:
        """LiteLLM's own Prometheus counters (``litellm_*``), or None when /metrics is absent."""
        record, alive = self.proxy.live()
        if record is None or not alive:
            return None
        key = self.proxy.client_key()
        try:
            got = await self.client.get(
                f"http://{record.host}:{record.port}/metrics",
                headers={"Authorization": f"Bearer {key}"} if key else {},
            )
        except httpx.HTTPError:
            return None
        if got.status_code != 200:
            return None
        return metric_totals(got.text, "litellm_") or None

    def playground_target(self) -> Target:
        """The proxy and what the node knows of each model, for the playground.

        A model the node runs itself gets one of its servers (for ``/tokenize`` and exact raw
        text via ``/detokenize``), its preset's tool parser and tool-calling notes.
        """
        models: dict[str, ModelInfo] = {}
        state = self.state.load()
        for record in state.servers.values():
            served = record.served_model_name or record.name
            if served in models or record.desired != "running":
                continue
            preset = None
            if record.preset:
                try:
                    preset = self.catalog.get(record.preset)
                except NapthaError:
                    preset = None
            models[served] = ModelInfo(
                server=ServerAccess(
                    f"http://{record.host}:{record.port}",
                    self.supervisor.keys.lookup(record.api_key_env),
                    served,
                ),
                preset=record.preset,
                parser=preset.tool_call_parser if preset else None,
                caps=preset.tools if preset else None,
            )
        for r in state.remotes.values():
            try:
                preset = self.catalog.get(r.preset) if r.preset else None
            except NapthaError:
                preset = None
            for m in r.models:
                models.setdefault(
                    m,
                    ModelInfo(
                        preset=r.preset,
                        parser=preset.tool_call_parser if preset else None,
                        caps=preset.tools if preset else None,
                    ),
                )
        return Target(
            self.proxy.url,
            self.proxy.client_key() or "",
            str(self.proxy.key_file),
            models,
        )

    async def stop_server(self, name: str) -> None:
        """Stop one server, keep its row (``stopped``) and take it out of the proxy."""
        await self.supervisor.stop(name, keep=True)
        await self.sync_proxy()

    async def restart_server(self, name: str) -> ServerStatus:
        """Restart one server, wait for it, then put it back into the proxy."""
        record = await self.supervisor.restart(name)
        statuses = await self.supervisor.wait_ready([record.name], record.startup_timeout)
        await self.sync_proxy()
        return statuses[0]
