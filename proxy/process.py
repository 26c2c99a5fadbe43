"""The LiteLLM proxy process: master key, config file, start, graceful reload, readiness, stop.

LiteLLM runs under gunicorn (``--run_gunicorn``). A changed model list is applied with SIGHUP:
gunicorn forks new workers that read the new config and lets the old ones finish their
requests, on the same listening socket. LiteLLM's model admin API (/model/new, /model/delete)
needs a database (it answers 500 "No DB Connected" without one), and a stop-and-start closes
the port for the 6-7 s LiteLLM takes to boot, failing every request sent meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import ipaddress
import os
import secrets
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import psutil

from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.runtime import get_runtime
from naptha_tui.backends.servers import procs
from naptha_tui.backends.servers.health import probe
from naptha_tui.backends.servers.logs import death_reason
from naptha_tui.backends.servers.ports import check_free
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord, StateFile
from naptha_tui.proxy.config import (
    HOOKS_MODULE,
    MASTER_KEY_ENV,
    Deployment,
    dump_config,
    render_config,
)

ProxyState = Literal["starting", "ready", "unhealthy", "crashed", "stopped"]
StartOutcome = Literal["started", "reloaded", "unchanged"]
FEED_ENV = "NAPTHA_ROUTES_FEED"  # read by litellm_hooks.py inside the proxy


class ProxyProblem(NapthaError):
    """The proxy cannot be started as configured (the message says which setting)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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

    @property
    def feed_file(self) -> Path:
        """The routing feed the callback appends to (JSON lines)."""
        return self.dir / "routes.jsonl"

    def check_bind(self) -> None:
        """Refuse a non-loopback address unless the operator set a master key.

        Raises:
            ProxyProblem: naming the setting to change.
        """
        host = self.settings.host
        if is_loopback(host):
            return
        env = self.settings.master_key_env
        if env is None:
            raise ProxyProblem(
                f"settings proxy.host: {host} is not a loopback address; refusing to expose the "
                "proxy without a master key you chose. Set proxy.master_key_env to the name of "
                "an environment variable holding it (sk-...), or bind 127.0.0.1"
            )
        if not os.environ.get(env, "").startswith("sk-"):
            raise ProxyProblem(
                f"settings proxy.master_key_env: environment variable {env} is unset or does not "
                f"start with 'sk-'; the proxy will not bind {host} without it"
            )

    def master_key(self) -> str:
        """The master key.

        From ``proxy.master_key_env`` when set, else generated once into the 0600 key file
        (``sk-`` + 32 random bytes).
        """
        env = self.settings.master_key_env
        if env is not None and os.environ.get(env):
            return os.environ[env]
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

    def install_hooks(self) -> None:
        """Copy the callback module beside the config, where LiteLLM looks for it."""
        source = importlib.resources.files("naptha_tui.proxy").joinpath("litellm_hooks.py")
        target = self.dir / f"{HOOKS_MODULE}.py"
        text = source.read_text()
        if not target.exists() or target.read_text() != text:
            tmp = target.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(target)

    def argv(self, runtime_bin: Path) -> list[str]:
        """The proxy's command line."""
        return [
            str(runtime_bin),
            "--config",
            str(self.config_file),
            "--host",
            self.settings.host,
            "--port",
            str(self.settings.port),
            "--run_gunicorn",  # SIGHUP reloads the config without closing the port
            "--num_workers",
            str(self.settings.workers),
        ]

    def render(self, deployments: Sequence[Deployment]) -> str:
        """The config text for ``deployments`` (what `proxy render` prints)."""
        return dump_config(render_config(deployments, self.settings, hooks=True))

    def live(self) -> tuple[ProcessRecord | None, bool]:
        record = self.state.load().proxy
        if record is None:
            return None, False
        return record, procs.find_ours(record.pid, record.create_time, record.argv) is not None

    async def start(self, deployments: Sequence[Deployment]) -> tuple[ProcessRecord, StartOutcome]:
        """Write the config and start litellm, or reload a running one whose config changed.

        Returns:
            The proxy's record and what happened: ``started`` (a new process), ``reloaded``
            (SIGHUP: new workers on the same socket, in-flight requests finish), ``unchanged``.

        Raises:
            RuntimeProblem: the proxy runtime is not installed.
            PortInUse: the proxy's port is taken by another program.
            ProxyProblem: a non-loopback address without a master key.
        """
        self.check_bind()
        runtime = get_runtime(self.settings.runtime, self.paths, self.node_settings)
        runtime.require_ready()
        argv = self.argv(runtime.bin("litellm"))
        old_text = self.config_file.read_text() if self.config_file.exists() else None
        record, alive = self.live()
        new_text = self.render(deployments)
        if record is not None and alive and record.argv == argv:
            if new_text == old_text:
                return record, "unchanged"
            self.install_hooks()
            self.write_config(new_text)
            psutil.Process(record.pid).send_signal(signal.SIGHUP)
            return record, "reloaded"
        if record is not None and alive:
            await self.stop()
        check_free(self.settings.port, self.settings.host, "settings proxy.port")
        key = self.master_key()
        self.write_config(new_text)
        self.install_hooks()
        env = dict(os.environ)
        env[MASTER_KEY_ENV] = key
        env[FEED_ENV] = str(self.feed_file)
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # else it fetches a cost map at start
        env.setdefault("LITELLM_TELEMETRY", "False")
        env.setdefault("LITELLM_LOG", "ERROR")  # per-request INFO lines cost latency
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
        return record, "started"

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

    def client_key(self) -> str | None:
        """The key clients (and the panel's probes) send; None before the first start."""
        env = self.settings.master_key_env
        if env is not None and os.environ.get(env):
            return os.environ[env]
        return self.key_file.read_text().strip() if self.key_file.exists() else None

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
        key = self.client_key()
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
        self,
        client: httpx.AsyncClient,
        expect: Sequence[str] = (),
        poll_s: float = 0.5,
        stuck_s: float = 30.0,
    ) -> ProxyStatus:
        """Poll until ready and listing ``expect``, crashed, or the startup timeout.

        A gunicorn worker that has not finished booting after ``stuck_s`` (LiteLLM needs 6-7 s
        here) is killed so that the master forks a fresh one: now and then a worker forked from
        LiteLLM's preloaded master hangs in its startup for good (seen in about 1 start in 5 on
        this machine, after "Proxy initialized with Config").
        """
        started = time.monotonic()
        deadline = started + self.settings.startup_timeout
        kicked_at = started
        while True:
            status = await self.status(client)
            if status.status == "ready" and set(expect) <= set(status.models):
                return status
            if status.status in ("crashed", "stopped") or time.monotonic() > deadline:
                return status
            if time.monotonic() - kicked_at > stuck_s:
                self.kick_workers(since=time.time() - (time.monotonic() - kicked_at))
                kicked_at = time.monotonic()
            await asyncio.sleep(poll_s)

    def kick_workers(self, since: float) -> list[int]:
        """SIGKILL the proxy's workers forked after ``since`` (gunicorn replaces them)."""
        record, alive = self.live()
        if record is None or not alive:
            return []
        killed = []
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(record.pid).children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    if child.create_time() >= since - 1:
                        child.kill()
                        killed.append(child.pid)
        return killed
