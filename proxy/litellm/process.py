"""The LiteLLM proxy process: master key, config file, start, graceful reload, readiness, stop.

LiteLLM runs under gunicorn (``--run_gunicorn``). A changed model list is applied with SIGHUP:
gunicorn forks new workers that read the new config and lets the old ones finish their
requests, on the same listening socket. LiteLLM's model admin API (/model/new, /model/delete)
needs a database (it answers 500 "No DB Connected" without one), and a stop-and-start closes
the port for the 6-7 s LiteLLM takes to boot, failing every request sent meanwhile.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import psutil

from naptha_tui.backends.commandlog import (
    CommandLog,
    from_env,
    from_file,
    outcome_of,
    signal_line,
)
from naptha_tui.backends.errors import NapthaError
from naptha_tui.backends.files import atomic_write, same_text
from naptha_tui.backends.paths import Paths
from naptha_tui.backends.runtimes.runtime import get_runtime
from naptha_tui.backends.servers.health import ModelLists
from naptha_tui.backends.servers.keys import ServerKeys, read_or_create_secret
from naptha_tui.backends.servers.managed import ManagedProcess, Spawn, poll_until, state_file
from naptha_tui.backends.servers.ports import check_free, is_loopback
from naptha_tui.backends.settings import Settings
from naptha_tui.backends.state import ProcessRecord, StateFile
from naptha_tui.proxy.litellm.auth import KEYS_DIR_ENV
from naptha_tui.proxy.litellm.config import (
    AUTH_MODULE,
    HOOKS_MODULE,
    MASTER_KEY_ENV,
    Deployment,
    dump_config,
    render_config,
)

ProxyState = Literal["starting", "ready", "unhealthy", "crashed", "stopped"]
StartOutcome = Literal["started", "reloaded", "unchanged"]
FEED_ENV = "NAPTHA_ROUTES_FEED"  # read by hooks.py inside the proxy
# modules copied beside the rendered config: shipped file -> the name the config imports
RELOAD_SETTLE_S = 20.0
"""A config rewritten this recently may not be served yet by every worker: list its models."""
PROXY_MODULES = {"hooks.py": HOOKS_MODULE, "auth.py": AUTH_MODULE}


class ProxyProblem(NapthaError):
    """The proxy cannot be started as configured (the message says which setting)."""


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

    def __init__(self, paths: Paths, settings: Settings, state: StateFile | None = None) -> None:
        self.paths = paths
        self.node_settings = settings
        self.settings = settings.proxy
        self.grace_s = settings.stop_grace_seconds
        self.state = state or state_file(paths)
        self.dir = paths.state_dir / "proxy"
        self.lists = ModelLists()
        """The proxy's model list (and health, with ``rehealth_s``) reused between statuses."""

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
    def keys_stamp_file(self) -> Path:
        """The server-key files the running proxy's workers loaded (see ``ServerKeys.stamp``)."""
        return self.dir / "keys.stamp"

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
        self.paths.ensure(self.dir, private=True)
        return read_or_create_secret(self.key_file)

    def key_source(self) -> str:
        """Where the master key comes from, as the command log writes it (never the key)."""
        env = self.settings.master_key_env
        if env is not None and os.environ.get(env):
            return from_env(env)
        return from_file(self.key_file)

    def write_config(self, text: str) -> None:
        """Write a rendered config (0600, atomically)."""
        self.paths.ensure(self.dir, private=True)
        atomic_write(self.config_file, text)

    def install_hooks(self) -> None:
        """Copy the callback and auth modules beside the config, where LiteLLM imports them.

        A module LiteLLM cannot import stops every worker from booting, so this runs before
        every start and every reload.
        """
        self.paths.ensure(self.dir, private=True)
        package = importlib.resources.files("naptha_tui.proxy.litellm")
        for shipped, module in PROXY_MODULES.items():
            text = package.joinpath(shipped).read_text()
            target = self.dir / f"{module}.py"
            if not same_text(target, text):
                atomic_write(target, text)

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
        """The proxy's record, and whether that process is running."""
        record = self.state.load().proxy
        if record is None:
            return None, False
        return record, ManagedProcess(record).alive

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
        keys = ServerKeys(self.paths)
        if record is not None and alive and record.argv == argv:
            # a key file made again (deleted, say) changes no config line, but the workers
            # hold the old key until they reload
            if new_text == old_text and same_text(self.keys_stamp_file, keys.stamp()):
                return record, "unchanged"
            self.install_hooks()
            self.write_config(new_text)
            atomic_write(self.keys_stamp_file, keys.stamp())
            line = signal_line("HUP", [record.pid])
            action = f"reload proxy (config {self.config_file})"
            try:
                psutil.Process(record.pid).send_signal(signal.SIGHUP)
            except psutil.Error as exc:
                CommandLog(self.paths).record(action, "signal", line, outcome_of(exc), False)
                raise
            CommandLog(self.paths).record(
                action, "signal", line, "sent to the gunicorn master: new workers read the config"
            )
            return record, "reloaded"
        if record is not None and alive:
            await self.stop()
        check_free(self.settings.port, self.settings.host, "settings proxy.port")
        key = self.master_key()
        self.write_config(new_text)
        self.install_hooks()
        atomic_write(self.keys_stamp_file, keys.stamp())
        env = dict(os.environ)
        # each worker loads the servers' keys before it resolves the config's os.environ/
        # references, so a server started after the proxy is reached after a reload
        env[KEYS_DIR_ENV] = str(keys.dir)
        env["LITELLM_WORKER_STARTUP_HOOKS"] = f"{AUTH_MODULE}:load_backend_keys"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.dir), env.get("PYTHONPATH")]))
        env[MASTER_KEY_ENV] = key
        env[FEED_ENV] = str(self.feed_file)
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # else it fetches a cost map at start
        env.setdefault("LITELLM_TELEMETRY", "False")
        env.setdefault("LITELLM_LOG", "ERROR")  # per-request INFO lines cost latency
        proxy = ManagedProcess.start(
            self.paths,
            Spawn(
                name="proxy",
                kind="proxy",
                argv=argv,
                env=env,
                host=self.settings.host,
                port=self.settings.port,
                cwd=self.dir,
                startup_timeout=self.settings.startup_timeout,
                fields={"runtime": self.settings.runtime},
                secrets_from={MASTER_KEY_ENV: self.key_source()},
            ),
        )
        with self.state.update() as state:
            state.proxy = proxy.record
        return proxy.record, "started"

    async def stop(self) -> bool:
        """Stop the proxy; False if none was recorded."""
        record = self.state.load().proxy
        if record is None:
            return False
        await ManagedProcess(record).stop(self.grace_s, self.paths)
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
        url = record.root_url
        seen = None
        if alive:
            # a reload takes the workers a few seconds: a config younger than that is re-listed
            changed = self.config_file.stat().st_mtime if self.config_file.exists() else 0.0
            settled = time.time() - changed > RELOAD_SETTLE_S
            identity = (record.pid, record.create_time, changed) if settled else object()
            seen = await self.lists.probe(
                client, url, identity, "/health/readiness", self.client_key()
            )
        state, reason = ManagedProcess(record).judge(
            alive, seen.healthy if seen else None, seen.error if seen else None, time.time()
        )
        if state == "down" or state == "sleeping":  # neither applies to the proxy
            state = "stopped"
        return ProxyStatus(
            url,
            state,
            record.pid if alive else None,
            self.key_file,
            seen.models if seen else (),
            reason,
            record.log_path,
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
        kicked_at = time.monotonic()

        async def poll() -> ProxyStatus:
            nonlocal kicked_at
            status = await self.status(client)
            if time.monotonic() - kicked_at > stuck_s:
                self.kick_workers(since=time.time() - (time.monotonic() - kicked_at))
                kicked_at = time.monotonic()
            return status

        def settled(status: ProxyStatus) -> bool:
            if status.status == "ready":
                return set(expect) <= set(status.models)
            return status.status in ("crashed", "stopped")

        return await poll_until(poll, settled, self.settings.startup_timeout, poll_s)

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
        if killed:
            CommandLog(self.paths).record(
                "restart proxy workers stuck booting",
                "signal",
                signal_line("KILL", killed),
                "gunicorn forks fresh ones",
            )
        return killed
