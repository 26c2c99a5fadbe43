"""The node: model servers plus the one proxy in front of them (what `up`/`down` drive)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.ports import check_free
from naptha_tui.backends.presets import Preset
from naptha_tui.backends.runtimes import get_runtime
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.supervisor import ServerStatus, Supervisor
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

    def to_json(self) -> dict[str, Any]:
        """The `status --json` document."""
        return {
            "proxy": {
                **asdict(self.proxy),
                "key_file": str(self.proxy.key_file),
                "log_path": str(self.proxy.log_path) if self.proxy.log_path else None,
                "models": list(self.proxy.models),
            },
            "servers": [
                {**asdict(s), "log_path": str(s.log_path), "base_url": s.base_url}
                for s in self.servers
            ],
        }


class Node:
    """Start, stop and observe everything this node runs."""

    def __init__(self, paths: Paths, settings: Settings) -> None:
        self.paths = paths
        self.settings = settings
        self.supervisor = Supervisor(paths, settings)
        self.proxy = ProxyManager(paths, settings)
        self.catalog = self.supervisor.catalog

    async def aclose(self) -> None:
        """Release the HTTP client."""
        await self.supervisor.aclose()

    def deployments(self, statuses: Sequence[ServerStatus]) -> list[Deployment]:
        """The proxy's model list: every ready server."""
        return [
            Deployment(s.name, s.served_model_name or s.name, s.base_url)
            for s in statuses
            if s.status == "ready"
        ]

    async def status(self) -> NodeStatus:
        """Probe every server and the proxy."""
        servers = await self.supervisor.statuses()
        proxy = await self.proxy.status(self.supervisor.client())
        return NodeStatus(servers, proxy)

    async def up(self, presets: Sequence[Preset], progress: Progress) -> NodeStatus:
        """Start ``presets`` (skipping servers already running), then the proxy; wait for both.

        Everything is checked first (presets, runtimes, models, ports, the proxy's runtime and
        port), so bad input starts nothing. If a server or the proxy then fails to become ready,
        what this call started is stopped and UpFailed names the reason.
        """
        running = {
            s.name for s in await self.supervisor.statuses() if s.status in ("starting", "ready")
        }
        todo = [p for p in presets if not set(p.instance_names()) <= running]
        for p in presets:
            if p not in todo:
                progress(f"{p.name}: already running")
        plans = self.supervisor.plan(todo, reserved=[self.settings.proxy.port])
        get_runtime(self.settings.proxy.runtime, self.paths, self.settings).require_ready()
        if not self.proxy.live()[1]:
            check_free(self.settings.proxy.port, self.settings.proxy.host, "settings proxy.port")
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
            all_servers = await self.supervisor.statuses()
            deployments = self.deployments(all_servers)
            _, restarted = await self.proxy.start(deployments)
            if restarted:
                progress(f"proxy: starting on {self.proxy.url}, {len(deployments)} deployment(s)")
            proxy = await self.proxy.wait_ready(
                self.supervisor.client(), [d.model_name for d in deployments]
            )
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
        state = self.supervisor.state.load()
        targets = list(names) or sorted(state.servers)
        unknown = [n for n in targets if n not in state.servers]
        if unknown:
            raise NapthaError(
                f"no server named {', '.join(unknown)} "
                f"(running: {', '.join(sorted(state.servers)) or 'none'})"
            )
        for name in targets:
            await self.supervisor.stop(name)
        if not names:
            if await self.proxy.stop():
                targets.append("proxy")
        elif self.proxy.live()[1]:
            await self.proxy.start(self.deployments(await self.supervisor.statuses()))
        return targets

    async def sync_proxy(self) -> None:
        """Re-render the running proxy's config from the ready servers (restart if it changed)."""
        if self.proxy.live()[1]:
            await self.proxy.start(self.deployments(await self.supervisor.statuses()))

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
