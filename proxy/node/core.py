"""The node: model servers plus the one proxy in front of them (what `up`/`down` drive)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from naptha_tui.backends.endpoints import Access, Target
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.presets import Preset
from naptha_tui.backends.runtimes.runtime import get_runtime
from naptha_tui.backends.servers.managed import state_file
from naptha_tui.backends.servers.ports import check_free
from naptha_tui.backends.servers.remote import fetch_metrics, metric_totals
from naptha_tui.backends.servers.status import ServerStatus, probe_client
from naptha_tui.backends.servers.supervisor import StartFailed, Supervisor
from naptha_tui.backends.servers.verdict import Verdict
from naptha_tui.backends.servers.vllm import LaunchPlan
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord, RemoteRecord
from naptha_tui.proxy.litellm.config import Deployment
from naptha_tui.proxy.litellm.process import ProxyManager
from naptha_tui.proxy.node.memory import check_plans, gpu_neighbours, verdict
from naptha_tui.proxy.node.observe import GpuSource, NodeStatus, Observation, Observer
from naptha_tui.proxy.node.remotes import (
    add_remotes,
    ollama_deployments,
    remote_deployments,
    remote_status,
)
from naptha_tui.proxy.node.swap import (
    SwapChoice,
    SwapReport,
    arrange_choices,
    swap,
    why_not_here,
)
from naptha_tui.proxy.node.targets import bench_access, playground_target

Progress = Callable[[str], None]


class UpFailed(NapthaError):
    """Servers or the proxy did not become ready; what this call started was stopped again."""


class Node:
    """Start, stop and observe everything this node runs; ``async with Node(...) as node``."""

    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        gpu: GpuSource | None = None,
        idle_scrape_s: float = 0.0,
    ) -> None:
        """The node at ``paths``.

        Args:
            paths: its folders.
            settings: the panel's settings.
            gpu: the GPU reader (the panel shares its own).
            idle_scrape_s: how often an idle server's /metrics is read, and a healthy
                server's (and the proxy's) health endpoint asked (0: at every status; the
                panel, polling every second, asks every few seconds; processes are checked at
                every status either way).
        """
        self.paths = paths
        self.settings = settings
        self.client = probe_client()
        """The node's one HTTP client (probes, metrics); closed by :meth:`aclose`."""
        self.state = state_file(paths)
        self.supervisor = Supervisor(paths, settings, self.client, self.state)
        self.proxy = ProxyManager(paths, settings, self.state)
        self.catalog = self.supervisor.catalog
        self.supervisor.lists.rehealth_s = self.proxy.lists.rehealth_s = idle_scrape_s
        self.observer = Observer(
            self.client, self.supervisor.keys, gpu, idle_scrape_s=idle_scrape_s
        )
        """Memory per server, GPUs, host and the /metrics window (kept between calls)."""

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
            record.api_url,
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
            if s.name in state.servers
            and state.servers[s.name].kind == "vllm"
            and (s.status == "ready" or s.name in also)
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
                    plan.api_url,
                    api_key_env=plan.api_key_env,
                    params=plan.preset.default_params,
                )
            )
        for p in presets:
            if p.kind == "remote" and p.name not in {d.id.split("/")[0] for d in out}:
                out += remote_deployments(
                    p.name, p.models, p.base_url or "", p.api_key_env, p.default_params
                )
        return out + await ollama_deployments(self.settings.ollama)

    async def observe(self, statuses: Sequence[ServerStatus] | None = None) -> Observation:
        """The local servers with their memory and metrics, the GPUs and the host."""
        if statuses is None:
            statuses = await self.supervisor.statuses()
        return await self.observer.observe(statuses, self.state.load().servers)

    async def status(self) -> NodeStatus:
        """Probe every server, remote node and the proxy; memory and metrics included."""
        remotes = sorted(self.state.load().remotes.values(), key=lambda r: r.name)
        servers, remote, proxy = await asyncio.gather(
            self.supervisor.statuses(),
            asyncio.gather(*(self.remote_status(r) for r in remotes)),
            self.proxy.status(self.client),
        )
        seen = await self.observe(servers)
        return NodeStatus(
            [*seen.servers, *remote],
            proxy,
            tuple(self.state.warnings),
            seen.gpus,
            seen.host,
            seen.models,
        )

    async def check_memory(self, plans: Sequence[LaunchPlan], progress: Progress) -> None:
        """Refuse plans that will not fit (``memory.check_plans``), before anything starts."""
        if plans:
            check_plans(plans, self.paths, await self.observe(), progress)

    async def remote_status(self, record: RemoteRecord) -> ServerStatus:
        """Probe a remote node (its /models, and /metrics when it is vLLM)."""
        return await remote_status(self.client, self.supervisor.keys, record, self.observer.watch)

    def add_remotes(self, presets: Sequence[Preset], progress: Progress) -> None:
        """Record ``kind: remote`` presets (nothing starts; the proxy picks them up)."""
        add_remotes(self.state, presets, progress)

    async def swap_choices(self, running: str) -> list[SwapChoice]:
        """What the swap modal offers for ``running``, best first.

        Presets that can start here come first, then the others with the reason they cannot
        (runtime, device, model).
        """
        record = self.state.load().servers.get(running)
        presets, _ = self.catalog.load_all()  # a bad file is reported where presets are listed
        gpus = await self.observer.gpu_read()
        blocked = {
            p.name: why
            for p in presets
            if (why := why_not_here(p, self.paths, self.settings, gpus)) is not None
        }
        return arrange_choices(presets, record.preset if record else None, blocked)

    async def swap_verdict(self, running: str, preset: str) -> Verdict:
        """Would ``preset`` fit once ``running`` is freed; the swap's confirmation shows it."""
        return verdict(self.catalog.get(preset), self.paths, await self.observe(), [running])

    async def swap(
        self, running: str, preset: str, progress: Progress, timeout: float | None = None
    ) -> SwapReport:
        """Replace server ``running`` with ``preset`` (see ``proxy/node/swap.py``)."""
        if timeout is None:
            return await swap(self, running, preset, progress)
        return await swap(self, running, preset, progress, timeout)

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
        await self.check_memory(plans, progress)
        self.add_remotes(remotes, progress)
        try:
            await self.supervisor.start_all(
                plans,
                progress,
                before_each=lambda plan, earlier: self._one_loader_per_gpu(plan, earlier, progress),
            )
        except StartFailed as exc:
            raise UpFailed(str(exc)) from exc
        try:
            deployments = await self.sync_proxy(start=True, progress=progress)
            proxy = await self.proxy.wait_ready(self.client, [d.model_name for d in deployments])
            if proxy.status != "ready":
                await self.proxy.stop()
                raise UpFailed(f"proxy {proxy.status}: {proxy.reason}")
            progress(f"proxy: ready at {proxy.url}/v1 (key in {proxy.key_file})")
        except BaseException:
            for plan in plans:
                await self.supervisor.stop(plan.name)
            raise
        return await self.status()

    async def _one_loader_per_gpu(
        self, plan: LaunchPlan, earlier: Sequence[LaunchPlan], progress: Progress
    ) -> None:
        """Wait until the earlier servers sharing a GPU with ``plan`` are ready (vLLM #55827)."""
        shared = gpu_neighbours(plan, earlier)
        if not shared:
            return
        progress(f"{plan.name}: waiting for {', '.join(shared)} to load first (shared GPU)")
        timeout = max(p.startup_timeout for p in earlier)
        statuses = await self.supervisor.wait_ready(shared, timeout, on_note=progress)
        bad = [s for s in statuses if s.status != "ready"]
        if bad:
            raise UpFailed("; ".join(f"{s.name} {s.status}: {s.reason}" for s in bad))

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
        self,
        start: bool = False,
        progress: Progress | None = None,
        exclude: Collection[str] = (),
    ) -> list[Deployment]:
        """Re-render the proxy's config from the ready servers and reload it if it changed.

        Args:
            start: start the proxy if it is not running (`up`); otherwise only a running
                proxy is touched.
            progress: told when the proxy was started or reloaded.
            exclude: servers to leave out although ready (a swap takes its old server out
                before stopping it).

        Returns:
            The deployments the proxy now has.
        """
        statuses = [s for s in await self.supervisor.statuses() if s.name not in exclude]
        deployments = self.deployments(statuses) + await ollama_deployments(self.settings.ollama)
        if start or self.proxy.live()[1]:
            _, outcome = await self.proxy.start(deployments)
            if progress is not None and outcome != "unchanged":
                progress(f"proxy: {outcome} on {self.proxy.url}, {len(deployments)} deployment(s)")
        return deployments

    @property
    def feed_file(self) -> Path:
        """The proxy's routing feed (JSON lines; see ``proxy/litellm/routes.py``)."""
        return self.proxy.feed_file

    async def proxy_metrics(self) -> dict[str, float] | None:
        """LiteLLM's own Prometheus counters (``litellm_*``), or None when /metrics is absent."""
        record, alive = self.proxy.live()
        if record is None or not alive:
            return None
        url = record.root_url
        text = await fetch_metrics(self.client, url, self.proxy.client_key())
        return (metric_totals(text, "litellm_") or None) if text else None

    def playground_target(self) -> Target:
        """The proxy and what the node knows of each model, for the playground."""
        return playground_target(self.state.load(), self.catalog, self.supervisor.keys, self.proxy)

    def bench_access(self, server: str | None = None) -> Access:
        """Where a load test sends: the proxy, or one server directly (``--server``)."""
        return bench_access(self.state.load(), self.supervisor.keys, self.proxy, server)

    async def stop_server(self, name: str) -> None:
        """Stop one server, keep its row (``stopped``) and take it out of the proxy."""
        await self.supervisor.stop(name, keep=True)
        await self.sync_proxy()

    async def restart_server(self, name: str, progress: Progress | None = None) -> ServerStatus:
        """Restart one server, wait for it, then put it back into the proxy.

        ``progress`` hears when a start that stays silent is restarted (see ``wait_ready``).
        """
        record = await self.supervisor.restart(name)
        statuses = await self.supervisor.wait_ready(
            [record.name], record.startup_timeout, on_note=progress
        )
        await self.sync_proxy()
        return statuses[0]
