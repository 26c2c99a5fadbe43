"""The LiteLLM proxy process: master key, config file, start, readiness, stop."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from naptha_tui.backends import procs
from naptha_tui.backends.health import probe
from naptha_tui.backends.logs import death_reason
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.ports import check_free
from naptha_tui.backends.runtimes import get_runtime
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord, StateFile
from naptha_tui.proxy.config import MASTER_KEY_ENV, Deployment, dump_config, render_config

ProxyState = Literal["starting", "ready", "unhealthy", "crashed", "stopped"]


@dataclass(frozen=True)
class ProxyStatus:
    """The proxy as the panel and `status` show it."""

    url: str
    status: ProxyState
    pid: int | None
    key_file: Path
    models: tuple[str, ...] = ()
    reason: str | None = None
    log_path: Path | None = None


class ProxyManager:
    """Owns the proxy's files under ``<state dir>/proxy/`` and its process."""

    def __init__(self, paths: Paths, settings: Settings) -> None:
        self.paths = paths
        self.node_settings = settings
        self.settings = settings.proxy
        self.grace_s = settings.stop_grace_seconds
        self.state = StateFile(paths.state_file)
        self.dir = paths.state_dir / "proxy"

    @property
    def key_file(self) -> Path:
        """The master key, mode 0600; clients read it to call the proxy."""
        return self.dir / "master.key"

    @property
    def config_file(self) -> Path:
        """The rendered LiteLLM config."""
        return self.dir / "litellm.yaml"

    @property
    def url(self) -> str:
        """The endpoint agents use."""
        return f"http://{self.settings.host}:{self.settings.port}"

    def master_key(self) -> str:
        """The node's master key, generated once (``sk-`` + 32 random bytes)."""
        try:
            return self.key_file.read_text().strip()
        except FileNotFoundError:
            pass
        self.paths.ensure(self.dir, private=True)
        key = "sk-" + secrets.token_urlsafe(32)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        return key

    def write_config(self, text: str) -> None:
        """Write a rendered config (0600, atomically)."""
        self.paths.ensure(self.dir, private=True)
        tmp = self.config_file.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        tmp.replace(self.config_file)

    def live(self) -> tuple[ProcessRecord | None, bool]:
        record = self.state.load().proxy
        if record is None:
            return None, False
        return record, procs.find_ours(record.pid, record.create_time, record.argv) is not None

    async def start(self, deployments: Sequence[Deployment]) -> tuple[ProcessRecord, bool]:
        """Write the config and start litellm (restarting it if the config changed).

        Returns:
            The proxy's record, and False when it was already running with this config.

        Raises:
            RuntimeProblem: the proxy runtime is not installed.
            PortInUse: the proxy's port is taken by another program.
        """
        runtime = get_runtime(self.settings.runtime, self.paths, self.node_settings)
        runtime.require_ready()
        old_text = self.config_file.read_text() if self.config_file.exists() else None
        record, alive = self.live()
        new_text = dump_config(render_config(deployments))
        if record is not None and alive and new_text == old_text:
            return record, False
        if record is not None and alive:
            await self.stop()
        check_free(self.settings.port, self.settings.host, "settings proxy.port")
        key = self.master_key()
        self.write_config(new_text)
        argv = [
            str(runtime.bin("litellm")),
            "--config",
            str(self.config_file),
            "--host",
            self.settings.host,
            "--port",
            str(self.settings.port),
        ]
        env = dict(os.environ)
        env[MASTER_KEY_ENV] = key
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # else it fetches a cost map at start
        env.setdefault("LITELLM_TELEMETRY", "False")
        log_path = self.paths.ensure(self.paths.log_dir) / "proxy.log"
        if log_path.exists():
            log_path.replace(log_path.with_suffix(".log.1"))
        proc = procs.spawn(argv, log_path, env, self.dir)
        record = ProcessRecord(
            name="proxy",
            kind="proxy",
            pid=proc.pid,
            create_time=proc.create_time(),
            argv=argv,
            host=self.settings.host,
            port=self.settings.port,
            log_path=log_path,
            started_at=time.time(),
            runtime=self.settings.runtime,
            startup_timeout=self.settings.startup_timeout,
        )
        with self.state.update() as state:
            state.proxy = record
        return record, True

    async def stop(self) -> bool:
        """Stop the proxy; False if none was recorded."""
        record, _ = self.live()
        if record is None:
            return False
        proc = procs.find_ours(record.pid, record.create_time, record.argv)
        if proc is not None:
            await procs.terminate(proc, self.grace_s)
        with self.state.update() as state:
            state.proxy = None
        return True

    async def status(self, client: httpx.AsyncClient) -> ProxyStatus:
        """Probe the proxy."""
        record, alive = self.live()
        if record is None:
            return ProxyStatus(self.url, "stopped", None, self.key_file)
        url = f"http://{record.host}:{record.port}"
        if not alive:
            return ProxyStatus(
                url,
                "crashed",
                None,
                self.key_file,
                reason=death_reason(record.log_path),
                log_path=record.log_path,
            )
        key = self.key_file.read_text().strip() if self.key_file.exists() else None
        seen = await probe(client, url, "/health/readiness", key)
        if seen.healthy:
            state: ProxyState = "ready"
        elif time.time() - record.started_at < record.startup_timeout:
            state = "starting"
        else:
            state = "unhealthy"
        return ProxyStatus(
            url, state, record.pid, self.key_file, seen.models, seen.error, record.log_path
        )

    async def wait_ready(
        self, client: httpx.AsyncClient, expect: Sequence[str] = (), poll_s: float = 0.5
    ) -> ProxyStatus:
        """Poll until ready and listing ``expect``, crashed, or the startup timeout."""
        deadline = time.monotonic() + self.settings.startup_timeout
        while True:
            status = await self.status(client)
            if status.status == "ready" and set(expect) <= set(status.models):
                return status
            if status.status in ("crashed", "stopped") or time.monotonic() > deadline:
                return status
            await asyncio.sleep(poll_s)
